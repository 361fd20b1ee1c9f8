// Convolution (cross-correlation, no kernel flip, zero padding) and pooling.
//
// Conv2d: input (N, C_in, H, W), weight (C_out, C_in/groups, KH, KW) -> (N, C_out, OH, OW);
// Conv1d is the same with H = 1 and KH = 1 (input (N, C_in, W), weight (C_out, C_in/groups, K)).
// Each output size is (in + pad_before + pad_after - dilation*(kernel-1) - 1) // stride + 1.
// The two backward ops are the transposes of conv2d in each operand; they are ops of their own
// so gradients run as im2col/col2im GEMMs, and they are differentiable (they are linear).
//
// Pooling works on the last two axes (MaxPool1d: the last axis) of any-rank input. Mithril
// semantics: padding inserts zeros that take part in the max (and in the average, which
// always divides by KH*KW); the max-pool gradient goes, in full, to every input element equal
// to its window's max (ties are not split) and overlapping windows accumulate.
#pragma once

#include <array>

#include "mithril/ir/ir.h"
#include "mithril/ir/op.h"

namespace mithril {

struct Conv2dParams {
  std::array<int64_t, 2> stride{1, 1};         // (h, w)
  std::array<int64_t, 4> padding{0, 0, 0, 0};  // (top, bottom, left, right)
  std::array<int64_t, 2> dilation{1, 1};       // (h, w)
  int64_t groups = 1;
};

struct Conv1dParams {
  int64_t stride = 1;
  std::array<int64_t, 2> padding{0, 0};  // (left, right)
  int64_t dilation = 1;
  int64_t groups = 1;
  Conv2dParams as_2d() const;  // the same convolution over an H = 1 image
};

struct Conv2dOp : Op {
  explicit Conv2dOp(Conv2dParams p) : Op(OpKind::Conv2d), params(p) {}
  Conv2dParams params;
  std::vector<Shape> infer_shapes(std::span<const Shape> inputs) const override;
  std::vector<DType> infer_dtypes(std::span<const DType> inputs) const override;
  std::vector<std::optional<Var>> vjp(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                                      const std::vector<std::optional<Var>>& cotangents) const override;
  std::string attributes() const override;
  Cost cost(const OpSignature& sig) const override;
};

struct Conv1dOp : Op {
  explicit Conv1dOp(Conv1dParams p) : Op(OpKind::Conv1d), params(p) {}
  Conv1dParams params;
  std::vector<Shape> infer_shapes(std::span<const Shape> inputs) const override;
  std::vector<DType> infer_dtypes(std::span<const DType> inputs) const override;
  std::vector<std::optional<Var>> vjp(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                                      const std::vector<std::optional<Var>>& cotangents) const override;
  std::string attributes() const override;
  Cost cost(const OpSignature& sig) const override;
};

// (grad_out, weight) -> grad_input of shape `input_shape`: the transpose of conv2d in its input.
struct Conv2dBackwardInputOp : Op {
  Conv2dBackwardInputOp(Conv2dParams p, Shape input_shape)
      : Op(OpKind::Conv2dBackwardInput), params(p), input_shape(std::move(input_shape)) {}
  Conv2dParams params;
  Shape input_shape;
  std::vector<Shape> infer_shapes(std::span<const Shape> inputs) const override;
  std::vector<DType> infer_dtypes(std::span<const DType> inputs) const override;
  std::vector<std::optional<Var>> vjp(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                                      const std::vector<std::optional<Var>>& cotangents) const override;
  std::string attributes() const override;
  Cost cost(const OpSignature& sig) const override;
};

// (grad_out, input) -> grad_weight of shape `weight_shape`: the transpose of conv2d in its weight.
struct Conv2dBackwardWeightOp : Op {
  Conv2dBackwardWeightOp(Conv2dParams p, Shape weight_shape)
      : Op(OpKind::Conv2dBackwardWeight), params(p), weight_shape(std::move(weight_shape)) {}
  Conv2dParams params;
  Shape weight_shape;
  std::vector<Shape> infer_shapes(std::span<const Shape> inputs) const override;
  std::vector<DType> infer_dtypes(std::span<const DType> inputs) const override;
  std::vector<std::optional<Var>> vjp(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                                      const std::vector<std::optional<Var>>& cotangents) const override;
  std::string attributes() const override;
  Cost cost(const OpSignature& sig) const override;
};

struct Pool2dParams {
  std::array<int64_t, 2> kernel{1, 1};         // (h, w)
  std::array<int64_t, 2> stride{0, 0};         // (h, w); 0 means "the kernel size" (Mithril's stride=None)
  std::array<int64_t, 4> padding{0, 0, 0, 0};  // (top, bottom, left, right)
  std::array<int64_t, 2> dilation{1, 1};       // (h, w)
};

struct Pool1dParams {
  int64_t kernel = 1;
  int64_t stride = 0;                    // 0 means "the kernel size"
  std::array<int64_t, 2> padding{0, 0};  // (left, right)
  int64_t dilation = 1;
  Pool2dParams as_2d() const;  // the same pooling over an H = 1 image
};

// MaxPool2d, AvgPool2d (last two axes) and MaxPool1d (last axis). Builders resolve stride 0.
struct PoolOp : Op {
  PoolOp(OpKind kind, Pool2dParams p) : Op(kind), params(p) {}
  Pool2dParams params;  // MaxPool1d holds its 1-D parameters as an H = 1 pooling
  std::vector<Shape> infer_shapes(std::span<const Shape> inputs) const override;
  std::vector<DType> infer_dtypes(std::span<const DType> inputs) const override;
  std::vector<std::optional<Var>> vjp(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                                      const std::vector<std::optional<Var>>& cotangents) const override;
  std::string attributes() const override;
  Cost cost(const OpSignature& sig) const override;
};

// MaxPool2dBackward (grad_out, input) -> grad_input; AvgPool2dBackward (grad_out) -> grad_input
// of shape `input_shape`, which it needs because pooled sizes round down (MaxPool2dBackward
// takes the input itself and leaves input_shape empty).
struct PoolBackwardOp : Op {
  PoolBackwardOp(OpKind kind, Pool2dParams p, Shape input_shape)
      : Op(kind), params(p), input_shape(std::move(input_shape)) {}
  Pool2dParams params;
  Shape input_shape;
  std::vector<Shape> infer_shapes(std::span<const Shape> inputs) const override;
  std::vector<DType> infer_dtypes(std::span<const DType> inputs) const override;
  std::vector<std::optional<Var>> vjp(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                                      const std::vector<std::optional<Var>>& cotangents) const override;
  std::string attributes() const override;
  Cost cost(const OpSignature& sig) const override;
};

namespace ops {

Var conv2d(const Var& input, const Var& weight, const Conv2dParams& p = {});
Var conv1d(const Var& input, const Var& weight, const Conv1dParams& p = {});
Var conv2d_backward_input(const Var& grad_out, const Var& weight, const Conv2dParams& p, const Shape& input_shape);
Var conv2d_backward_weight(const Var& grad_out, const Var& input, const Conv2dParams& p, const Shape& weight_shape);

Var max_pool2d(const Var& input, const Pool2dParams& p);
Var max_pool1d(const Var& input, const Pool1dParams& p);
Var avg_pool2d(const Var& input, const Pool2dParams& p);
Var max_pool2d_backward(const Var& grad_out, const Var& input, const Pool2dParams& p);
Var avg_pool2d_backward(const Var& grad_out, const Pool2dParams& p, const Shape& input_shape);

}  // namespace ops
}  // namespace mithril
