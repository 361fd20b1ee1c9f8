// Runs a graph on the CPU. Construction does all planning: it keeps only the nodes the
// requested outputs need, resolves every kernel once, plans the memory of every intermediate
// buffer (lifetimes, reuse, in-place elementwise ops, one arena at fixed offsets) and builds the
// argument tensors of every step. run() then binds the inputs, allocates the outputs (the
// caller keeps them) and calls the kernels: no per-op allocation, lookup or string work.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "mithril/backends/cpu/registry.h"
#include "mithril/ir/ir.h"
#include "mithril/graph/memory_plan.h"

namespace mithril::cpu {

struct ExecutorOptions {
  bool profile = false;  // time every step (profile_times()); off: the loop has no clock calls
  bool in_place = true;  // elementwise ops may write over an input whose last use they are
  int64_t mem_size = 0;  // when > 0: planned peak bytes (arena + outputs) above it is a ValueError
  size_t trace_runs = 16;  // profiling keeps the per-step start times of the last trace_runs runs
};

// What the profiler and summaries know about one step.
struct StepInfo {
  NodeId node;
  const Op* op;
  const KernelEntry* kernel;
  OpSignature signature;
  Cost cost;
  bool aliased;  // a reshape/identity of a dead input: the output is the input's bytes, no call
};

// Accumulated step times of a profiling executor.
struct StepTimes {
  int64_t runs = 0;
  double total_seconds = 0;           // wall time of whole run() calls
  std::vector<int64_t> calls;         // per step
  std::vector<double> seconds;        // per step
};

// One profiled run: when it and every step started and how long they took. Times are
// microseconds of std::chrono::steady_clock (since its epoch), so runs of several executors in
// one process share a time line.
struct RunTrace {
  double start_us = 0, duration_us = 0;
  std::vector<double> step_start_us, step_duration_us;  // per step; aliased steps: 0 duration
  size_t thread = 0;  // hash of the calling thread's id: concurrent runs go on separate tracks
};

class Executor {
 public:
  Executor(const Graph& graph, std::vector<ValueId> outputs, ExecutorOptions options = {});
  ~Executor();

  // `inputs` follow graph.inputs() order; shapes and dtypes must match exactly.
  std::vector<Tensor> run(const std::vector<Tensor>& inputs) const;
  // The same without copies: `results` is resized to the number of outputs and overwritten.
  void run(std::span<const Tensor* const> inputs, std::vector<Tensor>& results) const;

  size_t num_steps() const { return steps_.size(); }
  const std::vector<StepInfo>& step_info() const { return info_; }
  const MemoryPlan& memory_plan() const { return plan_; }
  int64_t output_bytes() const { return output_bytes_; }
  // Byte offset of a value's buffer in the arena; -1 for values outside it (inputs, constants,
  // outputs, values no step computes).
  int64_t arena_offset(ValueId v) const {
    const int b = buffer_of_[static_cast<size_t>(v)];
    return b < 0 ? -1 : plan_.offsets[static_cast<size_t>(b)];
  }
  // Arena plus outputs: the bytes one run() needs beyond its inputs and constants.
  int64_t planned_peak_bytes() const { return plan_.arena_bytes + output_bytes_; }
  StepTimes profile_times() const;
  // The last ExecutorOptions::trace_runs profiled runs, oldest first.
  std::vector<RunTrace> profile_trace() const;
  void reset_profile() const;

 private:
  struct Step {
    const Op* op;
    KernelFn fn;
    uint32_t in_begin, n_in, out_begin, n_out;  // argument ranges in Context::args
    bool aliased;
  };
  struct Context;  // the arena and the argument tensors of every step
  struct Binding {  // a value bound per run: a graph input or a returned output
    ValueId value;
    std::vector<uint32_t> refs;  // argument positions that read or write it
  };
  std::unique_ptr<Context> make_context() const;
  void execute(Context& ctx, std::span<const Tensor* const> inputs, std::vector<Tensor>& results) const;

  const Graph& graph_;
  std::vector<ValueId> outputs_;
  ExecutorOptions options_;
  bool timed_;  // profile or MITHRIL_VERBOSE
  bool verbose_;
  std::vector<Step> steps_;
  std::vector<StepInfo> info_;
  std::vector<ValueId> arg_values_;   // the value at every argument position
  std::vector<int> buffer_of_;        // per value: arena buffer, or -1
  MemoryPlan plan_;
  std::vector<Binding> input_bindings_;   // graph.inputs() order
  std::vector<Binding> output_bindings_;  // outputs produced by steps: fresh tensors per run
  // Per output position: index into output_bindings_, or -(1 + input index), or a constant
  // (kConstantOutput: the graph's constant, shared).
  std::vector<int> output_source_;
  std::vector<size_t> output_first_;  // per output position: the first position returning the same value
  int64_t output_bytes_ = 0;

  mutable std::unique_ptr<Context> primary_;
  mutable std::atomic<bool> primary_busy_{false};
  mutable std::mutex profile_mutex_;
  mutable StepTimes times_;
  mutable std::deque<RunTrace> traces_;
};

// Runs one node on constant inputs with its registered kernel (constant folding).
std::vector<Tensor> run_node(const Node& node, const Graph& graph, const std::vector<Tensor>& inputs);

// Convenience: run `graph` once for `outputs` with inputs in graph.inputs() order.
std::vector<Tensor> run_graph(const Graph& graph, const std::vector<Var>& outputs, const std::vector<Tensor>& inputs);

}  // namespace mithril::cpu
