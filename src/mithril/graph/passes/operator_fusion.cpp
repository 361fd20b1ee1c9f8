// Operator fusion: chains of elementwise ops become one fused_elementwise node, and a matmul by a
// 2-D weight (read transposed in place when it comes from a transpose) together with the
// elementwise chain after it (bias add, activation, ...) becomes one fused_linear node. A value
// inside a group must have exactly one use, the next op of the group, and not be fetched, so
// no intermediate is needed by anything else.
#include <map>

#include "mithril/graph/passes.h"
#include "mithril/ops/fused.h"
#include "mithril/ops/shape.h"

namespace mithril {

namespace {

bool elementwise(const Node& n) {
  const std::string_view family = op_info(n.op->kind()).family;
  return n.outputs.size() == 1 && (family == "unary" || family == "binary");
}

bool operand_fits(const Shape& operand, const Shape& output) { return fused_operand_kind(operand, output).has_value(); }

struct Group {
  bool linear = false;
  bool transpose_right = false;
  ValueId weight = -1;        // the weight read by the product (the transpose's input when folded)
  std::vector<NodeId> nodes;  // in graph order; the last one produces the group's value
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
  // Follows the single-use chain of elementwise ops from `value` (shape and dtype fixed).
  auto extend = [&](Group& grp, ValueId value) {
    const Value& v = g.value(value);
    for (;;) {
      if (uses[static_cast<size_t>(value)] != 1) return;
      const NodeId c = consumer[static_cast<size_t>(value)];
      const Node& next = nodes[static_cast<size_t>(c)];
      if (group_of[static_cast<size_t>(c)] >= 0 || !elementwise(next)) return;
      const Value& out = g.value(next.outputs[0]);
      if (out.shape != v.shape || out.dtype != v.dtype) return;
      for (ValueId in : next.inputs)
        if (in != value && !operand_fits(g.value(in).shape, v.shape)) return;
      grp.nodes.push_back(c);
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
    if (node.op->kind() != OpKind::MatMul) continue;
    const Value& x = g.value(node.inputs[0]);
    const Value& w = g.value(node.inputs[1]);
    const Value& out = g.value(node.outputs[0]);
    if (x.shape.size() < 2 || w.shape.size() != 2 || (out.dtype != DType::f64 && out.dtype != DType::f32)) continue;
    Group grp{true, false, node.inputs[1], {static_cast<NodeId>(n)}};
    if (const NodeId t = w.producer; t >= 0 && nodes[static_cast<size_t>(t)].op->kind() == OpKind::Permute &&
                                     static_cast<const PermuteOp&>(*nodes[static_cast<size_t>(t)].op).axes == Axes{1, 0}) {
      grp.transpose_right = true;
      grp.weight = nodes[static_cast<size_t>(t)].inputs[0];
    }
    extend(grp, node.outputs[0]);
    if (grp.transpose_right || grp.nodes.size() > 1) add_group(std::move(grp));
  }
  for (size_t n = 0; n < nodes.size(); ++n) {
    const Node& node = nodes[n];
    if (group_of[n] >= 0 || !elementwise(node)) continue;
    const Value& out = g.value(node.outputs[0]);
    bool fits = true;
    for (ValueId in : node.inputs) fits = fits && operand_fits(g.value(in).shape, out.shape);
    if (!fits) continue;
    Group grp{false, false, -1, {static_cast<NodeId>(n)}};
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
    std::vector<ValueId> inputs;  // source values, in order of first use
    auto input_index = [&](ValueId v) {
      for (size_t i = 0; i < inputs.size(); ++i)
        if (inputs[i] == v) return static_cast<int>(i);
      inputs.push_back(v);
      return static_cast<int>(inputs.size() - 1);
    };
    size_t first = 0;
    ValueId running = -1;
    if (grp.linear) {
      const Node& mm = nodes[static_cast<size_t>(grp.nodes[0])];
      inputs = {mm.inputs[0], grp.weight};
      running = mm.outputs[0];
      first = 1;
    }
    std::vector<FusedStep> steps;
    for (size_t i = first; i < grp.nodes.size(); ++i) {
      const Node& node = nodes[static_cast<size_t>(grp.nodes[i])];
      FusedStep step{node.op, {}};
      for (ValueId in : node.inputs) step.args.push_back(in == running ? FusedStep::kRunning : input_index(in));
      steps.push_back(std::move(step));
      running = node.outputs[0];
    }
    const Value& out = g.value(running);
    const OpKind kind = grp.linear ? OpKind::FusedLinear : OpKind::FusedElementwise;
    auto op = std::make_shared<FusedOp>(kind, out.shape, out.dtype, std::move(steps), grp.transpose_right);
    std::vector<Var> ins;
    for (ValueId v : inputs) ins.push_back(rw.map(v));
    rw.set(running, rw.target().apply1(op, ins));
  }
  return rw.finish();
}

}  // namespace mithril
