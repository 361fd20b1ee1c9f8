#include "mithril/runtime/machine_peaks.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "mithril/backends/cpu/gemm.h"
#include "mithril/core/thread_pool.h"

namespace mithril {
namespace {

// Best of a few runs: the peak is what the machine can do, not what a noisy run did.
template <typename F>
double best_seconds(int reps, F&& fn) {
  fn();  // warm caches, pages and the thread pool
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

template <typename T>
double gemm_gflops() {
  // Large enough to reach the GEMM's steady state and to be split over the pool, small enough
  // to take milliseconds.
  constexpr int64_t n = 512;
  std::vector<T> a(n * n, T(0.5)), b(n * n, T(0.25)), c(n * n);
  const double s = best_seconds(5, [&] { cpu::gemm<T>(false, false, n, n, n, a.data(), n, b.data(), n, false, c.data(), n); });
  return 2.0 * n * n * n / s / 1e9;
}

double copy_gbs() {
  // 64 MiB each way: far beyond any last-level cache, so this is DRAM bandwidth.
  constexpr size_t bytes = size_t{64} << 20;
  std::vector<char> src(bytes, 1), dst(bytes);
  const int64_t chunks = 64;
  const double s = best_seconds(3, [&] {
    parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
      const size_t b0 = bytes / chunks * static_cast<size_t>(c0), b1 = bytes / chunks * static_cast<size_t>(c1);
      std::memcpy(dst.data() + b0, src.data() + b0, b1 - b0);
    });
  });
  return 2.0 * static_cast<double>(bytes) / s / 1e9;
}

}  // namespace

const MachinePeaks& measured_machine_peaks() {
  static const MachinePeaks peaks = [] {
    MachinePeaks p;
    p.gflops_f32 = gemm_gflops<float>();
    p.gflops_f64 = gemm_gflops<double>();
    p.gbs = copy_gbs();
    return p;
  }();
  return peaks;
}

MachinePeaks machine_peaks(double gflops_override, double gbs_override) {
  if (gflops_override > 0 && gbs_override > 0) return {gflops_override, gflops_override, gbs_override};
  MachinePeaks p = measured_machine_peaks();
  if (gflops_override > 0) p.gflops_f32 = p.gflops_f64 = gflops_override;
  if (gbs_override > 0) p.gbs = gbs_override;
  return p;
}

}  // namespace mithril
