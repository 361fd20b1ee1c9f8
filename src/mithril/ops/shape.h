// Layout and indexing ops: cast, reshape, broadcast, permute, slicing, padding, concatenation,
// splitting, gather/scatter, diagonal, eye, one-hot.
#pragma once

#include "mithril/graph/ir.h"
#include "mithril/ops/op.h"

namespace mithril {

struct CastOp : Op {
  explicit CastOp(DType to) : Op(OpKind::Cast), to(to) {}
  DType to;
  std::vector<Shape> infer_shapes(std::span<const Shape> inputs) const override;
  std::vector<DType> infer_dtypes(std::span<const DType> inputs) const override;
  std::vector<std::optional<Var>> vjp(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                                      const std::vector<std::optional<Var>>& cotangents) const override;
  std::string attributes() const override;
  Cost cost(const OpSignature& sig) const override;
};

// Reshape to a fully known shape (builders resolve -1 before creating the op).
struct ReshapeOp : Op {
  explicit ReshapeOp(Shape shape) : Op(OpKind::Reshape), shape(std::move(shape)) {}
  Shape shape;
  std::vector<Shape> infer_shapes(std::span<const Shape> inputs) const override;
  std::vector<std::optional<Var>> vjp(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                                      const std::vector<std::optional<Var>>& cotangents) const override;
  std::string attributes() const override;
  Cost cost(const OpSignature& sig) const override;
};

struct BroadcastToOp : Op {
  explicit BroadcastToOp(Shape shape) : Op(OpKind::BroadcastTo), shape(std::move(shape)) {}
  Shape shape;
  std::vector<Shape> infer_shapes(std::span<const Shape> inputs) const override;
  std::vector<std::optional<Var>> vjp(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                                      const std::vector<std::optional<Var>>& cotangents) const override;
  std::string attributes() const override;
  Cost cost(const OpSignature& sig) const override;
};

// Permute axes; `axes` is a full permutation (normalised to non-negative by the builder).
struct PermuteOp : Op {
  explicit PermuteOp(Axes axes) : Op(OpKind::Permute), axes(std::move(axes)) {}
  Axes axes;
  std::vector<Shape> infer_shapes(std::span<const Shape> inputs) const override;
  std::vector<std::optional<Var>> vjp(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                                      const std::vector<std::optional<Var>>& cotangents) const override;
  std::string attributes() const override;
  Cost cost(const OpSignature& sig) const override;
};

namespace ops {

Var cast(const Var& x, DType to);  // no node when x already has dtype `to`
Var reshape(const Var& x, Shape shape);  // one dim may be -1
Var broadcast_to(const Var& x, const Shape& shape);  // no node when the shape already matches
Var permute(const Var& x, const Axes& axes);
Var transpose(const Var& x);  // reverse all axes
Var swap_axes(const Var& x, int64_t a, int64_t b);
Var flatten(const Var& x, int64_t start_dim = 0, int64_t end_dim = -1);
Var squeeze(const Var& x, int64_t axis);
Var unsqueeze(const Var& x, int64_t axis);

}  // namespace ops
}  // namespace mithril
