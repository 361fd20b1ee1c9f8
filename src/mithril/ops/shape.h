// Layout and indexing ops: cast, reshape, broadcast, permute, slicing, padding, concatenation,
// splitting, gather/scatter, diagonal, eye, one-hot.
#pragma once

#include <cstdint>

#include "mithril/ir/ir.h"
#include "mithril/ir/op.h"

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

// True for the transpose of a matrix: a permute with axes (1, 0).
inline bool is_matrix_transpose(const Op& op) {
  return op.kind() == OpKind::Permute && static_cast<const PermuteOp&>(op).axes == Axes{1, 0};
}

// Strided slices along some axes (NumPy basic slicing with positive steps). Starts and stops
// may be negative (counted from the end) or out of range (clamped), exactly as in NumPy.
struct SliceOp : Op {
  SliceOp(Axes axes, std::vector<int64_t> starts, std::vector<int64_t> stops, std::vector<int64_t> steps)
      : Op(OpKind::Slice),
        axes(std::move(axes)),
        starts(std::move(starts)),
        stops(std::move(stops)),
        steps(std::move(steps)) {}
  Axes axes;
  std::vector<int64_t> starts, stops, steps;

  // The resolved slice of one input dim: elements start, start+step, ... (size of them).
  struct Range {
    int64_t start = 0, size = 0, step = 1;
  };
  // One Range per input dim (untouched dims take everything); validates the attributes.
  std::vector<Range> resolve(const Shape& input) const;

  std::vector<Shape> infer_shapes(std::span<const Shape> inputs) const override;
  std::vector<std::optional<Var>> vjp(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                                      const std::vector<std::optional<Var>>& cotangents) const override;
  std::string attributes() const override;
  Cost cost(const OpSignature& sig) const override;
};

// Padding like XLA's pad: per dim, `low` and `high` elements before/after and `interior`
// elements between neighbours, all filled with `value`. One entry per input dim, all >= 0.
struct PadOp : Op {
  PadOp(std::vector<int64_t> low, std::vector<int64_t> high, std::vector<int64_t> interior, double value)
      : Op(OpKind::Pad), low(std::move(low)), high(std::move(high)), interior(std::move(interior)), value(value) {}
  std::vector<int64_t> low, high, interior;
  double value;
  std::vector<Shape> infer_shapes(std::span<const Shape> inputs) const override;
  std::vector<std::optional<Var>> vjp(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                                      const std::vector<std::optional<Var>>& cotangents) const override;
  std::string attributes() const override;
  Cost cost(const OpSignature& sig) const override;
};

// Concatenation of any number (>= 1) of same-dtype inputs along `axis` (normalised by the builder).
struct ConcatOp : Op {
  explicit ConcatOp(int64_t axis) : Op(OpKind::Concat), axis(axis) {}
  int64_t axis;
  std::vector<Shape> infer_shapes(std::span<const Shape> inputs) const override;
  std::vector<std::optional<Var>> vjp(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                                      const std::vector<std::optional<Var>>& cotangents) const override;
  std::string attributes() const override;
  Cost cost(const OpSignature& sig) const override;
};

// Splits one input along `axis` into consecutive pieces of the given sizes (one output each).
struct SplitOp : Op {
  SplitOp(int64_t axis, std::vector<int64_t> sizes) : Op(OpKind::Split), axis(axis), sizes(std::move(sizes)) {}
  int64_t axis;
  std::vector<int64_t> sizes;
  int num_outputs() const override { return static_cast<int>(sizes.size()); }
  std::vector<Shape> infer_shapes(std::span<const Shape> inputs) const override;
  std::vector<DType> infer_dtypes(std::span<const DType> inputs) const override;
  std::vector<std::optional<Var>> vjp(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                                      const std::vector<std::optional<Var>>& cotangents) const override;
  std::string attributes() const override;
  Cost cost(const OpSignature& sig) const override;
};

// gather(input, indices): NumPy take along `axis`; the output shape is
// input.shape[:axis] + indices.shape + input.shape[axis+1:]. Indices are i32 or i64; negative
// ones count from the end, out-of-range ones are a ValueError when the kernel runs.
struct GatherOp : Op {
  explicit GatherOp(int64_t axis) : Op(OpKind::Gather), axis(axis) {}
  int64_t axis;
  std::vector<Shape> infer_shapes(std::span<const Shape> inputs) const override;
  std::vector<DType> infer_dtypes(std::span<const DType> inputs) const override;
  std::vector<std::optional<Var>> vjp(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                                      const std::vector<std::optional<Var>>& cotangents) const override;
  std::string attributes() const override;
  Cost cost(const OpSignature& sig) const override;
};

// scatter_add(updates, indices): the transpose of gather. out = zeros(shape), then
// out[..., indices[j], ...] += updates[..., j, ...]; repeated indices accumulate in order of j.
struct ScatterAddOp : Op {
  ScatterAddOp(int64_t axis, Shape shape) : Op(OpKind::ScatterAdd), axis(axis), shape(std::move(shape)) {}
  int64_t axis;
  Shape shape;
  std::vector<Shape> infer_shapes(std::span<const Shape> inputs) const override;
  std::vector<DType> infer_dtypes(std::span<const DType> inputs) const override;
  std::vector<std::optional<Var>> vjp(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                                      const std::vector<std::optional<Var>>& cotangents) const override;
  std::string attributes() const override;
  Cost cost(const OpSignature& sig) const override;
};

// NumPy diagonal(offset, -2, -1): the diagonal of the last two axes, as a new last axis.
// offset > 0 is above the main diagonal, < 0 below.
struct DiagonalOp : Op {
  explicit DiagonalOp(int64_t offset) : Op(OpKind::Diagonal), offset(offset) {}
  int64_t offset;
  std::vector<Shape> infer_shapes(std::span<const Shape> inputs) const override;
  std::vector<std::optional<Var>> vjp(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                                      const std::vector<std::optional<Var>>& cotangents) const override;
  std::string attributes() const override;
  Cost cost(const OpSignature& sig) const override;
};

// An (n, m) matrix with ones on diagonal `offset` (NumPy eye); takes no inputs.
struct EyeOp : Op {
  EyeOp(int64_t n, int64_t m, int64_t offset, DType dtype)
      : Op(OpKind::Eye), n(n), m(m), offset(offset), dtype(dtype) {}
  int64_t n, m, offset;
  DType dtype;
  std::vector<Shape> infer_shapes(std::span<const Shape> inputs) const override;
  std::vector<DType> infer_dtypes(std::span<const DType> inputs) const override;
  std::string attributes() const override;
  Cost cost(const OpSignature& sig) const override;
  DType dispatch_dtype(std::span<const DType> inputs, std::span<const DType> outputs) const override;
};

// one_hot(indices): shape indices.shape + (num_classes,), 1 at each index and 0 elsewhere.
// Indices are i32 or i64 in [0, num_classes); others are a ValueError when the kernel runs.
struct OneHotOp : Op {
  OneHotOp(int64_t num_classes, DType dtype) : Op(OpKind::OneHot), num_classes(num_classes), dtype(dtype) {}
  int64_t num_classes;
  DType dtype;
  std::vector<Shape> infer_shapes(std::span<const Shape> inputs) const override;
  std::vector<DType> infer_dtypes(std::span<const DType> inputs) const override;
  std::string attributes() const override;
  Cost cost(const OpSignature& sig) const override;
  // Kernels are chosen by the output dtype; each handles both index dtypes.
  DType dispatch_dtype(std::span<const DType> inputs, std::span<const DType> outputs) const override;
};

// A stop for ops::slice meaning "to the end of the axis".
inline constexpr int64_t kSliceEnd = INT64_MAX;

namespace ops {

Var cast(const Var& x, DType to);                    // no node when x already has dtype `to`
Var reshape(const Var& x, Shape shape);              // one dim may be -1
Var broadcast_to(const Var& x, const Shape& shape);  // no node when the shape already matches
Var permute(const Var& x, const Axes& axes);
Var transpose(const Var& x);  // reverse all axes
Var swap_axes(const Var& x, int64_t a, int64_t b);
Var flatten(const Var& x, int64_t start_dim = 0, int64_t end_dim = -1);
Var squeeze(const Var& x, int64_t axis);
Var unsqueeze(const Var& x, int64_t axis);

// x[start:stop:step] along `axis` (step > 0); no node when it selects everything.
Var slice(const Var& x, int64_t axis, int64_t start, int64_t stop, int64_t step = 1);
// Several axes at once; `steps` empty means 1 everywhere.
Var slice(const Var& x, const Axes& axes, const std::vector<int64_t>& starts, const std::vector<int64_t>& stops,
          const std::vector<int64_t>& steps = {});
// One entry per dim of x; `interior` empty means no interior padding. No node when nothing is added.
Var pad(const Var& x, const std::vector<int64_t>& low, const std::vector<int64_t>& high,
        const std::vector<int64_t>& interior = {}, double value = 0.0);
Var concat(const std::vector<Var>& xs, int64_t axis = 0);  // a single input is returned as is
std::vector<Var> split(const Var& x, const std::vector<int64_t>& sizes, int64_t axis = 0);
Var gather(const Var& x, const Var& indices, int64_t axis = 0);
Var scatter_add(const Var& updates, const Var& indices, int64_t axis, const Shape& shape);
Var embedding(const Var& indices, const Var& weight);  // gather(weight, indices, 0)
Var diagonal(const Var& x, int64_t offset = 0);
Var eye(Graph& graph, int64_t n, int64_t m, int64_t offset = 0, DType dtype = DType::f32);
Var one_hot(const Var& indices, int64_t num_classes, DType dtype = DType::f32);

}  // namespace ops
}  // namespace mithril
