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
#include "mithril/backends/executable.h"
#include "mithril/ir/ir.h"
#include "mithril/graph/memory_plan.h"

namespace mithril::cpu {

struct ExecutorOptions {
  bool profile = false;  // time every step (profile_times()); off: the loop has no clock calls
  bool in_place = true;  // elementwise ops may write over an input whose last use they are
  int64_t mem_size = 0;  // when > 0: planned peak bytes (arena + outputs) above it is a ValueError
  size_t trace_runs = 16;  // profiling keeps the per-step start times of the last trace_runs runs
  bool check_numerics = false;  // stop at the first step writing NaN/Inf (backends/check_numerics.h)
  IsaLevel isa_cap = IsaLevel::amx;  // kernels are chosen among those this cap admits
};

class Executor final : public Executable {
 public:
  Executor(const Graph& graph, std::vector<ValueId> outputs, ExecutorOptions options = {});
  ~Executor() override;

  using Executable::run;
  // `inputs` follow graph.inputs() order; shapes and dtypes must match exactly. `results` is
  // resized to the number of outputs and overwritten.
  void run(std::span<const Tensor* const> inputs, std::vector<Tensor>& results) const override;

  size_t num_steps() const override { return steps_.size(); }
  const std::vector<StepInfo>& step_info() const override { return info_; }
  const MemoryPlan& memory_plan() const override { return plan_; }
  int64_t output_bytes() const override { return output_bytes_; }
  // Byte offset of a value's buffer in the arena; -1 for values outside it (inputs, constants,
  // outputs, values no step computes).
  int64_t arena_offset(ValueId v) const {
    const int b = buffer_of_[static_cast<size_t>(v)];
    return b < 0 ? -1 : plan_.offsets[static_cast<size_t>(b)];
  }
  StepTimes profile_times() const override;
  // The last ExecutorOptions::trace_runs profiled runs, oldest first.
  std::vector<RunTrace> profile_trace() const override;
  void reset_profile() const override;

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
  bool timed_;  // profile, MITHRIL_VERBOSE or check_numerics: the loop with per-step work
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

// Runs one node on constant inputs with its CPU kernel (constant folding).
std::vector<Tensor> run_node(const Node& node, const Graph& graph, const std::vector<Tensor>& inputs);

// Convenience: run `graph` once for `outputs` with inputs in graph.inputs() order.
std::vector<Tensor> run_graph(const Graph& graph, const std::vector<Var>& outputs, const std::vector<Tensor>& inputs);

}  // namespace mithril::cpu
