// Operator fusion: chains of elementwise ops become one fused_elementwise node, and a matmul by a
// 2-D weight together with the elementwise chain after it (bias add, activation, ...) becomes one
// fused_linear node. Transposes are folded into the product instead of materialized: a 2-D
// operand that comes from a transpose is read transposed in place (the weight of a Linear layer,
// the x^T of its weight gradient), and the transpose of a 2-D product is computed directly as
// b^T a^T (autodiff's gradient of a transposed weight). An add whose other operand is another
// such product (the gradient of a weight shared by many steps, summed by autodiff) accumulates
// that product into the group's output instead of materializing it. A value inside a group must
// have exactly one use, the next op of the group, and not be fetched, so no intermediate is
// needed by anything else.
#include <algorithm>
#include <optional>

#include "mithril/graph/passes.h"
#include "mithril/ops/fused.h"
#include "mithril/ops/shape.h"

namespace mithril {

namespace {

bool elementwise(const Node& n) { return n.outputs.size() == 1 && is_elementwise(n.op->kind()); }

bool operand_fits(const Shape& operand, const Shape& output) { return fused_operand_kind(operand, output).has_value(); }

// One product of a group: x @ w with the transposes read in place.
struct Product {
  ValueId x = -1, w = -1;
  FusedProduct flags;
  std::vector<NodeId> nodes;  // the matmul, then the transpose of its result when folded
};

struct Group {
  bool linear = false;
  std::vector<Product> products;
  std::vector<NodeId> nodes;  // in graph order; the last one produces the group's value
  bool has_steps = false;     // products can be accumulated only before the first step
};

}  // namespace

GraphProgram operator_fusion(const GraphProgram& p) {
  const Graph& g = *p.graph;
  const auto& nodes = g.nodes();
  std::vector<int> uses(g.values().size(), 0);
  for (const Node& n : nodes)
    for (ValueId v : n.inputs) ++uses[static_cast<size_t>(v)];
  for (ValueId o : p.outputs) uses[static_cast<size_t>(o)] += 1000;  // fetched values never disappear into a group
  std::vector<NodeId> consumer(g.values().size(), -1);
  for (size_t n = 0; n < nodes.size(); ++n)
    for (ValueId v : nodes[n].inputs) consumer[static_cast<size_t>(v)] = static_cast<NodeId>(n);

  std::vector<int> group_of(nodes.size(), -1);
  std::vector<Group> groups;
  auto free_node = [&](NodeId n) { return n >= 0 && group_of[static_cast<size_t>(n)] < 0; };
  // The 2-D value a transpose reads, when v comes from one (it is then read transposed in place).
  // Not when the transpose may itself become a group's product ((a b)^T), whose a b is never
  // materialized.
  auto transpose_source = [&](ValueId v) -> std::optional<ValueId> {
    const NodeId t = g.value(v).producer;
    if (!free_node(t) || !is_matrix_transpose(*nodes[static_cast<size_t>(t)].op)) return std::nullopt;
    const ValueId src = nodes[static_cast<size_t>(t)].inputs[0];
    const NodeId sp = g.value(src).producer;
    if (sp >= 0 && nodes[static_cast<size_t>(sp)].op->kind() == OpKind::MatMul && uses[static_cast<size_t>(src)] == 1) return std::nullopt;
    return src;
  };
  // The product computing value v: an ungrouped float matmul by a 2-D weight, or the transpose of
  // an ungrouped 2-D float matmul whose only use it is.
  auto product_of = [&](ValueId v) -> std::optional<Product> {
    const NodeId n = g.value(v).producer;
    if (!free_node(n)) return std::nullopt;
    const Node& node = nodes[static_cast<size_t>(n)];
    if (!is_float(g.value(v).dtype)) return std::nullopt;  // f16/bf16 products compute in float32
    Product prod;
    if (node.op->kind() == OpKind::MatMul) {
      const Value& x = g.value(node.inputs[0]);
      const Value& w = g.value(node.inputs[1]);
      if (x.shape.size() < 2 || w.shape.size() != 2) return std::nullopt;
      prod.x = node.inputs[0];
      prod.w = node.inputs[1];
      if (const auto src = transpose_source(prod.w)) prod = {prod.x, *src, {false, true}, {}};
      if (const auto src = x.shape.size() == 2 ? transpose_source(prod.x) : std::nullopt) {
        prod.x = *src;
        prod.flags.transpose_left = true;
      }
      prod.nodes = {n};
      return prod;
    }
    if (!is_matrix_transpose(*node.op) || uses[static_cast<size_t>(node.inputs[0])] != 1) return std::nullopt;
    const NodeId mn = g.value(node.inputs[0]).producer;
    if (!free_node(mn) || nodes[static_cast<size_t>(mn)].op->kind() != OpKind::MatMul) return std::nullopt;
    const Node& mm = nodes[static_cast<size_t>(mn)];
    if (g.value(mm.inputs[0]).shape.size() != 2 || g.value(mm.inputs[1]).shape.size() != 2) return std::nullopt;
    // (a b)^T = b^T a^T: x = b read transposed, w = a read transposed (a transpose undone).
    prod.x = mm.inputs[1];
    prod.w = mm.inputs[0];
    prod.flags = {true, true};
    if (const auto src = transpose_source(prod.x)) {
      prod.x = *src;
      prod.flags.transpose_left = false;
    }
    if (const auto src = transpose_source(prod.w)) {
      prod.w = *src;
      prod.flags.transpose_right = false;
    }
    prod.nodes = {mn, n};
    return prod;
  };
  // Follows the single-use chain of elementwise ops from `value` (shape and dtype fixed); in a
  // linear group, an add of another product accumulates that product.
  auto extend = [&](Group& grp, ValueId value) {
    const Value& v = g.value(value);
    for (;;) {
      if (uses[static_cast<size_t>(value)] != 1) return;
      const NodeId c = consumer[static_cast<size_t>(value)];
      const Node& next = nodes[static_cast<size_t>(c)];
      if (group_of[static_cast<size_t>(c)] >= 0 || !elementwise(next)) return;
      const Value& out = g.value(next.outputs[0]);
      if (out.shape != v.shape || out.dtype != v.dtype) return;
      if (grp.linear && !grp.has_steps && next.op->kind() == OpKind::Add && next.inputs[0] != next.inputs[1]) {
        const ValueId other = next.inputs[0] == value ? next.inputs[1] : next.inputs[0];
        const Value& ov = g.value(other);
        std::optional<Product> prod;
        if (ov.shape == v.shape && ov.dtype == v.dtype && uses[static_cast<size_t>(other)] == 1) prod = product_of(other);
        if (prod) {
          for (NodeId n : prod->nodes) grp.nodes.push_back(n);
          grp.products.push_back(std::move(*prod));
          grp.nodes.push_back(c);
          value = next.outputs[0];
          continue;
        }
      }
      for (ValueId in : next.inputs)
        if (in != value && !operand_fits(g.value(in).shape, v.shape)) return;
      grp.nodes.push_back(c);
      grp.has_steps = true;
      value = next.outputs[0];
    }
  };
  auto add_group = [&](Group grp) {
    for (NodeId n : grp.nodes) group_of[static_cast<size_t>(n)] = static_cast<int>(groups.size());
    groups.push_back(std::move(grp));
  };
  // Linear layers first, so their tails join the product rather than a chain of their own.
  for (size_t n = 0; n < nodes.size(); ++n) {
    const Node& node = nodes[n];
    if (group_of[n] >= 0 || node.outputs.size() != 1) continue;
    const ValueId out = node.outputs[0];
    if (node.op->kind() == OpKind::MatMul && uses[static_cast<size_t>(out)] == 1) {
      // A 2-D product whose only use is a transpose is fused there, as b^T a^T.
      const Node& next = nodes[static_cast<size_t>(consumer[static_cast<size_t>(out)])];
      if (is_matrix_transpose(*next.op) && product_of(next.outputs[0])) continue;
    }
    std::optional<Product> prod = product_of(node.outputs[0]);
    if (!prod) continue;
    Group grp{true, {}, prod->nodes, false};
    const bool transposed = prod->flags.transpose_left || prod->flags.transpose_right || prod->nodes.size() > 1;
    grp.products.push_back(std::move(*prod));
    extend(grp, node.outputs[0]);
    if (transposed || grp.nodes.size() > 1) add_group(std::move(grp));
  }
  for (size_t n = 0; n < nodes.size(); ++n) {
    const Node& node = nodes[n];
    if (group_of[n] >= 0 || !elementwise(node)) continue;
    const Value& out = g.value(node.outputs[0]);
    bool fits = true;
    for (ValueId in : node.inputs) fits = fits && operand_fits(g.value(in).shape, out.shape);
    if (!fits) continue;
    Group grp{false, {}, {static_cast<NodeId>(n)}, false};
    extend(grp, node.outputs[0]);
    if (grp.nodes.size() > 1) add_group(std::move(grp));
  }

  Rewriter rw(p);
  for (size_t n = 0; n < nodes.size(); ++n) {
    if (group_of[n] < 0) {
      rw.copy(nodes[n]);
      continue;
    }
    const Group& grp = groups[static_cast<size_t>(group_of[n])];
    if (grp.nodes.back() != static_cast<NodeId>(n)) continue;  // emitted with the group's last node
    std::vector<ValueId> inputs;  // the products' operands, then the steps' in order of first use
    std::vector<FusedProduct> products;
    std::vector<ValueId> produced;  // values computed by the products, never materialized
    for (const Product& prod : grp.products) {
      inputs.push_back(prod.x);
      inputs.push_back(prod.w);
      products.push_back(prod.flags);
      produced.push_back(nodes[static_cast<size_t>(prod.nodes.back())].outputs[0]);
    }
    const size_t first_operand = inputs.size();
    auto input_index = [&](ValueId v) {
      for (size_t i = first_operand; i < inputs.size(); ++i)
        if (inputs[i] == v) return static_cast<int>(i);
      inputs.push_back(v);
      return static_cast<int>(inputs.size() - 1);
    };
    auto is_product = [&](NodeId id) {
      for (const Product& prod : grp.products)
        for (NodeId pn : prod.nodes)
          if (pn == id) return true;
      return false;
    };
    ValueId running = produced.empty() ? -1 : produced[0];
    std::vector<FusedStep> steps;
    for (NodeId id : grp.nodes) {
      if (is_product(id)) continue;
      const Node& node = nodes[static_cast<size_t>(id)];
      const bool accumulates = node.op->kind() == OpKind::Add &&
                               std::find(produced.begin() + 1, produced.end(), node.inputs[0] == running ? node.inputs[1] : node.inputs[0]) !=
                                   produced.end();
      if (!accumulates) {  // the add of a later product is done by the product itself
        FusedStep step{node.op, {}};
        for (ValueId in : node.inputs) step.args.push_back(in == running ? FusedStep::kRunning : input_index(in));
        steps.push_back(std::move(step));
      }
      running = node.outputs[0];
    }
    const Value& out = g.value(running);
    const OpKind kind = grp.linear ? OpKind::FusedLinear : OpKind::FusedElementwise;
    auto op = std::make_shared<FusedOp>(kind, out.shape, out.dtype, std::move(steps), std::move(products));
    std::vector<Var> ins;
    for (ValueId v : inputs) ins.push_back(rw.map(v));
    rw.set(running, rw.target().apply1(op, ins));
  }
  return rw.finish();
}

}  // namespace mithril
