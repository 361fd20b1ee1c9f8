#include "mithril/runtime/benchmark.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <numeric>

#include <fmt/format.h>

#include "mithril/core/allocator.h"
#include "mithril/core/error.h"
#include "mithril/runtime/sgd_step.h"

namespace mithril {
namespace {

constexpr const char* kMetricNames[] = {"throughput", "latency", "memory_usage"};

bool wants(const BenchmarkConfig& c, const char* metric) {
  return std::find(c.metrics.begin(), c.metrics.end(), metric) != c.metrics.end();
}

// Linux lets a process reset its peak RSS (VmHWM) by writing 5 to /proc/self/clear_refs; where
// that is not allowed the peak covers the whole process lifetime.
void reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  if (f) f << "5";
}

int64_t peak_rss_bytes() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;  // "VmHWM:  1234 kB"
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<int64_t>(u.ru_maxrss) * 1024;
}

// Nearest-rank percentile of sorted samples.
double percentile(const std::vector<double>& sorted, double p) {
  const size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

int64_t batch_size_of(const PhysicalModel& model, const DataMap& inputs, const std::string& batch_key) {
  std::string key = batch_key;
  if (key.empty()) {
    key = default_batch_key(model, [&](const std::string& k) {
      return inputs.count(k) && !inputs.at(k).is_list && inputs.at(k).tensor.ndim() > 0;
    });
    if (key.empty()) return 1;
  }
  const auto it = inputs.find(key);
  MI_CHECK(it != inputs.end(), KeyError, "[benchmark] batch key '{}' is not among the inputs", key);
  MI_CHECK(!it->second.is_list && it->second.tensor.ndim() > 0, ValueError,
           "[benchmark] batch key '{}' must be a tensor with a leading (batch) dimension", key);
  return it->second.tensor.shape()[0];
}

}  // namespace

std::string default_batch_key(const PhysicalModel& model, const std::function<bool(const std::string&)>& has_batch_dim) {
  const auto& trainable = model.trainable_keys();
  for (const std::string& k : model.input_keys()) {
    const auto e = model.flat_model().find(k);
    const bool parameter = std::find(trainable.begin(), trainable.end(), k) != trainable.end() ||
                           (e && model.flat_model().is_differentiable(*e));
    if (!parameter && has_batch_dim(k)) return k;
  }
  return {};
}

void validate_benchmark_config(const BenchmarkConfig& config) {
  for (const std::string& m : config.metrics)
    MI_CHECK(std::find(std::begin(kMetricNames), std::end(kMetricNames), m) != std::end(kMetricNames), ValueError,
             "[benchmark] unknown metric '{}': expected throughput, latency or memory_usage", m);
  MI_CHECK(config.warmup_iterations >= 0, ValueError, "[benchmark] warmup_iterations must be >= 0, got {}",
           config.warmup_iterations);
  MI_CHECK(config.warmup_seconds >= 0, ValueError, "[benchmark] warmup_seconds must be >= 0, got {}",
           config.warmup_seconds);
  MI_CHECK(config.benchmark_iterations >= 1, ValueError, "[benchmark] benchmark_iterations must be >= 1, got {}",
           config.benchmark_iterations);
}

BenchmarkResult run_benchmark(const std::function<void()>& step, int64_t batch_size, const BenchmarkConfig& config) {
  validate_benchmark_config(config);
  int warmup_calls = 0;
  const auto warm0 = std::chrono::steady_clock::now();
  const auto warm_for = std::chrono::duration<double>(config.warmup_seconds);
  while (warmup_calls < config.warmup_iterations || std::chrono::steady_clock::now() - warm0 < warm_for) {
    step();
    ++warmup_calls;
  }
  reset_peak_bytes();
  reset_peak_rss();
  std::vector<double> times;
  times.reserve(static_cast<size_t>(config.benchmark_iterations));
  for (int i = 0; i < config.benchmark_iterations; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    step();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  BenchmarkResult r;
  r.batch_size = batch_size;
  r.iterations = config.benchmark_iterations;
  r.warmup_calls = warmup_calls;
  const double total = std::accumulate(times.begin(), times.end(), 0.0);
  std::vector<double> s = times;
  std::sort(s.begin(), s.end());
  // From the median call, not the total: one stalled call (another process took the core) does
  // not move it, and it is the figure a repeated run reproduces.
  const double median = percentile(s, 50);
  if (wants(config, "throughput")) r.throughput = median > 0 ? static_cast<double>(batch_size) / median : 0.0;
  if (wants(config, "latency")) {
    r.latency = LatencyStats{total / static_cast<double>(s.size()), percentile(s, 50), percentile(s, 90),
                             percentile(s, 99), s.front(), s.back()};
  }
  if (wants(config, "memory_usage")) r.memory_usage = MemoryUsage{allocator_stats().peak_bytes, peak_rss_bytes()};
  return r;
}

BenchmarkResult run_benchmark(const PhysicalModel& model, const DataMap& inputs, const BenchmarkConfig& config) {
  validate_benchmark_config(config);
  MI_CHECK(!model.output_keys().empty(), ValueError, "[benchmark] the model has no outputs to compute");
  const int64_t batch = batch_size_of(model, inputs, config.batch_key);
  return run_benchmark([&] { (void)model.evaluate(inputs); }, batch, config);
}

DataMap loss_cotangent(const PhysicalModel& model, const DataMap& inputs, const std::string& loss_key) {
  const Tensor loss = model.evaluate(inputs).at(loss_key).tensor;
  return {{loss_key, Tensor::full(loss.shape(), 1.0, loss.dtype())}};
}

BenchmarkResult run_train_benchmark(const PhysicalModel& model, DataMap& inputs, const TrainBenchmarkOptions& options,
                                    const BenchmarkConfig& config) {
  validate_benchmark_config(config);
  const auto& outs = model.output_keys();
  MI_CHECK(std::find(outs.begin(), outs.end(), options.loss_key) != outs.end(), KeyError,
           "[benchmark] loss '{}' is not an output of the model (outputs: {})", options.loss_key, fmt::join(outs, ", "));
  const int64_t batch = batch_size_of(model, inputs, config.batch_key);
  const DataMap cotangent = loss_cotangent(model, inputs, options.loss_key);
  return run_benchmark(
      [&] {
        const PhysicalModel::Result r = model.evaluate(inputs, cotangent);
        sgd_step(inputs, r.gradients, options.learning_rate);
      },
      batch, config);
}

std::string format_benchmark_result(const BenchmarkResult& r) {
  std::string s = fmt::format("batch size {}, {} warm-up and {} timed iterations\n", r.batch_size, r.warmup_calls,
                              r.iterations);
  if (r.throughput) s += fmt::format("throughput  {:.1f} samples/s (of the median call)\n", *r.throughput);
  if (r.latency)
    s += fmt::format("latency     median {:.3f} ms, p99 {:.3f} ms (mean {:.3f} ms, p90 {:.3f} ms, min {:.3f} ms, max {:.3f} ms)\n",
                     r.latency->p50 * 1e3, r.latency->p99 * 1e3, r.latency->mean * 1e3, r.latency->p90 * 1e3,
                     r.latency->min * 1e3, r.latency->max * 1e3);
  if (r.memory_usage)
    s += fmt::format("memory      peak tensors {:.2f} MiB, peak RSS {:.2f} MiB\n",
                     static_cast<double>(r.memory_usage->peak_allocator_bytes) / (1 << 20),
                     static_cast<double>(r.memory_usage->peak_rss_bytes) / (1 << 20));
  return s;
}

}  // namespace mithril
