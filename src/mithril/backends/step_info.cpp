#include "mithril/backends/step_info.h"

namespace mithril {

StepInfo step_info_of(const Graph& graph, NodeId node) {
  const Node& n = graph.nodes()[static_cast<size_t>(node)];
  StepInfo si{node, n.op.get(), nullptr, {}, {}, false};
  for (ValueId v : n.inputs) {
    si.signature.input_shapes.push_back(graph.value(v).shape);
    si.signature.input_dtypes.push_back(graph.value(v).dtype);
  }
  for (ValueId v : n.outputs) {
    si.signature.output_shapes.push_back(graph.value(v).shape);
    si.signature.output_dtypes.push_back(graph.value(v).dtype);
  }
  return si;
}

}  // namespace mithril
