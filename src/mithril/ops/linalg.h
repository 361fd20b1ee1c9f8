// Matrix multiplication with NumPy matmul semantics: the last two axes are the matrices, the
// leading (batch) axes broadcast, and a 1-D operand is promoted to a matrix (a row on the left,
// a column on the right) whose added axis is removed from the result.
#pragma once

#include "mithril/ir/ir.h"
#include "mithril/ir/op.h"

namespace mithril {

// The sizes of a matmul application once 1-D operands are promoted: output[b] = left[b] @ right[b]
// with left[b] (m, k) and right[b] (k, n) for every index b of the broadcast batch shape.
struct MatMulDims {
  int64_t m = 1, k = 1, n = 1;
  Shape batch;       // broadcast batch shape of the output
  Shape left_batch;  // batch shape of each operand, left-padded with 1s to batch's rank
  Shape right_batch;
  Shape output;  // the op's output shape (promoted axes removed)
};
// Checks the operand shapes (ShapeError naming the op and both shapes) and derives the sizes.
MatMulDims matmul_dims(const Shape& left, const Shape& right);

struct MatMulOp : Op {
  MatMulOp() : Op(OpKind::MatMul) {}
  std::vector<Shape> infer_shapes(std::span<const Shape> inputs) const override;
  std::vector<DType> infer_dtypes(std::span<const DType> inputs) const override;
  std::vector<std::optional<Var>> vjp(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                                      const std::vector<std::optional<Var>>& cotangents) const override;
  // 2*m*n*k multiply-adds per batch element.
  Cost cost(const OpSignature& sig) const override;
};

namespace ops {

Var matmul(const Var& left, const Var& right);  // promotes operand dtypes

}  // namespace ops
}  // namespace mithril
