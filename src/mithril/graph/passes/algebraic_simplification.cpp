// Algebraic simplification and transpose/reshape folding. Only rewrites that are exact for every
// input are made, so results stay bitwise equal: identities (identity, stop_gradient after
// autodiff, reshape/broadcast_to to the same shape, cast to the same dtype, the identity
// permutation, x * 1), involutions (neg(neg(x))), and chains folded into one node
// (reshape(reshape(x)) -> reshape(x), permute(permute(x)) -> one permute).
#include "mithril/graph/passes.h"
#include "mithril/ops/shape.h"

namespace mithril {

namespace {

bool all_ones(const Graph& g, ValueId v) {
  if (!g.is_constant(v)) return false;
  const Tensor& t = g.constant_value(v);
  if (t.numel() > 4096) return false;
  for (double x : t.to_doubles())
    if (x != 1.0) return false;
  return true;
}

}  // namespace

GraphProgram algebraic_simplification(const GraphProgram& p) {
  Rewriter rw(p);
  const Graph& src = *p.graph;
  Graph& dst = rw.target();
  // The node that produced a target value, when it is a node of the target graph.
  auto producer = [&](const Var& v) -> const Node* {
    const NodeId n = dst.value(v.id()).producer;
    return n < 0 ? nullptr : &dst.nodes()[static_cast<size_t>(n)];
  };
  for (const Node& node : src.nodes()) {
    if (node.outputs.size() != 1) {
      rw.copy(node);
      continue;
    }
    const ValueId out = node.outputs[0];
    const Value& ov = src.value(out);
    const OpKind kind = node.op->kind();
    auto in = [&](size_t i) { return rw.map(node.inputs[i]); };
    auto same_as_output = [&](const Var& v) { return dst.value(v.id()).shape == ov.shape && dst.value(v.id()).dtype == ov.dtype; };
    if ((kind == OpKind::Identity || kind == OpKind::StopGradient || kind == OpKind::Reshape || kind == OpKind::BroadcastTo ||
         kind == OpKind::Cast) &&
        same_as_output(in(0))) {
      rw.set(out, in(0));
      continue;
    }
    if (kind == OpKind::Permute) {
      const Axes& axes = static_cast<const PermuteOp&>(*node.op).axes;
      bool identity = true;
      for (size_t i = 0; i < axes.size(); ++i) identity = identity && axes[i] == static_cast<int64_t>(i);
      if (identity) {
        rw.set(out, in(0));
        continue;
      }
      if (const Node* prev = producer(in(0)); prev && prev->op->kind() == OpKind::Permute) {
        const Axes& first = static_cast<const PermuteOp&>(*prev->op).axes;
        Axes composed(axes.size());
        for (size_t i = 0; i < axes.size(); ++i) composed[i] = first[static_cast<size_t>(axes[i])];
        rw.set(out, ops::permute(dst.var(prev->inputs[0]), composed));
        continue;
      }
    }
    if (kind == OpKind::Reshape) {
      if (const Node* prev = producer(in(0)); prev && prev->op->kind() == OpKind::Reshape) {
        const Var x = dst.var(prev->inputs[0]);
        rw.set(out, x.shape() == ov.shape ? x : ops::reshape(x, ov.shape));
        continue;
      }
    }
    if (kind == OpKind::Neg) {
      if (const Node* prev = producer(in(0)); prev && prev->op->kind() == OpKind::Neg) {
        rw.set(out, dst.var(prev->inputs[0]));
        continue;
      }
    }
    if (kind == OpKind::Mul && node.inputs.size() == 2) {
      const Var a = in(0), b = in(1);
      if (all_ones(dst, b.id()) && same_as_output(a)) {
        rw.set(out, a);
        continue;
      }
      if (all_ones(dst, a.id()) && same_as_output(b)) {
        rw.set(out, b);
        continue;
      }
    }
    rw.copy(node);
  }
  return rw.finish();
}

}  // namespace mithril
