// Horizontal fusion of products: matmuls that multiply the same left operand by different 2-D
// weights (graph inputs or constants, each read as is or transposed) become one product by the
// weights concatenated along the output axis, split back into the original results. The
// per-head query/key/value projections of attention and the four gate products of an LSTM cell
// each become one GEMM: fewer, wider calls, which the two cores share better than several
// narrow ones. The concatenated weight is built once per distinct list of weights, so an
// unrolled recurrence shares it across all of its steps and autodiff accumulates a single
// gradient for it (split back per weight once). The pass runs on the forward graph before
// autodiff, so the gradient graph inherits the merged products: one product for the gradient of
// the shared operand and one for the weights'.
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "mithril/graph/passes.h"
#include "mithril/ops/linalg.h"
#include "mithril/ops/shape.h"

namespace mithril {

namespace {

// Products whose left operand has fewer rows than this are left alone: the weights are copied
// into the concatenation on every call, which costs as much as a product with that many rows.
constexpr int64_t kMinRows = 8;

// A product's right operand when it is a weight: the leaf value w, read as is or transposed.
struct Weight {
  ValueId w = -1;
  bool transposed = false;
};

bool is_leaf(const Graph& g, ValueId v) { return g.value(v).producer < 0; }  // an input or a constant

std::optional<Weight> weight_operand(const Graph& g, ValueId r) {
  const Value& rv = g.value(r);
  if (rv.shape.size() != 2) return std::nullopt;
  if (is_leaf(g, r)) return Weight{r, false};
  const Node& p = g.nodes()[static_cast<size_t>(rv.producer)];
  if (is_matrix_transpose(*p.op) && is_leaf(g, p.inputs[0]))
    return Weight{p.inputs[0], true};
  return std::nullopt;
}

struct Member {
  NodeId node = -1;
  Weight weight;
};

}  // namespace

GraphProgram merge_parallel_products(const GraphProgram& p) {
  const Graph& g = *p.graph;
  const auto& nodes = g.nodes();

  // Candidate products grouped by (left operand, transposed weights), in graph order.
  std::map<std::pair<ValueId, bool>, std::vector<Member>> by_operand;
  for (size_t n = 0; n < nodes.size(); ++n) {
    const Node& node = nodes[n];
    if (node.op->kind() != OpKind::MatMul) continue;
    const Value& x = g.value(node.inputs[0]);
    if (x.shape.size() < 2) continue;
    const std::optional<Weight> w = weight_operand(g, node.inputs[1]);
    if (!w || g.value(w->w).dtype != x.dtype) continue;
    if (numel(x.shape) / x.shape.back() < kMinRows) continue;
    by_operand[{node.inputs[0], w->transposed}].push_back({static_cast<NodeId>(n), *w});
  }
  std::vector<const std::vector<Member>*> group_of(nodes.size(), nullptr);
  for (const auto& [key, members] : by_operand)
    if (members.size() >= 2)
      for (const Member& m : members) group_of[static_cast<size_t>(m.node)] = &members;

  Rewriter rw(p);
  std::map<std::pair<std::vector<ValueId>, bool>, ValueId> concatenated;  // weights -> merged right operand
  for (size_t n = 0; n < nodes.size(); ++n) {
    const std::vector<Member>* group = group_of[n];
    if (!group) {
      rw.copy(nodes[n]);
      continue;
    }
    if (group->front().node != static_cast<NodeId>(n)) continue;  // merged with the first of its group
    const bool transposed = group->front().weight.transposed;
    std::vector<ValueId> weights;
    std::vector<int64_t> widths;
    for (const Member& m : *group) {
      weights.push_back(m.weight.w);
      widths.push_back(g.value(m.weight.w).shape[transposed ? 0 : 1]);
    }
    auto [it, fresh] = concatenated.emplace(std::make_pair(weights, transposed), -1);
    if (fresh) {
      std::vector<Var> ws;
      for (ValueId w : weights) ws.push_back(rw.map(w));
      it->second = (transposed ? ops::transpose(ops::concat(ws, 0)) : ops::concat(ws, 1)).id();
    }
    const Var product = ops::matmul(rw.map(nodes[n].inputs[0]), rw.target().var(it->second));
    const std::vector<Var> pieces = ops::split(product, widths, product.ndim() - 1);
    for (size_t i = 0; i < group->size(); ++i)
      rw.set(nodes[static_cast<size_t>((*group)[i].node)].outputs[0], pieces[i]);
  }
  return rw.finish();
}

}  // namespace mithril
