#include "mithril/graph/autodiff.h"

#include "mithril/core/error.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/reduce.h"
#include "mithril/ops/shape.h"

namespace mithril {

std::vector<std::optional<Var>> vjp(Graph& graph, const std::vector<Var>& outputs,
                                    const std::vector<std::optional<Var>>& cotangents, const std::vector<Var>& wrt) {
  MI_CHECK(outputs.size() == cotangents.size(), ValueError, "[vjp] {} outputs but {} cotangents", outputs.size(),
           cotangents.size());
  const size_t num_values = graph.values().size();
  const size_t num_nodes = graph.nodes().size();  // nodes appended below are not revisited

  // Values that depend on some wrt value (forward reachability in topological order).
  std::vector<bool> depends(num_values, false);
  for (const Var& w : wrt) depends[static_cast<size_t>(w.id())] = true;
  for (size_t n = 0; n < num_nodes; ++n) {
    const Node& node = graph.nodes()[n];
    bool any = false;
    for (ValueId in : node.inputs) any = any || depends[static_cast<size_t>(in)];
    if (any && node.op->differentiable())
      for (ValueId o : node.outputs) depends[static_cast<size_t>(o)] = true;
  }

  std::vector<std::optional<Var>> grads(num_values);
  auto accumulate = [&](ValueId id, Var g) {
    // Copies: adding nodes below may reallocate the value table.
    const Shape shape = graph.value(id).shape;
    const DType dtype = graph.value(id).dtype;
    if (g.shape() != shape) g = ops::sum_to(g, shape);
    g = ops::cast(g, dtype);
    auto& slot = grads[static_cast<size_t>(id)];
    slot = slot ? ops::add(*slot, g) : g;
  };

  for (size_t i = 0; i < outputs.size(); ++i) {
    if (!cotangents[i]) continue;
    const Var& ct = *cotangents[i];
    MI_CHECK(ct.shape() == outputs[i].shape(), ShapeError, "[vjp] cotangent {} has shape {} but output has shape {}", i,
             shape_str(ct.shape()), shape_str(outputs[i].shape()));
    if (depends[static_cast<size_t>(outputs[i].id())]) accumulate(outputs[i].id(), ct);
  }

  for (size_t n = num_nodes; n-- > 0;) {
    // Copy: applying ops below may reallocate the node list.
    const Node node = graph.nodes()[n];
    if (!node.op->differentiable()) continue;
    std::vector<std::optional<Var>> out_ct;
    bool any = false;
    for (ValueId o : node.outputs) {
      out_ct.push_back(grads[static_cast<size_t>(o)]);
      any = any || grads[static_cast<size_t>(o)].has_value();
    }
    if (!any) continue;
    bool needed = false;
    for (ValueId in : node.inputs) needed = needed || depends[static_cast<size_t>(in)];
    if (!needed) continue;
    // Rules may assume every output has a cotangent: fill the missing ones with zeros.
    for (size_t k = 0; k < out_ct.size(); ++k)
      if (!out_ct[k]) {
        const Var o = graph.var(node.outputs[k]);
        out_ct[k] = ops::broadcast_to(ops::scalar_like(o, 0.0), o.shape());
      }
    std::vector<Var> ins, outs;
    for (ValueId in : node.inputs) ins.push_back(graph.var(in));
    for (ValueId o : node.outputs) outs.push_back(graph.var(o));
    const std::vector<std::optional<Var>> in_grads = node.op->vjp(ins, outs, out_ct);
    MI_ASSERT(in_grads.size() == node.inputs.size());
    for (size_t k = 0; k < in_grads.size(); ++k) {
      const ValueId in = node.inputs[k];
      if (in_grads[k] && depends[static_cast<size_t>(in)] && is_float(graph.value(in).dtype))
        accumulate(in, *in_grads[k]);
    }
  }

  std::vector<std::optional<Var>> result;
  for (const Var& w : wrt) result.push_back(grads[static_cast<size_t>(w.id())]);
  return result;
}

}  // namespace mithril
