// Fused ops, made by the operator-fusion pass (graph/passes/operator_fusion.cpp) from chains of
// elementwise ops and from matmul + bias + activation. A fused op keeps the original ops as an
// epilogue program: each step applies one elementwise op to the running value (the result so
// far) and the fused node's inputs. Kernels run the steps block by block over rows of the
// output, so intermediates never leave the cache and need no buffers of their own.
#pragma once

#include <optional>
#include <vector>

#include "mithril/ops/op.h"

namespace mithril {

struct FusedStep {
  static constexpr int kRunning = -1;
  OpPtr op;               // a unary or binary family op with one output
  std::vector<int> args;  // per op input: kRunning, or an index into the fused node's inputs
};

// How an input of a fused node is read against the output shape S: the full shape S (chunked
// with the output), one element, or one row (the last dim of S, broadcast over the rows).
enum class FusedOperand { full, scalar, row };
std::optional<FusedOperand> fused_operand_kind(const Shape& operand, const Shape& output);  // nullopt: none fits

struct FusedOp : Op {
  // FusedElementwise: inputs are the operands of the steps; the first step reads no running value.
  // FusedLinear: inputs 0 and 1 are x (..., k) and the weight, (n, k) with transpose_right
  // (x @ weight^T, a transpose folded into the product) or (k, n); the steps follow the product.
  FusedOp(OpKind kind, Shape shape, DType dtype, std::vector<FusedStep> steps, bool transpose_right = false);
  Shape shape;
  DType dtype;
  std::vector<FusedStep> steps;
  bool transpose_right;

  std::vector<Shape> infer_shapes(std::span<const Shape> inputs) const override;
  std::vector<DType> infer_dtypes(std::span<const DType> inputs) const override;
  std::string attributes() const override;
  Cost cost(const OpSignature& sig) const override;
  DType dispatch_dtype(std::span<const DType> inputs, std::span<const DType> outputs) const override { return dtype; }
};

}  // namespace mithril
