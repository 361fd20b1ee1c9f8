// The machine's float32 FMA peak, measured rather than derived from the nominal clock: every
// pool thread runs twelve independent chains of 256-bit FMAs (enough to keep two FMA units with
// a 4-cycle latency busy), and the peak is the best of the timed runs of the last 0.25 s of
// 0.4 s of such work (the cores run at about half speed for the first ~0.1 s after idling). The nominal "cpu MHz"
// of /proc/cpuinfo is not the clock the cores run at under load (boost), so a peak computed from
// it put a 1024^2 GEMM at 160% of "peak". The float64 peak is half (four lanes instead of eight).
// AVX2 + FMA only, the ISA the comparisons run on; 0 when the CPU (or MITHRIL_ISA) lacks it.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "mithril/core/cpu_features.h"
#include "mithril/core/thread_pool.h"

namespace mithril::bench {

// Runs `iters` rounds of 12 dependent-chain FMAs and returns a value that depends on all of them.
__attribute__((target("avx2,fma"))) inline float fma_chains(int64_t iters) {
  __m256 acc[12];
  for (int j = 0; j < 12; ++j) acc[j] = _mm256_set1_ps(0.001f * static_cast<float>(j));
  const __m256 scale = _mm256_set1_ps(0.999999f), shift = _mm256_set1_ps(1e-7f);
  for (int64_t i = 0; i < iters; ++i)
    for (int j = 0; j < 12; ++j) acc[j] = _mm256_fmadd_ps(acc[j], scale, shift);
  __m256 sum = acc[0];
  for (int j = 1; j < 12; ++j) sum = _mm256_add_ps(sum, acc[j]);
  alignas(32) float out[8];
  _mm256_store_ps(out, sum);
  return out[0] + out[7];
}

// GFLOP/s of float32 FMAs on all pool threads at once (2 flops per lane per FMA).
inline double fma_peak_gflops_f32() {
  if (!cpu_has(Isa::avx2_fma)) return 0.0;
  constexpr int64_t kIters = int64_t{1} << 22;  // ~8 ms per thread at 100 GFLOP/s
  const int threads = num_threads();
  double best = 0.0;
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (elapsed >= 0.4) break;
    std::vector<float> results(static_cast<size_t>(threads));
    const auto t0 = std::chrono::steady_clock::now();
    parallel_for(0, threads, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) results[static_cast<size_t>(t)] = fma_chains(kIters);
    });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    volatile float sink = results[0];  // the chains must not be optimized away
    (void)sink;
    if (elapsed >= 0.15) best = std::max(best, static_cast<double>(threads) * static_cast<double>(kIters) * 12 * 8 * 2 / seconds * 1e-9);
  }
  return best;
}

}  // namespace mithril::bench
