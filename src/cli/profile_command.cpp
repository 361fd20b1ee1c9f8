// `mithril profile MODEL.json --shapes ...`: compiles a model dict with profiling on, runs it
// (inference, or with --train forward plus gradients of the loss) and prints the execution
// breakdown per op type and the longest nodes, the measured wall time of the evaluate() calls and
// how much of it the per-kernel times account for. --trace writes a Chrome-trace JSON.
#include <fmt/format.h>

#include <chrono>

#include "cli/commands.h"
#include "cli/model_setup.h"
#include "mithril/backends/cpu/cpu_backend.h"
#include "mithril/core/cpu_features.h"
#include "mithril/core/error.h"
#include "mithril/core/thread_pool.h"
#include "mithril/runtime/benchmark.h"
#include "mithril/runtime/machine_peaks.h"
#include "mithril/runtime/compile.h"
#include "mithril/runtime/profile.h"
#include "mithril/runtime/summary.h"

namespace mithril::cli {
namespace {

struct ProfileArgs : ModelArgs {
  size_t top = 15;
  std::string trace;
  double peak_gflops = 0, peak_gbs = 0;
};

int run_profile(const ProfileArgs& a) {
  MI_CHECK(a.iterations > 0, ValueError, "[profile] --iterations must be positive, got {}", a.iterations);
  MI_CHECK(a.warmup >= 0, ValueError, "[profile] --warmup must be >= 0, got {}", a.warmup);
  std::map<std::string, Shape> shapes;
  const ModelSetup setup = load_model_setup(a.model_file, a.train, a.loss, "profile", a.params);
  CompileOptions opts =
      setup_compile_options(setup, a, {.backend = CpuBackend::make({.precision = DType::f32})}, shapes, "profile");
  opts.inference = !a.train;  // --train picks what is profiled, whatever the options say
  opts.profile = true;
  if (a.peak_gflops > 0) opts.peak_gflops = a.peak_gflops;
  if (a.peak_gbs > 0) opts.peak_gbs = a.peak_gbs;
  const DType dtype = opts.precision();
  const PhysicalModel pm = compile(setup.model, opts);
  const DataMap inputs = make_setup_inputs(setup, pm, shapes, a.seed, dtype, "profile");

  const DataMap cotangent = a.train ? loss_cotangent(pm, inputs, TrainBenchmarkOptions{}.loss_key) : DataMap{};
  auto call = [&] { a.train ? (void)pm.evaluate(inputs, cotangent) : (void)pm.evaluate(inputs); };
  for (int i = 0; i < a.warmup; ++i) call();
  (void)machine_peaks(opts.peak_gflops, opts.peak_gbs);  // measured (once) outside the timed calls
  pm.reset_profile();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < a.iterations; ++i) call();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const ProfileStats stats = pm.profile_stats();

  fmt::print("{} ({}, {}, {} threads, {} kernels), {} warm-up + {} profiled calls\n", a.model_file,
             a.train ? "forward + gradients, loss " + a.loss : std::string("inference"), dtype_name(dtype), num_threads(),
             isa_name(best_isa()), a.warmup, a.iterations);
  fmt::print("{}", format_profile(stats, a.top));
  fmt::print("\nmeasured total (wall time of evaluate calls): {:.3f} ms, {:.3f} ms per call\n", wall * 1e3,
             wall * 1e3 / a.iterations);
  fmt::print("sum of per-op times: {:.3f} ms = {:.1f}% of the measured total\n", stats.kernel_seconds * 1e3,
             wall > 0 ? 100.0 * stats.kernel_seconds / wall : 0.0);
  if (!a.trace.empty()) {
    write_chrome_trace(stats, a.trace);
    fmt::print("wrote {} ({} events)\n", a.trace, stats.trace.size());
  }
  return 0;
}

}  // namespace

void add_profile_command(CLI::App& app, int& status) {
  auto args = std::make_shared<ProfileArgs>();
  auto* cmd = app.add_subcommand("profile", "Profile a model dict: time per op type and node, FLOPs, bytes, % of peak");
  add_model_options(cmd, *args, "Profile forward plus gradients of a loss on the first output");
  cmd->add_option("--top", args->top, "Nodes to list")->capture_default_str();
  cmd->add_option("--trace", args->trace, "Write a Chrome-trace JSON (chrome://tracing, Perfetto) of the last calls");
  cmd->add_option("--peak-gflops", args->peak_gflops, "GEMM peak for % of peak (default: measured)");
  cmd->add_option("--peak-gbs", args->peak_gbs, "Memory bandwidth peak for % of peak (default: measured)");
  cmd->callback([args, &status] { status = run_profile(*args); });
}

}  // namespace mithril::cli
