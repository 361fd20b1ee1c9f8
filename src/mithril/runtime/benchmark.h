// Benchmarks of compiled models: warm-up calls, timed calls, and the metrics asked for —
// throughput (samples per second of the median call), latency (median, p99 and the others of one
// call, in seconds) and
// memory usage (peak bytes of our allocator and the process's peak resident set during the
// timed calls). A training benchmark times a full step: forward, backward and an SGD update.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "mithril/runtime/compile.h"

namespace mithril {

struct BenchmarkConfig {
  // Warm-up runs at least warmup_iterations calls and goes on until warmup_seconds have passed:
  // idle cores of these machines run at about half speed for the first ~0.1 s of work, and the
  // allocator's caches and the thread pool settle within the first calls.
  int warmup_iterations = 3;
  double warmup_seconds = 0.25;
  int benchmark_iterations = 20;
  // Any of "throughput", "latency", "memory_usage"; another name is a ValueError.
  std::vector<std::string> metrics = {"throughput", "latency", "memory_usage"};
  // The input whose leading dimension is the batch size (for throughput). Empty: the first
  // input key that is not trainable.
  std::string batch_key;
};

struct LatencyStats {  // seconds per call
  double mean = 0, p50 = 0, p90 = 0, p99 = 0, min = 0, max = 0;
};

struct MemoryUsage {
  int64_t peak_allocator_bytes = 0;  // high-water mark of live tensor bytes during the timed calls
  int64_t peak_rss_bytes = 0;        // process peak resident set (reset before the timed calls where Linux allows)
};

struct BenchmarkResult {
  int64_t batch_size = 0;
  int iterations = 0;
  int warmup_calls = 0;              // warm-up calls made (count and time both reached)
  std::optional<double> throughput;  // samples per second of the median call: batch_size / p50
  std::optional<LatencyStats> latency;
  std::optional<MemoryUsage> memory_usage;
};

// Checks metric names (ValueError naming the unknown one and the accepted names).
void validate_benchmark_config(const BenchmarkConfig& config);

// The input that carries the batch when none is named: the first input key (in sorted order)
// that is not a parameter (trainable, or differentiable in a model compiled for inference only)
// and for which `has_batch_dim` holds; empty when there is none.
std::string default_batch_key(const PhysicalModel& model, const std::function<bool(const std::string&)>& has_batch_dim);

// Times `step` (one call = `batch_size` samples) as `config` says.
BenchmarkResult run_benchmark(const std::function<void()>& step, int64_t batch_size, const BenchmarkConfig& config);

// Inference: times model.evaluate(inputs).
BenchmarkResult run_benchmark(const PhysicalModel& model, const DataMap& inputs, const BenchmarkConfig& config = {});

struct TrainBenchmarkOptions {
  std::string loss_key = "final_cost";  // the output whose gradient (1) drives the step
  double learning_rate = 1e-4;
};

// The cotangent that trains on `loss_key`: ones of the loss's shape and dtype, found by one
// forward call on `inputs`.
DataMap loss_cotangent(const PhysicalModel& model, const DataMap& inputs, const std::string& loss_key);

// Training: each timed call is evaluate(inputs, {loss_key: 1}) followed by an SGD update of
// every trainable key in `inputs` (which the benchmark updates in place).
BenchmarkResult run_train_benchmark(const PhysicalModel& model, DataMap& inputs, const TrainBenchmarkOptions& options,
                                    const BenchmarkConfig& config = {});

// One line per configured metric, e.g. "throughput 1234.5 samples/s".
std::string format_benchmark_result(const BenchmarkResult& r);

}  // namespace mithril
