#include "mithril/core/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <sched.h>
#include <thread>
#include <vector>

#include "mithril/core/env.h"

namespace mithril {
namespace {

// The cores this process may run on: sched_getaffinity, so `taskset -c 0` or a container's CPU
// set counts, not the machine's core count (hardware_concurrency() ignores both).
int usable_cores() {
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
#endif
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

int default_threads() {
  if (const auto n = env_int("MITHRIL_NUM_THREADS", 1, 1024)) return static_cast<int>(*n);
  return usable_cores();
}

// Spin-then-sleep: after a job a worker polls for the next one for kSpin before sleeping on a
// condition variable, and the caller polls for the workers to finish before it sleeps. A graph
// runs parallel regions back to back, microseconds apart; waking a sleeping thread costs 30-50 us
// on these machines (measured: a 64K-element compare took 6 us on one thread and 47 us on two
// when every region woke a sleeping worker), so without the spin small regions lose more than
// they gain.
constexpr auto kSpin = std::chrono::microseconds(200);

// Chunks are claimed, not assigned: the caller and the workers take the next unclaimed chunk
// until none is left, so a worker that is asleep, not yet scheduled or preempted by another
// process never holds up a chunk it has not started. With fixed assignment the caller waited for
// such a worker's chunk for a scheduler time slice: a 2-thread training step of 0.55 ms had a p90
// of 3.3-3.6 ms. Which thread runs a chunk does not change its range, so results stay
// deterministic for a given thread count.

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Polls `done` until it holds or kSpin has passed; true when it holds. Every 1024 polls the
// thread yields its core, so a thread it waits for that was preempted onto this core (another
// process holds the other one) gets to run within microseconds instead of a time slice. With
// more threads than usable cores nothing spins.
template <typename Pred>
bool spin_until(Pred done, bool may_spin) {
  if (!may_spin) return done();
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (int round = 1;; ++round) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
      cpu_relax();
    }
    if (round % 16 == 0) std::this_thread::yield();
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
    spin_ = size_ <= usable_cores();
    quit_ = false;
    // New workers start at the current generation: a job that ran before the resize is finished.
    for (int i = 1; i < size_; ++i)
      workers_.emplace_back([this, seen = generation_.load()] { loop(seen); });
  }

  void run(int64_t chunks, const std::function<void(int64_t)>& task) {
    std::unique_lock lock(run_mutex_);  // one parallel region at a time
    uint64_t gen;
    {
      std::lock_guard g(m_);
      task_ = &task;
      chunks_ = chunks;
      pending_.store(chunks);
      error_ = nullptr;
      gen = generation_.load(std::memory_order_relaxed) + 1;
      next_.store(gen << 32, std::memory_order_relaxed);  // chunk 0 of job `gen`
      generation_.store(gen, std::memory_order_release);
    }
    if (sleepers_.load(std::memory_order_acquire) > 0) cv_.notify_all();
    work(gen, chunks, task);
    if (!spin_until([&] { return pending_.load(std::memory_order_acquire) == 0; }, spin_)) {
      std::unique_lock g(m_);
      done_cv_.wait(g, [&] { return pending_.load(std::memory_order_acquire) == 0; });
    }
    std::lock_guard g(m_);
    task_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  // Claims and runs chunks of job `gen` until none is left. The claim counter holds the job's
  // generation in its high half, so a thread still holding an older job claims nothing of a
  // newer one.
  void work(uint64_t gen, int64_t chunks, const std::function<void(int64_t)>& task) {
    for (;;) {
      uint64_t v = next_.load(std::memory_order_relaxed);
      int64_t c;
      do {
        c = static_cast<int64_t>(v & 0xffffffffu);
        if ((v >> 32) != gen || c >= chunks) return;
      } while (!next_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel, std::memory_order_relaxed));
      try {
        task(c);
      } catch (...) {
        std::lock_guard g(m_);
        if (!error_) error_ = std::current_exception();
      }
      // The lock orders the last decrement against a caller about to sleep on done_cv_.
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard g(m_);
        done_cv_.notify_one();
      }
    }
  }

  void loop(uint64_t seen) {
    for (;;) {
      if (!spin_until([&] { return generation_.load(std::memory_order_acquire) != seen || quit_.load(); }, spin_)) {
        std::unique_lock g(m_);
        sleepers_.fetch_add(1, std::memory_order_acq_rel);
        cv_.wait(g, [&] { return quit_.load() || generation_.load(std::memory_order_acquire) != seen; });
        sleepers_.fetch_sub(1, std::memory_order_acq_rel);
      }
      // The job is read under the lock, where run() wrote it, so generation, chunk count and
      // task always belong together (and stay alive: run() returns only when every chunk of
      // its job is done, and a chunk is claimed only while the job's generation is current).
      const std::function<void(int64_t)>* task;
      int64_t chunks;
      {
        std::lock_guard g(m_);
        if (quit_.load()) return;
        seen = generation_.load(std::memory_order_relaxed);
        task = task_;
        chunks = chunks_;
      }
      if (task) work(seen, chunks, *task);
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
  std::atomic<int64_t> pending_{0};        // chunks of the current job not yet finished
  std::atomic<uint64_t> next_{0};          // generation << 32 | next unclaimed chunk
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> sleepers_{0};           // workers waiting on cv_ (none: no notify call)
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
