// Batch-1 and batch-32 inference of an MLP with 4096-wide layers (weights far beyond L2): our
// float32 cpu backend against the ggml backend with q8_0 and q4_0 weights. Prints the median of
// --reps timed calls per configuration, in fresh compiled models of one process.
//
//   ./build/bench/quant_bench [--width 4096] [--layers 3] [--reps 20]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "mithril/backends/cpu/cpu_backend.h"
#include "mithril/backends/ggml/ggml_backend.h"
#include "mithril/core/cpu_features.h"
#include "mithril/core/random.h"
#include "mithril/core/thread_pool.h"
#include "mithril/runtime/compile.h"
#include "mithril/train/models.h"

using namespace mithril;

namespace {

double median_ms(const PhysicalModel& pm, const Tensor& x, int reps) {
  for (int i = 0; i < 3; ++i) pm.evaluate({{"input", x}});
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const auto s = std::chrono::steady_clock::now();
    pm.evaluate({{"input", x}});
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int64_t width = 4096, layers = 3;
  int reps = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--width")) width = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--layers")) layers = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--reps")) reps = std::atoi(argv[i + 1]);
  }
  const train::Network net =
      train::mlp_classifier(width, std::vector<int64_t>(static_cast<size_t>(layers - 1), width), width);
  Rng rng(1);
  const train::TensorMap params = train::init_params(net.params, rng, DType::f32);
  CompileOptions o;
  o.inference = true;
  for (const auto& [k, t] : params) o.constant_tensors[k] = Data(t);
  fmt::print("MLP {} layers of {}x{} ({:.0f} MB float32 weights), {} threads, {}\n", layers, width, width,
             static_cast<double>(layers * width * width * 4) / 1e6, num_threads(), cpu_features_string());
  struct Config {
    const char* name;
    BackendPtr backend;
  };
  const std::vector<Config> configs = {{"cpu f32", CpuBackend::make({.precision = DType::f32})},
                                       {"ggml q8_0", GgmlBackend::make({.quantize = "q8_0"})},
                                       {"ggml q4_0", GgmlBackend::make({.quantize = "q4_0"})}};
  fmt::print("{:<10} {:>12} {:>12} {:>10} {:>10}\n", "backend", "batch 1 ms", "batch 32 ms", "x f32 (1)", "x f32 (32)");
  double base1 = 0, base32 = 0;
  for (const Config& c : configs) {
    const PhysicalModel pm = compile(net.model, c.backend, o);
    Rng xr(2);
    std::vector<double> v(static_cast<size_t>(32 * width));
    for (double& e : v) e = xr.normal();
    const Tensor x32 = Tensor::from_doubles(v, {32, width}, DType::f32);
    const Tensor x1 = x32.slice(0, 0, 1).contiguous();
    const double t1 = median_ms(pm, x1, reps), t32 = median_ms(pm, x32, reps);
    if (base1 == 0) base1 = t1, base32 = t32;
    fmt::print("{:<10} {:>12.3f} {:>12.3f} {:>10.2f} {:>10.2f}\n", c.name, t1, t32, base1 / t1, base32 / t32);
  }
  return 0;
}
