#include "mithril/core/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace mithril {
namespace {

int default_threads() {
  if (const char* env = std::getenv("MITHRIL_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

// Workers sleep on a condition variable between jobs; the caller runs chunk 0 itself.
class Pool {
 public:
  explicit Pool(int n) { resize(n); }
  ~Pool() { stop(); }

  int size() const { return size_; }

  void resize(int n) {
    stop();
    size_ = std::max(1, n);
    quit_ = false;
    // New workers start at the current generation: a job that ran before the resize is finished.
    for (int i = 1; i < size_; ++i) workers_.emplace_back([this, i, seen = generation_] { loop(i, seen); });
  }

  void run(int64_t chunks, const std::function<void(int64_t)>& task) {
    std::unique_lock lock(run_mutex_);  // one parallel region at a time
    {
      std::lock_guard g(m_);
      task_ = &task;
      chunks_ = chunks;
      pending_ = static_cast<int>(chunks) - 1;
      error_ = nullptr;
      ++generation_;
    }
    cv_.notify_all();
    try {
      task(0);
    } catch (...) {
      std::lock_guard g(m_);
      if (!error_) error_ = std::current_exception();
    }
    std::unique_lock g(m_);
    done_cv_.wait(g, [&] { return pending_ == 0; });
    task_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void loop(int id, uint64_t seen) {
    for (;;) {
      const std::function<void(int64_t)>* task;
      {
        std::unique_lock g(m_);
        cv_.wait(g, [&] { return quit_ || generation_ != seen; });
        if (quit_) return;
        seen = generation_;
        if (id >= chunks_) continue;
        task = task_;
      }
      try {
        (*task)(id);
      } catch (...) {
        std::lock_guard g(m_);
        if (!error_) error_ = std::current_exception();
      }
      std::lock_guard g(m_);
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }

  void stop() {
    {
      std::lock_guard g(m_);
      quit_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  int size_ = 1;
  std::vector<std::thread> workers_;
  std::mutex run_mutex_, m_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int64_t)>* task_ = nullptr;
  int64_t chunks_ = 0;
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool quit_ = false;
  std::exception_ptr error_;
};

Pool& pool() {
  static Pool p(default_threads());
  return p;
}

thread_local bool t_inside_parallel = false;

}  // namespace

int num_threads() { return pool().size(); }
void set_num_threads(int n) { pool().resize(n); }

int64_t num_chunks(int64_t n, int64_t grain) {
  if (n <= 0) return 0;
  const int64_t by_grain = (n + std::max<int64_t>(grain, 1) - 1) / std::max<int64_t>(grain, 1);
  return std::max<int64_t>(1, std::min<int64_t>(num_threads(), by_grain));
}

void parallel_for(int64_t begin, int64_t end, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  const int64_t n = end - begin;
  if (n <= 0) return;
  const int64_t chunks = t_inside_parallel ? 1 : num_chunks(n, grain);
  if (chunks == 1) {
    fn(begin, end);
    return;
  }
  const int64_t per = n / chunks, extra = n % chunks;
  pool().run(chunks, [&](int64_t c) {
    const int64_t b = begin + c * per + std::min(c, extra);
    const int64_t e = b + per + (c < extra ? 1 : 0);
    t_inside_parallel = true;
    fn(b, e);
    t_inside_parallel = false;
  });
}

}  // namespace mithril
