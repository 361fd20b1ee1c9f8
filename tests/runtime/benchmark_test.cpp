// run_benchmark / run_train_benchmark: metric selection, result fields, errors, and that the
// training step really updates the parameters (SGD moves them against the gradient).
#include "mithril/backends/cpu/cpu_backend.h"
#include "mithril/runtime/benchmark.h"

#include <gtest/gtest.h>

#include <chrono>

#include "mithril/core/error.h"
#include "mithril/logical/library.h"
#include "mithril/logical/train_model.h"
#include "mithril/runtime/sgd_step.h"
#include "support/error_of.h"

namespace mithril {
namespace {

using logical::Model;
using testing::error_of;

DataMap linear_inputs(DType t) {
  return {{"input", Tensor::full({8, 3}, 0.5, t)}, {"weight", Tensor::full({2, 3}, 0.1, t)}, {"bias", Tensor::zeros({2}, t)}};
}

TEST(Benchmark, ReportsTheRequestedMetrics) {
  const PhysicalModel pm = compile(logical::Linear(), {.inference = true, .backend = CpuBackend::make({.precision = DType::f32})});
  BenchmarkConfig c;
  c.warmup_iterations = 1;
  c.warmup_seconds = 0;
  c.benchmark_iterations = 5;
  const BenchmarkResult r = run_benchmark(pm, linear_inputs(DType::f32), c);
  EXPECT_EQ(r.batch_size, 8);
  EXPECT_EQ(r.iterations, 5);
  ASSERT_TRUE(r.throughput && r.latency && r.memory_usage);
  EXPECT_DOUBLE_EQ(*r.throughput, 8 / r.latency->p50);  // of the median call
  EXPECT_LE(r.latency->min, r.latency->p50);
  EXPECT_LE(r.latency->p50, r.latency->p90);
  EXPECT_LE(r.latency->p90, r.latency->p99);
  EXPECT_LE(r.latency->p99, r.latency->max);
  EXPECT_GT(r.memory_usage->peak_allocator_bytes, 0);
  EXPECT_GT(r.memory_usage->peak_rss_bytes, 0);

  c.metrics = {"latency"};
  const BenchmarkResult only = run_benchmark(pm, linear_inputs(DType::f32), c);
  EXPECT_FALSE(only.throughput);
  EXPECT_TRUE(only.latency);
  EXPECT_FALSE(only.memory_usage);
}

// Warm-up makes at least warmup_iterations calls and lasts at least warmup_seconds.
TEST(Benchmark, WarmsUpByCountAndByTime) {
  int calls = 0;
  BenchmarkConfig c;
  c.warmup_iterations = 2;
  c.warmup_seconds = 0;
  c.benchmark_iterations = 3;
  BenchmarkResult r = run_benchmark([&] { ++calls; }, 1, c);
  EXPECT_EQ(r.warmup_calls, 2);
  EXPECT_EQ(calls, 5);

  calls = 0;
  c.warmup_iterations = 0;
  c.warmup_seconds = 0.02;
  const auto t0 = std::chrono::steady_clock::now();
  r = run_benchmark([&] { ++calls; }, 1, c);
  const double warm = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(warm, 0.02);  // the loop ran until its own clock passed 0.02 s: a bound, not a timing
  EXPECT_GE(r.warmup_calls, 1);
  EXPECT_EQ(calls, r.warmup_calls + 3);
  c.warmup_seconds = -1;
  EXPECT_THROW(validate_benchmark_config(c), ValueError);
}

TEST(Benchmark, UnknownMetricIsAValueError) {
  BenchmarkConfig c;
  c.metrics = {"throughput", "flops"};
  EXPECT_EQ(error_of<ValueError>([&] { validate_benchmark_config(c); }),
            "[benchmark] unknown metric 'flops': expected throughput, latency or memory_usage");
  c.metrics = {};
  c.benchmark_iterations = 0;
  EXPECT_THROW(validate_benchmark_config(c), ValueError);
}

TEST(Benchmark, TrainStepUpdatesParametersWithSgd) {
  logical::TrainModel tm(logical::Linear());
  tm.add_loss({Model::primitive("SquaredError"), "output", std::string("target"), {}});
  for (DType t : {DType::f64, DType::f32, DType::bf16}) {
    SCOPED_TRACE(std::string(dtype_name(t)));
    const PhysicalModel pm = compile(tm.build(), {.backend = CpuBackend::make({.precision = t})});
    DataMap in = linear_inputs(t);
    in["target"] = Tensor::full({8, 2}, 1.0, t);
    // One step by hand: w' = w - lr * dL/dw.
    const auto r = pm.evaluate(in, {{"final_cost", Tensor::scalar(1.0, t)}});
    const double g = r.gradients.at("weight").tensor.to_doubles()[0];
    ASSERT_LT(g, 0);  // outputs 0.15 < target 1: increasing w lowers the loss
    BenchmarkConfig c;
    c.warmup_iterations = 0;
    c.warmup_seconds = 0;
    c.benchmark_iterations = 1;
    const BenchmarkResult b = run_train_benchmark(pm, in, {.learning_rate = 0.5}, c);
    EXPECT_EQ(b.batch_size, 8);
    EXPECT_NEAR(in.at("weight").tensor.to_doubles()[0], 0.1 - 0.5 * g, t == DType::bf16 ? 4e-3 : 1e-6);
  }
}

TEST(Benchmark, SgdStepRejectsMismatchedGradients) {
  DataMap p = {{"w", Tensor::zeros({2, 2}, DType::f32)}};
  EXPECT_THROW(sgd_step(p, {{"w", Tensor::zeros({3}, DType::f32)}}, 0.1), ShapeError);
  sgd_step(p, {{"w", Tensor::full({2, 2}, 2.0, DType::f32)}, {"other", Tensor::zeros({1}, DType::f32)}}, 0.25);
  EXPECT_EQ(p.at("w").tensor.to_doubles(), (std::vector<double>{-0.5, -0.5, -0.5, -0.5}));
}

}  // namespace
}  // namespace mithril
