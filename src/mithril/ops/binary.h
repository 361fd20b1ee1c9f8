// Binary elementwise ops with NumPy broadcasting, comparisons, logical and shift ops, and
// where(cond, a, b). Builder functions promote operand dtypes (inserting casts) and accept
// plain numbers, which take the dtype of the tensor operand.
#pragma once

#include "mithril/ir/ir.h"
#include "mithril/ir/op.h"

namespace mithril {

// A binary op's declaration besides its ops.def entry: its row of the table in binary.cpp.
struct BinaryTraits {
  OpKind kind;
  DTypeDomain domain;        // both operands share one dtype (builders promote)
  bool bool_result = false;  // comparisons and logical ops return bool
  bool robust_form = false;  // Pow: Mithril's robust mode, attributes "robust=true, threshold=..."
};
const BinaryTraits& binary_traits(OpKind kind);  // every op of the binary family has a row

// All binary elementwise ops share one struct; the kind selects the function.
// Pow has Mithril's robust mode: |base| below `threshold` is continued linearly.
struct BinaryOp : Op {
  explicit BinaryOp(OpKind kind, bool robust = false, double threshold = 0.0)
      : Op(kind), robust(robust), threshold(threshold) {}
  bool robust;
  double threshold;
  std::vector<Shape> infer_shapes(std::span<const Shape> inputs) const override;
  std::vector<DType> infer_dtypes(std::span<const DType> inputs) const override;
  std::vector<std::optional<Var>> vjp(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                                      const std::vector<std::optional<Var>>& cotangents) const override;
  std::string attributes() const override;
};

// where(cond, a, b): cond is bool; a and b share a dtype; all three broadcast together.
struct WhereOp : Op {
  WhereOp() : Op(OpKind::Where) {}
  std::vector<Shape> infer_shapes(std::span<const Shape> inputs) const override;
  std::vector<DType> infer_dtypes(std::span<const DType> inputs) const override;
  std::vector<std::optional<Var>> vjp(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                                      const std::vector<std::optional<Var>>& cotangents) const override;
  DType dispatch_dtype(std::span<const DType> inputs, std::span<const DType> outputs) const override;
};

inline constexpr double kMinPositiveNormal = 2.2250738585072014e-308;

namespace ops {

// A 0-d constant with x's dtype: how plain numbers enter a graph.
Var scalar_like(const Var& x, double value);
// Casts a and b to their promoted dtype when they differ.
std::pair<Var, Var> promote_operands(const Var& a, const Var& b);

Var binary(OpKind kind, const Var& a, const Var& b);  // promotes; any binary kind
Var add(const Var& a, const Var& b);
Var sub(const Var& a, const Var& b);
Var mul(const Var& a, const Var& b);
Var div(const Var& a, const Var& b);
Var floor_div(const Var& a, const Var& b);
Var pow(const Var& base, const Var& exponent);
Var robust_pow(const Var& base, const Var& exponent, double threshold = kMinPositiveNormal);
Var maximum(const Var& a, const Var& b);
Var minimum(const Var& a, const Var& b);
Var equal(const Var& a, const Var& b);
Var not_equal(const Var& a, const Var& b);
Var less(const Var& a, const Var& b);
Var less_equal(const Var& a, const Var& b);
Var greater(const Var& a, const Var& b);
Var greater_equal(const Var& a, const Var& b);
Var logical_and(const Var& a, const Var& b);
Var logical_or(const Var& a, const Var& b);
Var logical_xor(const Var& a, const Var& b);
Var shift_left(const Var& a, const Var& b);
Var shift_right(const Var& a, const Var& b);
Var where(const Var& cond, const Var& a, const Var& b);

}  // namespace ops

Var operator+(const Var& a, const Var& b);
Var operator-(const Var& a, const Var& b);
Var operator*(const Var& a, const Var& b);
Var operator/(const Var& a, const Var& b);
Var operator+(const Var& a, double b);
Var operator-(const Var& a, double b);
Var operator*(const Var& a, double b);
Var operator/(const Var& a, double b);
Var operator+(double a, const Var& b);
Var operator-(double a, const Var& b);
Var operator*(double a, const Var& b);
Var operator/(double a, const Var& b);
Var operator-(const Var& a);

}  // namespace mithril
