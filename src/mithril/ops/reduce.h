// Reductions over a set of axes (sum, mean, max, min, prod, variance, logsumexp, argmax,
// argmin) and ops along one axis (cumsum, softmax, log_softmax).
#pragma once

#include <optional>

#include "mithril/ir/ir.h"
#include "mithril/ir/op.h"

namespace mithril {

// A reduction's declaration besides its ops.def entry: its row of the table in reduce.cpp.
struct ReduceTraits {
  OpKind kind;
  bool along_axis;                 // an AxisOp (one axis, output of the input's shape); else a ReduceOp
  DTypeDomain domain;
  double flops_per_input_element;  // cost (exp/log count 10, as in unary)
  bool index_result = false;       // ArgMax/ArgMin: int64 indices
  bool needs_nonempty = false;     // no identity element: an empty reduced axis is a ShapeError
  bool correction = false;         // Variance: attributes end with ", correction=..."
};
const ReduceTraits& reduce_traits(OpKind kind);  // every op of the reduce family has a row

// `axes` are normalised (non-negative, sorted, unique) by the builder; an empty list reduces
// nothing. `correction` is used by Variance only: sum((x-mean)^2) / (n - correction).
struct ReduceOp : Op {
  ReduceOp(OpKind kind, Axes axes, bool keepdim, double correction = 0.0)
      : Op(kind), axes(std::move(axes)), keepdim(keepdim), correction(correction) {}
  Axes axes;
  bool keepdim;
  double correction;
  std::vector<Shape> infer_shapes(std::span<const Shape> inputs) const override;
  std::vector<DType> infer_dtypes(std::span<const DType> inputs) const override;
  std::vector<std::optional<Var>> vjp(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                                      const std::vector<std::optional<Var>>& cotangents) const override;
  std::string attributes() const override;
  Cost cost(const OpSignature& sig) const override;
  // Number of input elements folded into each output element.
  int64_t reduced_count(const Shape& input) const;
};

// Ops along a single axis whose output has the input's shape.
struct AxisOp : Op {
  AxisOp(OpKind kind, int64_t axis) : Op(kind), axis(axis) {}
  int64_t axis;  // normalised by the builder
  std::vector<Shape> infer_shapes(std::span<const Shape> inputs) const override;
  std::vector<DType> infer_dtypes(std::span<const DType> inputs) const override;
  std::vector<std::optional<Var>> vjp(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                                      const std::vector<std::optional<Var>>& cotangents) const override;
  std::string attributes() const override;
  Cost cost(const OpSignature& sig) const override;
};

namespace ops {

// `axes` = nullopt reduces every axis. Negative axes count from the end.
Var sum(const Var& x, std::optional<Axes> axes = std::nullopt, bool keepdim = false);
Var mean(const Var& x, std::optional<Axes> axes = std::nullopt, bool keepdim = false);
Var max(const Var& x, std::optional<Axes> axes = std::nullopt, bool keepdim = false);
Var min(const Var& x, std::optional<Axes> axes = std::nullopt, bool keepdim = false);
Var prod(const Var& x, std::optional<Axes> axes = std::nullopt, bool keepdim = false);
Var variance(const Var& x, std::optional<Axes> axes = std::nullopt, bool keepdim = false, double correction = 0.0);
Var logsumexp(const Var& x, std::optional<Axes> axes = std::nullopt, bool keepdim = false);
Var argmax(const Var& x, int64_t axis, bool keepdim = false);  // int64 indices
Var argmin(const Var& x, int64_t axis, bool keepdim = false);
Var cumsum(const Var& x, int64_t axis);
Var softmax(const Var& x, int64_t axis = -1);
Var log_softmax(const Var& x, int64_t axis = -1);

// Sums a (broadcast) gradient back to `shape`: over leading extra axes and over axes where
// `shape` has size 1. The inverse of broadcasting; a no-op when the shapes already agree.
Var sum_to(const Var& x, const Shape& shape);
// Re-inserts reduced axes (as size 1) so a reduction's output broadcasts against its input.
Var expand_reduced(const Var& reduced, const ReduceOp& op, const Shape& input_shape);

}  // namespace ops
}  // namespace mithril
