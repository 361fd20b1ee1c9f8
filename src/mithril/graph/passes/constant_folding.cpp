// Constant folding: a node whose inputs are all constants (literal constants, static keys, or
// results of nodes already folded) is evaluated once at compile time with the backend's own
// kernels, so the folded value is bitwise what the program would have computed.
#include "mithril/graph/passes.h"

namespace mithril {

GraphProgram constant_folding(const GraphProgram& p, const NodeEvaluator& evaluate, int64_t max_elements) {
  Rewriter rw(p);
  for (const Node& node : p.graph->nodes()) {
    bool all_constant = true;
    std::vector<Tensor> ins;
    for (ValueId v : node.inputs) {
      const Var m = rw.map(v);
      if (!rw.target().is_constant(m.id())) {
        all_constant = false;
        break;
      }
      ins.push_back(rw.target().constant_value(m.id()));
    }
    int64_t elements = 0;
    for (ValueId o : node.outputs) elements += numel(p.graph->value(o).shape);
    if (!all_constant || elements > max_elements) {
      rw.copy(node);
      continue;
    }
    const std::vector<Tensor> outs = evaluate(node, *p.graph, ins);
    for (size_t i = 0; i < outs.size(); ++i) rw.set(node.outputs[i], rw.target().constant(outs[i]));
  }
  return rw.finish();
}

}  // namespace mithril
