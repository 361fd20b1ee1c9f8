// `mithril bench MODEL.json --shapes ...`: benchmarks a model dict (inference, or a training
// step with --train) for one or more batch sizes. One configuration prints the metrics; a
// batch sweep prints a table marking the best throughput and the lowest-latency batch under
// --max-latency, and writes a CSV and (with gnuplot) a PNG plot. --json prints one JSON
// object per configuration instead.
#include <fmt/format.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/data_parallel_bench.h"
#include "cli/gnuplot.h"
#include "cli/model_setup.h"
#include "mithril/backends/cpu/cpu_backend.h"
#include "mithril/core/cpu_features.h"
#include "mithril/core/error.h"
#include "mithril/core/thread_pool.h"
#include "mithril/runtime/benchmark.h"
#include "mithril/runtime/compile_options.h"
#include "mithril/runtime/summary.h"

namespace mithril::cli {
namespace {

struct BenchArgs : ModelArgs {
  std::string optimizer = "sgd";
  double lr = 1e-4;
  std::vector<int64_t> batch_sizes;
  bool json = false;
  double max_latency = 0;  // seconds; 0: no limit
  double warmup_seconds = 0.25;
  std::string output_prefix = "mithril_bench";
  std::string batch_key;
};

// The input whose leading dim the sweep sets: --batch-key, else the data input (benchmark.h's
// rule; the loss target follows it).
std::string pick_batch_key(const PhysicalModel& pm, const std::map<std::string, Shape>& shapes, const std::string& given) {
  auto has_batch_dim = [&](const std::string& k) { return shapes.count(k) && !shapes.at(k).empty(); };
  if (!given.empty()) {
    MI_CHECK(has_batch_dim(given), ValueError, "[bench] --batch-key '{}' needs a --shapes entry with a leading (batch) dim",
             given);
    return given;
  }
  const std::string key = default_batch_key(pm, [&](const std::string& k) { return k != "target" && has_batch_dim(k); });
  MI_CHECK(!key.empty(), ValueError, "[bench] no input with a batch dimension: give --shapes for the model's data input");
  return key;
}

struct Row {
  int64_t batch;
  BenchmarkResult result;
  ProgramReport program;  // of the timed program: its heaviest steps
};

bool ends_with(const std::string& s, const char* tail) {
  const size_t n = std::strlen(tail);
  return s.size() > n && s.compare(s.size() - n, std::string::npos, tail) == 0;
}

// Who computes a kernel: the GEMM kernels name their engine last ("matmul_f32_openblas",
// "fused_linear_f32_avx2": our AVX2 engine); every other kernel is ours.
std::string engine_of(const std::string& kernel) {
  for (const char* e : {"openblas", "onednn"})
    if (ends_with(kernel, e)) return e;
  return "own";
}

// The ISA the kernel runs on: its table tag, or the engine it picked inside (a baseline-tagged
// GEMM kernel named after our AVX2 engine runs AVX2 code).
std::string engine_isa_of(const ProgramReport::Step& s) { return ends_with(s.kernel, "_avx2") ? "avx2" : s.isa; }

nlohmann::ordered_json to_json(const BenchArgs& a, const CompileOptions& opts, const Row& row) {
  nlohmann::ordered_json j;
  j["model"] = a.model_file;
  j["mode"] = a.train ? "train" : "inference";
  if (a.train) {
    j["loss"] = a.loss;
    j["optimizer"] = a.optimizer;
    j["lr"] = a.lr;
  }
  j["dtype"] = a.dtype;
  j["batch_size"] = row.batch;
  j["threads"] = num_threads();
  j["isa"] = isa_name(best_isa());
  j["cpu_features"] = cpu_features_string();
  j["warmup_iterations"] = a.warmup;
  j["warmup_seconds"] = a.warmup_seconds;
  j["warmup_calls"] = row.result.warmup_calls;
  j["benchmark_iterations"] = a.iterations;
  j["compile_options"] = compile_options_to_json(opts);
  const BenchmarkResult& r = row.result;
  j["throughput"] = r.throughput ? nlohmann::ordered_json(*r.throughput) : nlohmann::ordered_json();
  if (r.latency)
    j["latency"] = {{"mean", r.latency->mean}, {"median", r.latency->p50}, {"p50", r.latency->p50},
                    {"p90", r.latency->p90},   {"p99", r.latency->p99},    {"min", r.latency->min},
                    {"max", r.latency->max}};
  if (r.memory_usage)
    j["memory_usage"] = {{"peak_allocator_bytes", r.memory_usage->peak_allocator_bytes},
                         {"peak_rss_bytes", r.memory_usage->peak_rss_bytes}};
  nlohmann::ordered_json heavy = nlohmann::ordered_json::array();
  for (const ProgramReport::Step& s : row.program.heaviest_steps)
    heavy.push_back({{"op", s.op}, {"kernel", s.kernel}, {"isa", engine_isa_of(s)}, {"engine", engine_of(s.kernel)}, {"flops", s.flops}});
  j["heaviest_ops"] = heavy;
  return j;
}

void write_sweep_files(const BenchArgs& a, const std::vector<Row>& rows) {
  const std::string csv = a.output_prefix + ".csv", png = a.output_prefix + ".png";
  {
    std::ofstream f(csv);
    MI_CHECK(f.good(), ValueError, "[bench] cannot write {}", csv);
    f << "batch_size,throughput_samples_per_s,latency_mean_s,latency_p50_s,latency_p90_s,latency_p99_s,"
         "peak_allocator_bytes,peak_rss_bytes\n";
    for (const Row& r : rows)
      f << fmt::format("{},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{},{}\n", r.batch, *r.result.throughput,
                       r.result.latency->mean, r.result.latency->p50, r.result.latency->p90, r.result.latency->p99,
                       r.result.memory_usage->peak_allocator_bytes, r.result.memory_usage->peak_rss_bytes);
  }
  fmt::print("wrote {}\n", csv);
  // Throughput (left axis) and p50 latency in ms (right axis) against the batch size (log2).
  const std::string script = fmt::format(
      "set terminal pngcairo size 900,540 noenhanced; set output '{}'; set datafile separator ',';"
      "set title 'mithril bench {} ({}, {})'; set logscale x 2; set xlabel 'batch size';"
      "set ylabel 'samples/s'; set y2label 'p50 latency (ms)'; set y2tics; set ytics nomirror; set key top left;"
      "plot '{}' every ::1 using 1:2 with linespoints title 'throughput' axes x1y1,"
      " '' every ::1 using 1:($4*1000) with linespoints title 'p50 latency' axes x1y2\n",
      png, a.model_file, a.train ? "train" : "inference", a.dtype, csv);
  try {
    run_gnuplot(script, png);
    fmt::print("wrote {}\n", png);
  } catch (const ValueError& e) {
    fmt::print("no plot written: {}\n", e.what());
  }
}

int run_bench(BenchArgs a) {
  MI_CHECK(a.optimizer == "sgd", ValueError, "[bench] unknown --optimizer '{}': only sgd is available", a.optimizer);
  std::map<std::string, Shape> shapes;
  const ModelSetup setup = load_model_setup(a.model_file, a.train, a.loss, "bench", a.params);
  CompileOptions opts =
      setup_compile_options(setup, a, {.backend = CpuBackend::make({.precision = DType::f32})}, shapes, "bench");
  opts.inference = !a.train;  // --train picks what is timed, whatever the options say
  const DType dtype = opts.precision();
  a.dtype = std::string(dtype_name(dtype));
  const std::string batch_key = pick_batch_key(setup.base, shapes, a.batch_key);
  // The sweep varies the batch key's leading dim, so its shape is no fact of the compiled model
  // (unless the options ask for static shapes: then other batch sizes are rejected, as asked).
  if (!opts.static_shapes && !opts.static_inference) opts.shapes.erase(batch_key);
  const PhysicalModel pm = compile(setup.model, opts);
  if (a.batch_sizes.empty()) a.batch_sizes.push_back(shapes.at(batch_key)[0]);
  const ParallelRun par = parallel_run(opts, "bench");
  if (par.reducer) {
    MI_CHECK(a.train && a.batch_sizes.size() == 1, ValueError,
             "[bench] parallelism \"data\" times training steps of one batch size per rank: add --train and give one "
             "batch size");
    return run_data_parallel_bench(setup, pm, shapes, batch_key, dtype,
                                   {.model_file = a.model_file, .batch = a.batch_sizes[0], .warmup = a.warmup, .iterations = a.iterations,
                                    .lr = a.lr, .seed = a.seed, .json = a.json},
                                   par);
  }

  BenchmarkConfig config;
  config.warmup_iterations = a.warmup;
  config.warmup_seconds = a.warmup_seconds;
  config.benchmark_iterations = a.iterations;
  config.batch_key = batch_key;
  validate_benchmark_config(config);

  std::vector<Row> rows;
  for (int64_t batch : a.batch_sizes) {
    MI_CHECK(batch > 0, ValueError, "[bench] batch sizes must be positive, got {}", batch);
    std::map<std::string, Shape> s = shapes;
    s[batch_key][0] = batch;
    DataMap inputs = make_setup_inputs(setup, pm, s, a.seed, dtype, "bench");
    BenchmarkResult r;
    if (a.train) {
      TrainBenchmarkOptions t;
      t.learning_rate = a.lr;
      r = run_train_benchmark(pm, inputs, t, config);
    } else {
      r = run_benchmark(pm, inputs, config);
    }
    rows.push_back({batch, r, pm.program_report(inputs, a.train)});
    if (a.json) fmt::print("{}\n", to_json(a, opts, rows.back()).dump());
  }
  if (a.json) return 0;

  fmt::print("{} ({}, {}, {} threads, {} kernels), warm-up {} calls and {:g} s, {} timed iterations\n", a.model_file,
             a.train ? "train step, sgd lr " + fmt::format("{:g}", a.lr) : std::string("inference"), a.dtype,
             num_threads(), isa_name(best_isa()), a.warmup, a.warmup_seconds, a.iterations);
  if (rows.size() == 1) {
    fmt::print("{}", format_benchmark_result(rows[0].result));
    return 0;
  }
  size_t best_tp = 0, lowest_lat = 0;
  std::optional<size_t> best_lat;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (*rows[i].result.throughput > *rows[best_tp].result.throughput) best_tp = i;
    if (rows[i].result.latency->p50 < rows[lowest_lat].result.latency->p50) lowest_lat = i;
    const double p50 = rows[i].result.latency->p50;
    // Under the latency limit, the best batch is the one with the highest throughput.
    if ((a.max_latency <= 0 || p50 <= a.max_latency) &&
        (!best_lat || *rows[i].result.throughput > *rows[*best_lat].result.throughput))
      best_lat = i;
  }
  fmt::print("{:>8} {:>14} {:>11} {:>11} {:>11} {:>12} {:>10}\n", "batch", "samples/s", "mean ms", "median ms", "p99 ms",
             "peak MiB", "");
  for (size_t i = 0; i < rows.size(); ++i) {
    const BenchmarkResult& r = rows[i].result;
    std::string mark;
    if (i == best_tp) mark += " best-throughput";
    if (i == lowest_lat) mark += " lowest-latency";
    if (a.max_latency > 0 && best_lat && i == *best_lat) mark += fmt::format(" best-under-{:g}s", a.max_latency);
    fmt::print("{:>8} {:>14.1f} {:>11.3f} {:>11.3f} {:>11.3f} {:>12.2f}{}\n", rows[i].batch, *r.throughput,
               r.latency->mean * 1e3, r.latency->p50 * 1e3, r.latency->p99 * 1e3,
               static_cast<double>(r.memory_usage->peak_allocator_bytes) / (1 << 20), mark);
  }
  if (a.max_latency > 0 && !best_lat) fmt::print("no batch size meets --max-latency {:g} s\n", a.max_latency);
  write_sweep_files(a, rows);
  return 0;
}

}  // namespace

void add_bench_command(CLI::App& app, int& status) {
  auto args = std::make_shared<BenchArgs>();
  auto* cmd = app.add_subcommand("bench", "Benchmark a model dict: throughput, latency and memory, over batch sizes");
  add_model_options(cmd, *args, "Time a training step (forward, backward, SGD update) instead of inference");
  cmd->add_option("--optimizer", args->optimizer, "Optimizer for --train (sgd)")->capture_default_str();
  cmd->add_option("--lr", args->lr, "Learning rate for --train")->capture_default_str();
  cmd->add_option("--batch-sizes", args->batch_sizes, "Batch sizes to sweep, e.g. 1,2,4,8")->delimiter(',');
  cmd->add_option("--batch-key", args->batch_key, "Input whose leading dim is the batch (default: the data input)");
  cmd->add_flag("--json", args->json, "One JSON object per configuration");
  cmd->add_option("--warmup-seconds", args->warmup_seconds, "Warm up for at least this long (and --warmup calls)")
      ->capture_default_str();
  cmd->add_option("--max-latency", args->max_latency, "Latency limit (s) for the recommended batch size");
  cmd->add_option("--output-prefix", args->output_prefix, "Sweep files: PREFIX.csv and PREFIX.png")->capture_default_str();
  cmd->callback([args, &status] { status = run_bench(*args); });
}

}  // namespace mithril::cli
