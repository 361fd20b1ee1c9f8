// GEMM throughput of square float32/float64 products through three paths: our MatMul op (a
// graph run by the CPU executor, output allocation included), cblas_?gemm called directly on
// preallocated buffers, and oneDNN's dnnl_sgemm (float32 only). Each entry is the median of
// kReps timed runs after kWarmup untimed ones, path by path, reported as GFLOP/s (2*n^3 flops) and as a
// percentage of the machine's peak: the measured AVX2 FMA throughput of all threads
// (bench/fma_peak.h; float64 half of float32).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#ifdef MITHRIL_BENCH_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

#include "bench_blas.h"
#include "fma_peak.h"
#include "mithril/backends/cpu/executor.h"
#include "mithril/core/cpu_features.h"
#include "mithril/core/thread_pool.h"
#include "mithril/ops/linalg.h"

namespace {

using namespace mithril;

constexpr int kWarmup = 2;
constexpr int kReps = 7;

// Median seconds of each of `runs`, one path after the other (warm-up calls, then the timed
// ones). Not interleaved: the three paths use three thread runtimes (our pool, OpenBLAS's and
// oneDNN's OpenMP workers), and whichever ran last still holds the cores spinning for a while,
// which halved the next path's figure when they alternated call by call.
std::vector<double> median_seconds(const std::vector<std::function<void()>>& runs) {
  std::vector<double> medians;
  for (const auto& run : runs) {
    for (int i = 0; i < kWarmup; ++i) run();
    std::vector<double> t;
    for (int i = 0; i < kReps; ++i) {
      const auto start = std::chrono::steady_clock::now();
      run();
      t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(t.begin(), t.end());
    medians.push_back(t[kReps / 2]);
  }
  return medians;
}

Tensor random_matrix(int64_t n, DType dtype, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<double> v(static_cast<size_t>(n * n));
  for (double& x : v) x = dist(rng);
  return Tensor::from_doubles(v, {n, n}, dtype);
}

struct Bench {
  double peak_f32, peak_f64;  // GFLOP/s

  void row(const char* dtype, int64_t n, const char* path, double seconds, double max_diff) const {
    const double gflops = 2.0 * std::pow(static_cast<double>(n), 3) / seconds * 1e-9;
    const double peak = std::string(dtype) == "f32" ? peak_f32 : peak_f64;
    std::printf("%-5s %6lld  %-16s %10.2f %9.1f %7.1f%%   %.1e\n", dtype, static_cast<long long>(n), path,
                seconds * 1e3, gflops, peak > 0 ? 100.0 * gflops / peak : 0.0, max_diff);
  }

  template <typename T>
  void run(int64_t n) const {
    const DType dt = dtype_of_v<T>;
    const char* name = dt == DType::f32 ? "f32" : "f64";
    const Tensor a = random_matrix(n, dt, 1), b = random_matrix(n, dt, 2);
    const int ni = static_cast<int>(n);

    Graph g;
    const Var va = g.input("a", {n, n}, dt), vb = g.input("b", {n, n}, dt);
    const cpu::Executor exec(g, {ops::matmul(va, vb).id()});

    // Each path writes its product into its own tensor.
    std::vector<const char*> names{"mithril matmul", dt == DType::f32 ? "cblas_sgemm" : "cblas_dgemm"};
    std::vector<Tensor> results{Tensor(), Tensor::empty({n, n}, dt)};
    std::vector<std::function<void()>> runs;
    runs.push_back([&] { results[0] = exec.run({a, b})[0]; });
    runs.push_back(
        [&, c = results[1]]() mutable { bench::openblas_gemm(a.data<T>(), b.data<T>(), c.template data<T>(), ni); });
#ifdef MITHRIL_BENCH_HAVE_DNNL
    if constexpr (std::is_same_v<T, float>) {
      names.push_back("dnnl_sgemm");
      results.push_back(Tensor::empty({n, n}, dt));
      runs.push_back([&, c = results[2]]() mutable {
        dnnl_sgemm('N', 'N', n, n, n, 1.0f, a.data<float>(), n, b.data<float>(), n, 0.0f, c.data<float>(), n);
      });
    }
#endif
    const std::vector<double> seconds = median_seconds(runs);

    // Every path reports its largest deviation from the direct BLAS result.
    const std::vector<double> expected = results[1].to_doubles();
    for (size_t i = 0; i < runs.size(); ++i) {
      const std::vector<double> got = results[i].to_doubles();
      double diff = 0;
      for (size_t j = 0; j < got.size(); ++j) diff = std::max(diff, std::abs(got[j] - expected[j]));
      row(name, n, names[i], seconds[i], diff);
    }
  }
};

}  // namespace

int main() {
  const double peak = bench::fma_peak_gflops_f32();
  const Bench bench{peak, peak / 2};
  std::printf("GEMM benchmark: C = A @ B, square, row-major; median of %d runs after %d warm-up runs\n", kReps,
              kWarmup);
  std::printf("cpu features: %s; threads: %d (ours, and OpenBLAS's in the direct cblas calls)\n",
              cpu_features_string().c_str(), num_threads());
  std::printf("peak = measured AVX2 FMA throughput of all threads (bench/fma_peak.h): %.1f GFLOP/s f32, %.1f f64\n\n",
              bench.peak_f32, bench.peak_f64);
#ifndef MITHRIL_BENCH_HAVE_DNNL
  std::printf("(built without oneDNN: no dnnl_sgemm rows)\n");
#endif
  std::printf("%-5s %6s  %-16s %10s %9s %8s   %s\n", "dtype", "n", "path", "median ms", "GFLOP/s", "% peak",
              "max |diff| vs cblas");
  for (int64_t n : {1024, 2048}) bench.run<float>(n);
  for (int64_t n : {1024, 2048}) bench.run<double>(n);
  return 0;
}
