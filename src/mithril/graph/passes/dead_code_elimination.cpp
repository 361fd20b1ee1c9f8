// Dead code elimination: only nodes some fetched value depends on are kept.
#include "mithril/graph/passes.h"

namespace mithril {

GraphProgram dead_code_elimination(const GraphProgram& p) {
  Rewriter rw(p);
  const std::vector<bool> needed = needed_nodes(*p.graph, p.outputs);
  const auto& nodes = p.graph->nodes();
  for (size_t n = 0; n < nodes.size(); ++n)
    if (needed[n]) rw.copy(nodes[n]);
  return rw.finish();
}

}  // namespace mithril
