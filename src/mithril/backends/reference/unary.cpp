// Reference kernels for the unary family: y[i] = f(x[i]) in float64.
#include <cmath>
#include <numbers>

#include "mithril/backends/reference/kernels.h"
#include "mithril/backends/reference/loops.h"
#include "mithril/core/error.h"
#include "mithril/ops/unary.h"

namespace mithril::reference {
namespace {

double sign(double x) { return x > 0 ? 1.0 : (x < 0 ? -1.0 : x); }  // NaN and zeros pass through

// The scalar function of a unary op; `thr` is the op's threshold as applied in the input dtype.
double apply(OpKind kind, const UnaryAttrs& a, double thr, double x) {
  switch (kind) {
    case OpKind::Neg: return -x;
    case OpKind::Abs: return std::abs(x);
    case OpKind::Sign: return sign(x);
    case OpKind::Square: return x * x;
    case OpKind::Sqrt:
      if (!a.robust) return std::sqrt(x);
      // Robust: sqrt|x| at or above the threshold, |x|/sqrt(thr) below it.
      return std::abs(x) >= thr ? std::sqrt(std::abs(x)) : std::abs(x) / std::sqrt(thr);
    case OpKind::Exp: return std::exp(x);
    case OpKind::Log:
      if (!a.robust) return std::log(x);
      // Robust: ln|x| at or above the threshold, its tangent ln(thr) + |x|/thr - 1 below.
      return std::abs(x) >= thr ? std::log(std::abs(x)) : std::log(thr) + std::abs(x) / thr - 1.0;
    case OpKind::Log1p: return std::log1p(x);
    case OpKind::Sin: return std::sin(x);
    case OpKind::Cos: return std::cos(x);
    case OpKind::Tanh: return std::tanh(x);
    case OpKind::Sigmoid: return 1.0 / (1.0 + std::exp(-x));
    case OpKind::Relu: return x < 0 ? 0.0 : x;  // NaN passes through
    case OpKind::LeakyRelu: return x < 0 ? a.slope * x : x;
    case OpKind::Softplus: return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x)));  // log(1 + e^x)
    case OpKind::Gelu:
      if (a.approximate) {
        const double k = std::sqrt(2.0 / std::numbers::pi);
        return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
      }
      return 0.5 * x * std::erfc(-x / std::numbers::sqrt2);  // x * Phi(x)
    case OpKind::Erf: return std::erf(x);
    case OpKind::Reciprocal: return 1.0 / x;
    case OpKind::StableReciprocal:
      // 1/x at or above the threshold; below it the line through (±thr, ±1/thr) with slope
      // -1/thr^2, the sign term being +1 at zero.
      if (std::abs(x) >= thr) return 1.0 / x;
      return (x < 0 ? -2.0 : 2.0) / thr - x / thr / thr;
    case OpKind::Floor: return std::floor(x);
    case OpKind::LogicalNot: return x != 0 ? 0.0 : 1.0;
    case OpKind::Identity:
    case OpKind::StopGradient: return x;
    default: MI_THROW(KernelError, "[{}] is not a unary op of the reference backend", op_name(kind));
  }
}

void unary_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const UnaryAttrs& attrs = static_cast<const UnaryOp&>(op).attrs;
  const double thr = effective_threshold(attrs.threshold, in[0].dtype());
  std::vector<double> v = read(in[0]);
  for (double& x : v) x = apply(op.kind(), attrs, thr, x);
  write(out[0], v);
}

}  // namespace

void register_unary_kernels(KernelTable& t) {
  const auto numeric = {DType::f64, DType::f32, DType::f16, DType::bf16, DType::i8, DType::i32, DType::i64};
  const auto floating = {DType::f64, DType::f32, DType::f16, DType::bf16};
  const auto all = {DType::f64, DType::f32, DType::f16, DType::bf16, DType::i8, DType::i32, DType::i64, DType::b8};
  for (OpKind k : {OpKind::Neg, OpKind::Abs, OpKind::Sign, OpKind::Square, OpKind::Relu})
    add_for_dtypes(t, k, numeric, unary_kernel, op_name(k).data());
  for (OpKind k : {OpKind::Sqrt, OpKind::Exp, OpKind::Log, OpKind::Log1p, OpKind::Sin, OpKind::Cos, OpKind::Tanh,
                   OpKind::Sigmoid, OpKind::LeakyRelu, OpKind::Softplus, OpKind::Gelu, OpKind::Erf, OpKind::Reciprocal,
                   OpKind::StableReciprocal, OpKind::Floor})
    add_for_dtypes(t, k, floating, unary_kernel, op_name(k).data());
  add_for_dtypes(t, OpKind::LogicalNot, {DType::b8}, unary_kernel, "logical_not");
  add_for_dtypes(t, OpKind::Identity, all, unary_kernel, "identity");
  add_for_dtypes(t, OpKind::StopGradient, all, unary_kernel, "stop_gradient");
}

}  // namespace mithril::reference
