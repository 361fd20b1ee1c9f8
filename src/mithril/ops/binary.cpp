#include "mithril/ops/binary.h"

#include "mithril/core/error.h"
#include "mithril/ops/shape.h"
#include "mithril/ops/unary.h"

namespace mithril {
namespace {

using enum DTypeDomain;

// One row per op of the binary family, in ops.def order; where's condition is bool (WhereOp).
// The gradient rules are BinaryOp::vjp and WhereOp::vjp below.
constexpr BinaryTraits kBinaryTraits[] = {
    {OpKind::Add, numeric},
    {OpKind::Sub, numeric},
    {OpKind::Mul, numeric},
    {OpKind::Div, floating},
    {OpKind::FloorDiv, numeric},
    {OpKind::Pow, floating, false, true},
    {OpKind::Maximum, any},
    {OpKind::Minimum, any},
    {OpKind::Equal, any, true},
    {OpKind::NotEqual, any, true},
    {OpKind::Less, any, true},
    {OpKind::LessEqual, any, true},
    {OpKind::Greater, any, true},
    {OpKind::GreaterEqual, any, true},
    {OpKind::LogicalAnd, boolean, true},
    {OpKind::LogicalOr, boolean, true},
    {OpKind::LogicalXor, boolean, true},
    {OpKind::ShiftLeft, integer},
    {OpKind::ShiftRight, integer},
    {OpKind::Where, any},
};
static_assert(declares_family(kBinaryTraits, "binary"), "kBinaryTraits needs one row per binary op, in ops.def order");

Var zeros_like(const Var& x) { return ops::broadcast_to(ops::scalar_like(x, 0.0), x.shape()); }

}  // namespace

const BinaryTraits& binary_traits(OpKind kind) {
  const BinaryTraits* t = find_row(kBinaryTraits, kind);
  MI_ASSERT(t != nullptr);
  return *t;
}

std::vector<Shape> BinaryOp::infer_shapes(std::span<const Shape> in) const {
  check_arity(*this, in.size(), 2);
  return {broadcast_shapes(in[0], in[1], name().data())};
}

std::vector<DType> BinaryOp::infer_dtypes(std::span<const DType> in) const {
  check_arity(*this, in.size(), 2);
  MI_CHECK(in[0] == in[1], DTypeError, "[{}] dtype mismatch: left is {} but right is {}", name(), dtype_name(in[0]),
           dtype_name(in[1]));
  const BinaryTraits& traits = binary_traits(kind());
  check_domain(*this, in[0], traits.domain, 2);
  return {traits.bool_result ? DType::b8 : in[0]};
}

std::string BinaryOp::attributes() const {
  if (binary_traits(kind()).robust_form && robust) return fmt::format("robust=true, threshold={}", threshold);
  return {};
}

std::vector<std::optional<Var>> BinaryOp::vjp(const std::vector<Var>& in, const std::vector<Var>& out,
                                              const std::vector<std::optional<Var>>& ct) const {
  const Var& a = in[0];
  const Var& b = in[1];
  const Var& g = *ct[0];
  switch (kind()) {
    case OpKind::Add: return {g, g};
    case OpKind::Sub: return {g, -g};
    case OpKind::Mul: return {g * b, g * a};
    case OpKind::Div: return {g / b, -(g * out[0] / b)};
    case OpKind::Pow: {
      if (!robust) {
        // d/dbase = e * base^(e-1); d/dexponent = base^e * ln(base)
        return {g * b * ops::pow(a, b - 1.0), g * out[0] * ops::log(a)};
      }
      // Mithril's robust power: below the threshold the function continues as |base|/thr.
      const Var abs_a = ops::abs(a);
      const Var thr = ops::scalar_like(a, threshold);
      const Var cond = ops::logical_and(ops::less(abs_a, thr),
                                        ops::less(b, 1.0 - ops::div(ops::log(thr), ops::log(abs_a))));
      const Var sgn = ops::sign(a);
      const Var d_base = ops::where(cond, sgn / thr, sgn * b * ops::pow(abs_a, b - 1.0));
      const Var zero = ops::scalar_like(a, 0.0);
      const Var d_exp_regular = ops::where(ops::equal(a, zero), zero, ops::pow(abs_a, b) * ops::log(abs_a));
      const Var d_exp = ops::where(cond, zero, d_exp_regular);
      return {g * d_base, g * d_exp};
    }
    case OpKind::Maximum:
    case OpKind::Minimum: {
      // Ties split the gradient equally between the operands.
      const Var wins = kind() == OpKind::Maximum ? ops::greater(a, b) : ops::less(a, b);
      const Var tie = ops::equal(a, b);
      const Var share_a = ops::cast(wins, g.dtype()) + ops::cast(tie, g.dtype()) * 0.5;
      return {g * share_a, g * (1.0 - share_a)};
    }
    default:
      MI_THROW(ValueError, "[{}] is not differentiable", name());
  }
}

std::vector<Shape> WhereOp::infer_shapes(std::span<const Shape> in) const {
  check_arity(*this, in.size(), 3);
  return {broadcast_shapes(broadcast_shapes(in[0], in[1], "where"), in[2], "where")};
}

std::vector<DType> WhereOp::infer_dtypes(std::span<const DType> in) const {
  check_arity(*this, in.size(), 3);
  MI_CHECK(in[0] == DType::b8, DTypeError, "[where] condition must be bool, got {}", dtype_name(in[0]));
  MI_CHECK(in[1] == in[2], DTypeError, "[where] dtype mismatch: input1 is {} but input2 is {}", dtype_name(in[1]),
           dtype_name(in[2]));
  return {in[1]};
}

DType WhereOp::dispatch_dtype(std::span<const DType> in, std::span<const DType>) const { return in[1]; }

std::vector<std::optional<Var>> WhereOp::vjp(const std::vector<Var>& in, const std::vector<Var>&,
                                             const std::vector<std::optional<Var>>& ct) const {
  const Var& g = *ct[0];
  const Var zero = zeros_like(g);
  return {std::nullopt, ops::where(in[0], g, zero), ops::where(in[0], zero, g)};
}

namespace ops {

Var scalar_like(const Var& x, double value) { return x.graph().constant(Tensor::scalar(value, x.dtype())); }

std::pair<Var, Var> promote_operands(const Var& a, const Var& b) {
  const DType t = promote(a.dtype(), b.dtype());
  return {cast(a, t), cast(b, t)};
}

Var binary(OpKind kind, const Var& a, const Var& b) {
  auto [pa, pb] = promote_operands(a, b);
  return a.graph().apply1(std::make_shared<BinaryOp>(kind), {pa, pb});
}

Var add(const Var& a, const Var& b) { return binary(OpKind::Add, a, b); }
Var sub(const Var& a, const Var& b) { return binary(OpKind::Sub, a, b); }
Var mul(const Var& a, const Var& b) { return binary(OpKind::Mul, a, b); }
Var div(const Var& a, const Var& b) { return binary(OpKind::Div, a, b); }
Var floor_div(const Var& a, const Var& b) { return binary(OpKind::FloorDiv, a, b); }
Var pow(const Var& base, const Var& exponent) { return binary(OpKind::Pow, base, exponent); }
Var robust_pow(const Var& base, const Var& exponent, double threshold) {
  auto [pa, pb] = promote_operands(base, exponent);
  return base.graph().apply1(std::make_shared<BinaryOp>(OpKind::Pow, true, threshold), {pa, pb});
}
Var maximum(const Var& a, const Var& b) { return binary(OpKind::Maximum, a, b); }
Var minimum(const Var& a, const Var& b) { return binary(OpKind::Minimum, a, b); }
Var equal(const Var& a, const Var& b) { return binary(OpKind::Equal, a, b); }
Var not_equal(const Var& a, const Var& b) { return binary(OpKind::NotEqual, a, b); }
Var less(const Var& a, const Var& b) { return binary(OpKind::Less, a, b); }
Var less_equal(const Var& a, const Var& b) { return binary(OpKind::LessEqual, a, b); }
Var greater(const Var& a, const Var& b) { return binary(OpKind::Greater, a, b); }
Var greater_equal(const Var& a, const Var& b) { return binary(OpKind::GreaterEqual, a, b); }
Var logical_and(const Var& a, const Var& b) { return binary(OpKind::LogicalAnd, a, b); }
Var logical_or(const Var& a, const Var& b) { return binary(OpKind::LogicalOr, a, b); }
Var logical_xor(const Var& a, const Var& b) { return binary(OpKind::LogicalXor, a, b); }
Var shift_left(const Var& a, const Var& b) { return binary(OpKind::ShiftLeft, a, b); }
Var shift_right(const Var& a, const Var& b) { return binary(OpKind::ShiftRight, a, b); }

Var where(const Var& cond, const Var& a, const Var& b) {
  auto [pa, pb] = promote_operands(a, b);
  return cond.graph().apply1(std::make_shared<WhereOp>(), {cond, pa, pb});
}

}  // namespace ops

Var operator+(const Var& a, const Var& b) { return ops::add(a, b); }
Var operator-(const Var& a, const Var& b) { return ops::sub(a, b); }
Var operator*(const Var& a, const Var& b) { return ops::mul(a, b); }
Var operator/(const Var& a, const Var& b) { return ops::div(a, b); }
Var operator+(const Var& a, double b) { return ops::add(a, ops::scalar_like(a, b)); }
Var operator-(const Var& a, double b) { return ops::sub(a, ops::scalar_like(a, b)); }
Var operator*(const Var& a, double b) { return ops::mul(a, ops::scalar_like(a, b)); }
Var operator/(const Var& a, double b) { return ops::div(a, ops::scalar_like(a, b)); }
Var operator+(double a, const Var& b) { return ops::add(ops::scalar_like(b, a), b); }
Var operator-(double a, const Var& b) { return ops::sub(ops::scalar_like(b, a), b); }
Var operator*(double a, const Var& b) { return ops::mul(ops::scalar_like(b, a), b); }
Var operator/(double a, const Var& b) { return ops::div(ops::scalar_like(b, a), b); }
Var operator-(const Var& a) { return ops::neg(a); }

}  // namespace mithril
