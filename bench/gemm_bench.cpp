// GEMM throughput of square float32/float64 products through three paths: our MatMul op (a
// graph run by the CPU executor, output allocation included), cblas_?gemm called directly on
// preallocated buffers, and oneDNN's dnnl_sgemm (float32 only). Each entry is the median of
// kReps timed runs (interleaved across paths) after kWarmup untimed ones, reported as GFLOP/s (2*n^3 flops) and as a
// percentage of the machine's peak:
//   peak = cores * GHz * flop/cycle,
// cores from std::thread::hardware_concurrency(), GHz from the first "cpu MHz" line of
// /proc/cpuinfo, and flop/cycle = 2 FMA units * (256-bit lanes) * 2 flops per FMA, i.e. 32
// for float32 (8 lanes) and 16 for float64 (4 lanes), as for an AVX2 FMA core.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#ifdef MITHRIL_BENCH_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

#include "mithril/backends/cpu/executor.h"
#include "mithril/core/cpu_features.h"
#include "mithril/core/thread_pool.h"
#include "mithril/ops/linalg.h"

namespace {

using namespace mithril;

constexpr int kWarmup = 2;
constexpr int kReps = 7;

// Median seconds of each of `runs`. The runs are interleaved (one rep of each in turn) so that
// load from other processes on a shared machine falls on all paths alike.
std::vector<double> median_seconds(const std::vector<std::function<void()>>& runs) {
  for (int i = 0; i < kWarmup; ++i)
    for (const auto& run : runs) run();
  std::vector<std::vector<double>> times(runs.size());
  for (int i = 0; i < kReps; ++i)
    for (size_t r = 0; r < runs.size(); ++r) {
      const auto start = std::chrono::steady_clock::now();
      runs[r]();
      times[r].push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  std::vector<double> medians;
  for (auto& t : times) {
    std::sort(t.begin(), t.end());
    medians.push_back(t[kReps / 2]);
  }
  return medians;
}

// The first "cpu MHz" entry of /proc/cpuinfo in GHz, or 0 when there is none.
double nominal_ghz() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("cpu MHz", 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon != std::string::npos) return std::stod(line.substr(colon + 1)) / 1000.0;
  }
  return 0.0;
}

Tensor random_matrix(int64_t n, DType dtype, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<double> v(static_cast<size_t>(n * n));
  for (double& x : v) x = dist(rng);
  return Tensor::from_doubles(v, {n, n}, dtype);
}

void gemm(const float* a, const float* b, float* c, int n) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
}
void gemm(const double* a, const double* b, double* c, int n) {
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, a, n, b, n, 0.0, c, n);
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
    runs.push_back([&, c = results[1]]() mutable { gemm(a.data<T>(), b.data<T>(), c.template data<T>(), ni); });
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
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const double ghz = nominal_ghz();
  const Bench bench{cores * ghz * 32.0, cores * ghz * 16.0};
  std::printf("GEMM benchmark: C = A @ B, square, row-major; median of %d runs after %d warm-up runs\n", kReps,
              kWarmup);
  std::printf("cpu features: %s; mithril threads: %d; OpenBLAS threads: %d\n", cpu_features_string().c_str(),
              num_threads(), openblas_get_num_threads());
  std::printf("peak = %u cores (hardware_concurrency) x %.3f GHz (first \"cpu MHz\" in /proc/cpuinfo) x flop/cycle\n",
              cores, ghz);
  std::printf("       flop/cycle = 2 AVX2 FMA units x lanes x 2: 32 for f32, 16 for f64\n");
  std::printf("       -> %.1f GFLOP/s f32, %.1f GFLOP/s f64\n\n", bench.peak_f32, bench.peak_f64);
#ifndef MITHRIL_BENCH_HAVE_DNNL
  std::printf("(built without oneDNN: no dnnl_sgemm rows)\n");
#endif
  std::printf("%-5s %6s  %-16s %10s %9s %8s   %s\n", "dtype", "n", "path", "median ms", "GFLOP/s", "% peak",
              "max |diff| vs cblas");
  for (int64_t n : {1024, 2048}) bench.run<float>(n);
  for (int64_t n : {1024, 2048}) bench.run<double>(n);
  return 0;
}
