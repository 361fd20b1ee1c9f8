// Fused ops, made by the operator-fusion pass (graph/passes/operator_fusion.cpp) from chains of
// elementwise ops and from matmul + bias + activation. A fused op keeps the original ops as an
// epilogue program: each step applies one elementwise op to the running value (the result so
// far) and the fused node's inputs. Kernels run the steps block by block over rows of the
// output, so intermediates never leave the cache and need no buffers of their own.
//
// A fused linear node computes a sum of 2-D products before its steps: out = sum_j op(x_j) op(w_j),
// where op transposes an operand in place when the pass folded a transpose into the product
// (a gradient's x^T g, or a transposed product (a b)^T = b^T a^T), and the products after the
// first are the matmuls of an add chain (a weight gradient summed over the steps of an unrolled
// recurrence) accumulated into the same output by the GEMM, so they need no buffers either.
#pragma once

#include <optional>
#include <vector>

#include "mithril/ir/op.h"

namespace mithril {

struct FusedStep {
  static constexpr int kRunning = -1;
  OpPtr op;               // a unary or binary family op with one output
  std::vector<int> args;  // per op input: kRunning, or an index into the fused node's inputs
};

// How an input of a fused node is read against the output shape S: the full shape S (chunked
// with the output), one element, one row (the last dim of S, broadcast over the rows), or one
// column (S with a last dim of 1, broadcast along each row: a per-row statistic such as the mean
// and deviation of a layer norm).
enum class FusedOperand { full, scalar, row, column };
std::optional<FusedOperand> fused_operand_kind(const Shape& operand, const Shape& output);  // nullopt: none fits

// One product of a fused linear node, x @ w: x is (..., k), or (k, m) read transposed with
// transpose_left (2-D only); w is (k, n), or (n, k) read transposed with transpose_right.
struct FusedProduct {
  bool transpose_left = false;
  bool transpose_right = false;
  bool operator==(const FusedProduct&) const = default;
};

struct FusedOp : Op {
  // FusedElementwise: inputs are the operands of the steps; the first step reads no running value.
  // FusedLinear: inputs 2j and 2j+1 are x and w of products[j]; their sum is the running value
  // of the steps, whose operands are the inputs after the products'.
  FusedOp(OpKind kind, Shape shape, DType dtype, std::vector<FusedStep> steps, std::vector<FusedProduct> products = {});
  Shape shape;
  DType dtype;
  std::vector<FusedStep> steps;
  std::vector<FusedProduct> products;  // FusedLinear only: at least one

  // Index of the first step operand among the inputs.
  size_t first_operand() const { return 2 * products.size(); }

  std::vector<Shape> infer_shapes(std::span<const Shape> inputs) const override;
  std::vector<DType> infer_dtypes(std::span<const DType> inputs) const override;
  std::string attributes() const override;
  Cost cost(const OpSignature& sig) const override;
  DType dispatch_dtype(std::span<const DType> inputs, std::span<const DType> outputs) const override { return dtype; }
};

}  // namespace mithril
