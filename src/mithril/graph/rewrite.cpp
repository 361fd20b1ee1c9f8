#include "mithril/graph/rewrite.h"

#include <algorithm>

#include "mithril/core/error.h"

namespace mithril {

Rewriter::Rewriter(const GraphProgram& source)
    : src_(*source.graph), source_outputs_(source.outputs), map_(src_.values().size(), -1) {
  for (ValueId in : src_.inputs()) {
    const Value& v = src_.value(in);
    set(in, dst_.graph->input(v.name, v.shape, v.dtype));
  }
}

Var Rewriter::map(ValueId v) {
  ValueId& m = map_[static_cast<size_t>(v)];
  if (m < 0) {
    MI_ASSERT(src_.is_constant(v));
    m = dst_.graph->constant(src_.constant_value(v)).id();
  }
  return dst_.graph->var(m);
}

void Rewriter::copy(const Node& node) {
  std::vector<Var> ins;
  for (ValueId v : node.inputs) ins.push_back(map(v));
  const std::vector<Var> outs = dst_.graph->apply(node.op, ins);
  for (size_t i = 0; i < outs.size(); ++i) set(node.outputs[i], outs[i]);
}

GraphProgram Rewriter::finish() {
  for (ValueId o : source_outputs_) dst_.outputs.push_back(map(o).id());
  return std::move(dst_);
}

std::vector<bool> needed_nodes(const Graph& graph, const std::vector<ValueId>& outputs) {
  const auto& nodes = graph.nodes();
  std::vector<bool> needed_value(graph.values().size(), false);
  for (ValueId o : outputs) needed_value[static_cast<size_t>(o)] = true;
  std::vector<bool> needed(nodes.size(), false);
  for (size_t n = nodes.size(); n-- > 0;) {
    const Node& node = nodes[n];
    if (std::none_of(node.outputs.begin(), node.outputs.end(), [&](ValueId v) { return needed_value[static_cast<size_t>(v)]; }))
      continue;
    needed[n] = true;
    for (ValueId in : node.inputs) needed_value[static_cast<size_t>(in)] = true;
  }
  return needed;
}

}  // namespace mithril
