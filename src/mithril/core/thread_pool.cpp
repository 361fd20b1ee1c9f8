#include "mithril/core/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "mithril/core/env.h"

namespace mithril {
namespace {

int default_threads() {
  if (const auto n = env_int("MITHRIL_NUM_THREADS", 1, 1024)) return static_cast<int>(*n);
  return std::max(1u, std::thread::hardware_concurrency());
}

// Spin-then-sleep: after a job a worker polls for the next one for kSpin before sleeping on a
// condition variable, and the caller polls for the workers to finish before it sleeps. A graph
// runs parallel regions back to back, microseconds apart; waking a sleeping thread costs 30-50 us
// on these machines (measured: a 64K-element compare took 6 us on one thread and 47 us on two
// when every region woke a sleeping worker), so without the spin small regions lose more than
// they gain. The caller runs chunk 0 itself.
constexpr auto kSpin = std::chrono::microseconds(200);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Polls `done` until it holds or kSpin has passed; true when it holds. With more threads than
// cores a spinning thread would hold the core the awaited one needs, so then nothing spins.
template <typename Pred>
bool spin_until(Pred done, bool may_spin) {
  if (!may_spin) return done();
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() >= deadline) return done();
  }
}

class Pool {
 public:
  explicit Pool(int n) { resize(n); }
  ~Pool() { stop(); }

  int size() const { return size_; }

  void resize(int n) {
    stop();
    size_ = std::max(1, n);
    spin_ = static_cast<unsigned>(size_) <= std::max(1u, std::thread::hardware_concurrency());
    quit_ = false;
    // New workers start at the current generation: a job that ran before the resize is finished.
    for (int i = 1; i < size_; ++i)
      workers_.emplace_back([this, i, seen = generation_.load()] { loop(i, seen); });
  }

  void run(int64_t chunks, const std::function<void(int64_t)>& task) {
    std::unique_lock lock(run_mutex_);  // one parallel region at a time
    {
      std::lock_guard g(m_);
      task_ = &task;
      chunks_ = chunks;
      pending_.store(static_cast<int>(chunks) - 1);
      error_ = nullptr;
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    try {
      task(0);
    } catch (...) {
      std::lock_guard g(m_);
      if (!error_) error_ = std::current_exception();
    }
    if (!spin_until([&] { return pending_.load(std::memory_order_acquire) == 0; }, spin_)) {
      std::unique_lock g(m_);
      done_cv_.wait(g, [&] { return pending_.load(std::memory_order_acquire) == 0; });
    }
    std::lock_guard g(m_);
    task_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void loop(int id, uint64_t seen) {
    for (;;) {
      if (!spin_until([&] { return generation_.load(std::memory_order_acquire) != seen || quit_.load(); }, spin_)) {
        std::unique_lock g(m_);
        cv_.wait(g, [&] { return quit_.load() || generation_.load(std::memory_order_acquire) != seen; });
      }
      // The job is read under the lock, where run() wrote it, so generation, chunk count and
      // task always belong together.
      const std::function<void(int64_t)>* task;
      {
        std::lock_guard g(m_);
        if (quit_.load()) return;
        seen = generation_.load(std::memory_order_relaxed);
        if (id >= chunks_) continue;
        task = task_;
      }
      try {
        (*task)(id);
      } catch (...) {
        std::lock_guard g(m_);
        if (!error_) error_ = std::current_exception();
      }
      // The lock orders the decrement against a caller about to sleep on done_cv_.
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard g(m_);
        done_cv_.notify_one();
      }
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
  bool spin_ = true;
  std::vector<std::thread> workers_;
  std::mutex run_mutex_, m_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int64_t)>* task_ = nullptr;
  int64_t chunks_ = 0;
  std::atomic<int> pending_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> quit_{false};
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

namespace detail {

bool runs_inline(int64_t n, int64_t grain) { return t_inside_parallel || num_chunks(n, grain) == 1; }

void parallel_for_pool(int64_t begin, int64_t end, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  const int64_t n = end - begin;
  const int64_t chunks = num_chunks(n, grain);
  const int64_t per = n / chunks, extra = n % chunks;
  auto chunk = [&](int64_t c) {
    const int64_t b = begin + c * per + std::min(c, extra);
    const int64_t e = b + per + (c < extra ? 1 : 0);
    // Nested parallel_for calls inside a chunk run inline instead of deadlocking on the pool.
    struct Flag {
      Flag() { t_inside_parallel = true; }
      ~Flag() { t_inside_parallel = false; }
    } flag;
    fn(b, e);
  };
  pool().run(chunks, std::ref(chunk));  // by reference: no allocation per region
}

}  // namespace detail

}  // namespace mithril
