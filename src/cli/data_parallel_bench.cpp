#include "cli/data_parallel_bench.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "mithril/core/cpu_features.h"
#include "mithril/core/error.h"
#include "mithril/core/thread_pool.h"
#include "mithril/runtime/benchmark.h"
#include "mithril/runtime/sgd_step.h"

namespace mithril::cli {

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

int run_data_parallel_bench(const ModelSetup& setup, const PhysicalModel& model, std::map<std::string, Shape> shapes,
                            const std::string& batch_key, DType dtype, const DataParallelBench& o,
                            const ParallelRun& run) {
  MI_CHECK(run.reducer != nullptr, ValueError, "[bench] data-parallel timing needs parallelism \"data\"");
  parallel::Communicator& comm = run.reducer->comm();
  shapes[batch_key][0] = o.batch;
  // Each rank draws its own batch; the parameters are rank 0's on every rank.
  DataMap inputs = make_setup_inputs(setup, model, shapes, o.seed + static_cast<uint64_t>(run.rank), dtype, "bench");
  for (const std::string& key : model.trainable_keys()) comm.broadcast(inputs.at(key).tensor, 0);
  // The mean loss over every rank's samples: each rank's loss cotangent is 1 / N.
  DataMap cotangent = loss_cotangent(model, inputs, "final_cost");
  for (auto& [key, c] : cotangent) c.tensor = Tensor::full(c.tensor.shape(), 1.0 / run.world, c.tensor.dtype());
  const std::vector<bool> all(static_cast<size_t>(run.world), true);

  std::vector<double> step_s, comm_s;
  for (int i = 0; i < o.warmup + o.iterations; ++i) {
    comm.barrier();  // every rank starts the step together, so a step's time is its own
    const double comm0 = comm.stats().seconds;
    const auto t0 = std::chrono::steady_clock::now();
    const PhysicalModel::Result r = model.evaluate(inputs, cotangent);
    std::map<std::string, Tensor> grads;
    for (const auto& [key, g] : r.gradients) grads[key] = g.tensor;
    run.reducer->reduce(grads, all);
    DataMap summed;
    for (auto& [key, g] : grads) summed[key] = g;
    sgd_step(inputs, summed, o.lr);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (i < o.warmup) continue;
    step_s.push_back(s);
    comm_s.push_back(comm.stats().seconds - comm0);
  }
  const double step = median(step_s), in_comm = median(comm_s);
  const Tensor per_rank = comm.all_gather(Tensor::from_doubles({step, in_comm}, {2}, DType::f64));
  if (!run.leader()) return 0;

  int64_t grad_bytes = 0;
  for (const std::string& key : model.trainable_keys()) grad_bytes += static_cast<int64_t>(inputs.at(key).tensor.nbytes());
  double slowest = 0;
  nlohmann::ordered_json ranks = nlohmann::ordered_json::array();
  if (!o.json)
    fmt::print("data parallel over {} ranks (mesh {}, {} reduction), batch {} per rank, {}, {} threads per rank, {} "
               "kernels, gradients {:.2f} MiB, {} warm-up + {} timed steps (medians)\n",
               run.world, run.mesh.str(), run.reducer->options().deterministic ? "deterministic" : "allreduce", o.batch,
               dtype_name(dtype), num_threads(), isa_name(best_isa()), static_cast<double>(grad_bytes) / (1 << 20),
               o.warmup, o.iterations);
  if (!o.json) fmt::print("{:>6} {:>12} {:>12} {:>8} {:>12}\n", "rank", "step ms", "comm ms", "comm %", "samples/s");
  for (int r = 0; r < run.world; ++r) {
    const double s = per_rank.at({r, 0}), c = per_rank.at({r, 1});
    slowest = std::max(slowest, s);
    ranks.push_back({{"rank", r}, {"step_seconds", s}, {"communication_seconds", c},
                     {"samples_per_second", static_cast<double>(o.batch) / s}});
    if (!o.json)
      fmt::print("{:>6} {:>12.3f} {:>12.3f} {:>7.1f}% {:>12.1f}\n", r, s * 1e3, c * 1e3, 100 * c / s,
                 static_cast<double>(o.batch) / s);
  }
  const double aggregate = static_cast<double>(o.batch * run.world) / slowest;
  if (o.json) {
    nlohmann::ordered_json j;
    j["model"] = o.model_file;
    j["mode"] = "train";
    j["parallelism"] = "data";
    j["world_size"] = run.world;
    j["deterministic"] = run.reducer->options().deterministic;
    j["batch_size_per_rank"] = o.batch;
    j["dtype"] = dtype_name(dtype);
    j["threads_per_rank"] = num_threads();
    j["gradient_bytes"] = grad_bytes;
    j["ranks"] = ranks;
    j["aggregate_samples_per_second"] = aggregate;
    j["overlap_fraction"] = 0.0;
    fmt::print("{}\n", j.dump());
  } else {
    fmt::print("aggregate {:.1f} samples/s ({} x {} samples per {:.3f} ms step of the slowest rank); communication is "
               "not overlapped with the backward pass (buckets are summed after it)\n",
               aggregate, run.world, o.batch, slowest * 1e3);
  }
  return 0;
}

}  // namespace mithril::cli
