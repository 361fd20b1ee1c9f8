#include "mithril/ops/unary.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "mithril/core/error.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/shape.h"

namespace mithril {
namespace {

using enum DTypeDomain;

// One row per op of the unary family, in ops.def order. The gradient rules are UnaryOp::vjp below.
constexpr UnaryTraits kUnaryTraits[] = {
    {OpKind::Neg, numeric, 1},
    {OpKind::Abs, numeric, 1},
    {OpKind::Sign, numeric, 1},
    {OpKind::Square, numeric, 1},
    {OpKind::Sqrt, floating, 1, UnaryAttr::robust},
    {OpKind::Exp, floating, 10},
    {OpKind::Log, floating, 10, UnaryAttr::robust},
    {OpKind::Log1p, floating, 10},
    {OpKind::Sin, floating, 10},
    {OpKind::Cos, floating, 10},
    {OpKind::Tanh, floating, 10},
    {OpKind::Sigmoid, floating, 10},
    {OpKind::Relu, numeric, 1},
    {OpKind::LeakyRelu, floating, 1, UnaryAttr::slope},
    {OpKind::Softplus, floating, 10},
    {OpKind::Gelu, floating, 10, UnaryAttr::approximate},
    {OpKind::Erf, floating, 10},
    {OpKind::Reciprocal, floating, 1},
    {OpKind::StableReciprocal, floating, 1, UnaryAttr::threshold},
    {OpKind::Floor, floating, 1},
    {OpKind::LogicalNot, boolean, 1},
    {OpKind::StopGradient, any, 1},
    {OpKind::Identity, any, 1},
};
static_assert(declares_family(kUnaryTraits, "unary"), "kUnaryTraits needs one row per unary op, in ops.def order");

bool uses_threshold(const UnaryTraits& t, const UnaryAttrs& a) {
  return t.attribute == UnaryAttr::threshold || (t.attribute == UnaryAttr::robust && a.robust);
}

Var where_scalar(const Var& cond, const Var& a, double b) { return ops::where(cond, a, ops::scalar_like(a, b)); }

}  // namespace

const UnaryTraits& unary_traits(OpKind kind) {
  const UnaryTraits* t = find_row(kUnaryTraits, kind);
  MI_ASSERT(t != nullptr);
  return *t;
}

double effective_threshold(double threshold, DType dtype) {
  switch (dtype) {
    case DType::f64: return std::max(threshold, std::numeric_limits<double>::min());
    case DType::f32:
    case DType::bf16: return std::max(threshold, static_cast<double>(std::numeric_limits<float>::min()));
    case DType::f16: return std::max(threshold, 0x1p-14);
    default: return threshold;
  }
}

std::vector<Shape> UnaryOp::infer_shapes(std::span<const Shape> in) const {
  check_arity(*this, in.size(), 1);
  MI_CHECK(!uses_threshold(unary_traits(kind()), attrs) || (attrs.threshold > 0 && std::isfinite(attrs.threshold)),
           AttributeError, "[{}] threshold must be positive and finite, got {}", name(), attrs.threshold);
  return {in[0]};
}

std::vector<DType> UnaryOp::infer_dtypes(std::span<const DType> in) const {
  check_arity(*this, in.size(), 1);
  check_domain(*this, in[0], unary_traits(kind()).domain);
  return {in[0]};
}

std::string UnaryOp::attributes() const {
  switch (unary_traits(kind()).attribute) {
    case UnaryAttr::none: break;
    case UnaryAttr::slope: return fmt::format("slope={}", attrs.slope);
    case UnaryAttr::approximate: return fmt::format("approximate={}", attrs.approximate);
    case UnaryAttr::robust: return attrs.robust ? fmt::format("robust=true, threshold={}", attrs.threshold) : std::string();
    case UnaryAttr::threshold: return fmt::format("threshold={}", attrs.threshold);
  }
  return {};
}

Cost UnaryOp::cost(const OpSignature& sig) const {
  Cost c = Op::cost(sig);
  c.flops *= unary_traits(kind()).flops_per_element;
  return c;
}

std::vector<std::optional<Var>> UnaryOp::vjp(const std::vector<Var>& in, const std::vector<Var>& out,
                                             const std::vector<std::optional<Var>>& ct) const {
  const Var& x = in[0];
  const Var& y = out[0];
  const Var& g = *ct[0];
  switch (kind()) {
    case OpKind::Identity: return {g};
    case OpKind::Neg: return {-g};
    case OpKind::Abs: return {g * ops::sign(x)};
    case OpKind::Square: return {g * x * 2.0};
    case OpKind::Sqrt: {
      if (!attrs.robust) return {g * 0.5 / y};
      // Robust: sqrt(|x|) above the threshold, |x|/sqrt(thr) below; gradients carry sign(x).
      const double thr = effective_threshold(attrs.threshold, x.dtype());
      const Var a = ops::abs(x);
      const Var regular = ops::greater_equal(a, ops::scalar_like(x, thr));
      const Var slope = where_scalar(regular, 0.5 / y, 1.0 / std::sqrt(thr));
      return {g * ops::sign(x) * slope};
    }
    case OpKind::Exp: return {g * y};
    case OpKind::Log: {
      if (!attrs.robust) return {g / x};
      // Robust: ln|x| above the threshold, ln(thr) + |x|/thr - 1 below; negated where x < 0.
      const double thr = effective_threshold(attrs.threshold, x.dtype());
      const Var a = ops::abs(x);
      const Var regular = ops::greater_equal(a, ops::scalar_like(x, thr));
      const Var slope = where_scalar(regular, 1.0 / a, 1.0 / thr);
      const Var gs = g * slope;
      return {ops::where(ops::less(x, ops::scalar_like(x, 0.0)), -gs, gs)};
    }
    case OpKind::Log1p: return {g / (x + 1.0)};
    case OpKind::Sin: return {g * ops::cos(x)};
    case OpKind::Cos: return {-(g * ops::sin(x))};
    case OpKind::Tanh: return {g * (1.0 - y * y)};
    case OpKind::Sigmoid: return {g * y * (1.0 - y)};
    // The mask from the output (y > 0 exactly where x > 0): the input then has no use besides
    // the relu, which lets the relu fuse into the product before it.
    case OpKind::Relu: return {g * ops::cast(ops::greater(y, ops::scalar_like(y, 0.0)), g.dtype())};
    case OpKind::LeakyRelu:
      return {g * where_scalar(ops::greater(x, ops::scalar_like(x, 0.0)), ops::scalar_like(x, 1.0), attrs.slope)};
    case OpKind::Softplus: return {g * ops::sigmoid(x)};
    case OpKind::Gelu: {
      if (!attrs.approximate) {
        // d/dx x*Phi(x) = Phi(x) + x*phi(x)
        const double inv_sqrt2 = 1.0 / std::numbers::sqrt2;
        const double inv_sqrt_2pi = 1.0 / std::sqrt(2.0 * std::numbers::pi);
        const Var cdf = (ops::erf(x * inv_sqrt2) + 1.0) * 0.5;
        const Var pdf = ops::exp(ops::square(x) * -0.5) * inv_sqrt_2pi;
        return {g * (cdf + x * pdf)};
      }
      const double k = std::sqrt(2.0 / std::numbers::pi), c = 0.044715;
      const Var t = ops::tanh((x + ops::square(x) * x * c) * k);
      const Var inner_grad = (ops::square(x) * (3.0 * c) + 1.0) * k;
      return {g * ((t + 1.0) * 0.5 + x * 0.5 * (1.0 - ops::square(t)) * inner_grad)};
    }
    case OpKind::Erf: return {g * ops::exp(-ops::square(x)) * (2.0 / std::sqrt(std::numbers::pi))};
    case OpKind::Reciprocal: return {-(g * y * y)};
    case OpKind::StableReciprocal: {
      // -1/x^2 = -y^2 above the threshold; the linear continuation below has slope -1/thr^2.
      const double thr = effective_threshold(attrs.threshold, x.dtype());
      const Var regular = ops::greater_equal(ops::abs(x), ops::scalar_like(x, thr));
      return {g * where_scalar(regular, -(y * y), -1.0 / thr / thr)};
    }
    default: MI_THROW(ValueError, "[{}] is not differentiable", name());
  }
}

namespace ops {

Var unary(OpKind kind, const Var& x, UnaryAttrs attrs) {
  return x.graph().apply1(std::make_shared<UnaryOp>(kind, attrs), {x});
}
Var neg(const Var& x) { return unary(OpKind::Neg, x); }
Var abs(const Var& x) { return unary(OpKind::Abs, x); }
Var sign(const Var& x) { return unary(OpKind::Sign, x); }
Var square(const Var& x) { return unary(OpKind::Square, x); }
Var sqrt(const Var& x) { return unary(OpKind::Sqrt, x); }
Var robust_sqrt(const Var& x, double threshold) {
  return unary(OpKind::Sqrt, x, {.robust = true, .threshold = threshold});
}
Var exp(const Var& x) { return unary(OpKind::Exp, x); }
Var log(const Var& x) { return unary(OpKind::Log, x); }
Var robust_log(const Var& x, double threshold) {
  return unary(OpKind::Log, x, {.robust = true, .threshold = threshold});
}
Var log1p(const Var& x) { return unary(OpKind::Log1p, x); }
Var sin(const Var& x) { return unary(OpKind::Sin, x); }
Var cos(const Var& x) { return unary(OpKind::Cos, x); }
Var tanh(const Var& x) { return unary(OpKind::Tanh, x); }
Var sigmoid(const Var& x) { return unary(OpKind::Sigmoid, x); }
Var relu(const Var& x) { return unary(OpKind::Relu, x); }
Var leaky_relu(const Var& x, double slope) { return unary(OpKind::LeakyRelu, x, {.slope = slope}); }
Var softplus(const Var& x) { return unary(OpKind::Softplus, x); }
Var gelu(const Var& x, bool approximate) { return unary(OpKind::Gelu, x, {.approximate = approximate}); }
Var erf(const Var& x) { return unary(OpKind::Erf, x); }
Var reciprocal(const Var& x) { return unary(OpKind::Reciprocal, x); }
Var stable_reciprocal(const Var& x, double threshold) {
  return unary(OpKind::StableReciprocal, x, {.threshold = threshold});
}
Var floor(const Var& x) { return unary(OpKind::Floor, x); }
Var logical_not(const Var& x) { return unary(OpKind::LogicalNot, x); }
Var stop_gradient(const Var& x) { return unary(OpKind::StopGradient, x); }
Var identity(const Var& x) { return unary(OpKind::Identity, x); }

}  // namespace ops
}  // namespace mithril
