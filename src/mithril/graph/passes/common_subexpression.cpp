// Common subexpression elimination: a node applying the same op (kind and attributes) to the
// same values as an earlier node reuses that node's outputs; equal small constants become one.
// Run on the whole program it merges the recomputations autodiff adds to the forward graph
// (the gradient of sigmoid re-reading sigmoid(x), transposes of the same weight, ...).
#include <cstring>
#include <unordered_map>

#include "mithril/graph/passes.h"

namespace mithril {

namespace {
constexpr size_t kMaxMergedConstantBytes = 4096;  // larger constants are compared by identity only
}

GraphProgram common_subexpression_elimination(const GraphProgram& p) {
  Rewriter rw(p);
  const Graph& g = *p.graph;
  std::unordered_map<std::string, ValueId> constants;
  for (size_t v = 0; v < g.values().size(); ++v) {
    const auto id = static_cast<ValueId>(v);
    if (!g.is_constant(id)) continue;
    const Tensor& t = g.constant_value(id);
    if (t.nbytes() > kMaxMergedConstantBytes) continue;
    std::string key = std::string(dtype_name(t.dtype())) + shape_str(t.shape());
    key.append(static_cast<const char*>(t.raw_data()), t.nbytes());
    const auto [it, fresh] = constants.emplace(std::move(key), -1);
    if (fresh) it->second = rw.map(id).id();
    else rw.set(id, rw.target().var(it->second));
  }
  std::unordered_map<std::string, std::vector<ValueId>> seen;
  for (const Node& node : g.nodes()) {
    std::string key = node.op->to_string();
    for (ValueId in : node.inputs) {
      key += '|';
      key += std::to_string(rw.map(in).id());
    }
    if (const auto it = seen.find(key); it != seen.end()) {
      for (size_t i = 0; i < node.outputs.size(); ++i) rw.set(node.outputs[i], rw.target().var(it->second[i]));
      continue;
    }
    rw.copy(node);
    std::vector<ValueId> outs;
    for (ValueId o : node.outputs) outs.push_back(rw.map(o).id());
    seen.emplace(std::move(key), std::move(outs));
  }
  return rw.finish();
}

}  // namespace mithril
