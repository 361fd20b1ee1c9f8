// Runs a graph on the CPU. Construction does all planning: it keeps only the nodes the
// requested outputs need, resolves every kernel once, and computes when each intermediate
// buffer can be released. run() then binds inputs and calls kernels in order.
#pragma once

#include <vector>

#include "mithril/backends/cpu/registry.h"
#include "mithril/graph/ir.h"

namespace mithril::cpu {

class Executor {
 public:
  Executor(const Graph& graph, std::vector<ValueId> outputs);

  // `inputs` follow graph.inputs() order; shapes and dtypes must match exactly.
  std::vector<Tensor> run(const std::vector<Tensor>& inputs) const;
  size_t num_steps() const { return steps_.size(); }

 private:
  struct Step {
    const Op* op;
    const KernelEntry* kernel;
    std::vector<ValueId> inputs, outputs;
    std::vector<ValueId> release_after;  // values whose last use is this step
  };
  const Graph& graph_;
  std::vector<ValueId> outputs_;
  std::vector<Step> steps_;
  bool verbose_;  // MITHRIL_VERBOSE: log each kernel call
};

// Convenience: run `graph` once for `outputs` with inputs in graph.inputs() order.
std::vector<Tensor> run_graph(const Graph& graph, const std::vector<Var>& outputs, const std::vector<Tensor>& inputs);

}  // namespace mithril::cpu
