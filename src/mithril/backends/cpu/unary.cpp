// CPU kernels for the unary family. Each op is a scalar lambda mapped over a contiguous
// tensor; the lambdas use selects rather than branches where they can, so GCC vectorizes the
// arithmetic ones (transcendental calls stay scalar: libm has no vector variants without
// -ffast-math).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>
#include <string>
#include <type_traits>

#include <fmt/format.h>

#include "mithril/backends/cpu/loops.h"
#include "mithril/backends/cpu/registry.h"
#include "mithril/backends/cpu/vec_math.h"
#include "mithril/ops/unary.h"

namespace mithril::cpu {
namespace {

// Integer negation, abs and square wrap around like NumPy (in unsigned arithmetic, so
// -INT_MIN is defined behaviour).
template <typename T>
T wrapping_neg(T x) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(U(0) - static_cast<U>(x)));
  } else {
    return -x;
  }
}

template <typename T>
T wrapping_square(T x) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(static_cast<U>(x) * static_cast<U>(x)));
  } else {
    return x * x;
  }
}

// Kernels for ops defined on every numeric dtype (float and signed integer).
template <typename T, OpKind K>
void numeric_kernel(const Op&, std::span<const Tensor> in, std::span<Tensor> out) {
  auto run = [&](auto f) { map_unary<T, T>(in[0], out[0], f); };
  if constexpr (K == OpKind::Neg) run([](T x) { return wrapping_neg(x); });
  else if constexpr (K == OpKind::Abs) run([](T x) { return x < T(0) ? wrapping_neg(x) : x; });
  // NaN (neither > 0 nor < 0) passes through, as in NumPy.
  else if constexpr (K == OpKind::Sign) run([](T x) { return x > T(0) ? T(1) : (x < T(0) ? T(-1) : x); });
  else if constexpr (K == OpKind::Square) run([](T x) { return wrapping_square(x); });
  // max(0, x) that propagates NaN.
  else if constexpr (K == OpKind::Relu) run([](T x) { return x < T(0) ? T(0) : x; });
}

template <typename T>
T stable_sigmoid(T x) {
  // e^-|x| never overflows: 1/(1+e^-x) for x >= 0 and e^x/(1+e^x) = e^x * 1/(1+e^x) otherwise.
  const T e = std::exp(-std::abs(x));
  const T r = T(1) / (T(1) + e);
  return x >= T(0) ? r : e * r;
}

template <typename T>
T gelu_erf(T x) {
  // x*(1+erf(x/sqrt2))/2 written with erfc, which keeps the tail for very negative x instead of
  // cancelling 1 + erf(...) to zero.
  return T(0.5) * x * std::erfc(-x * static_cast<T>(std::numbers::sqrt2 / 2));
}

// x*(1+tanh(u))/2 written as x*sigmoid(2u) = x/(1+e^(-2u)): the same function without the
// cancellation of 1 + tanh(u) for very negative u, which in float32 lost about four digits of
// the tail (x = -3.9: relative error 4e-4).
template <typename T>
T gelu_tanh(T x) {
  const T k = static_cast<T>(std::sqrt(2.0 / std::numbers::pi));
  return x / (T(1) + std::exp(T(-2) * k * (x + T(0.044715) * x * x * x)));
}

// Kernels for ops defined on floating-point dtypes only.
template <typename T, OpKind K>
void float_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const UnaryAttrs& attrs = static_cast<const UnaryOp&>(op).attrs;
  auto threshold = [&] { return static_cast<T>(effective_threshold(attrs.threshold, dtype_of_v<T>)); };
  auto run = [&](auto f) { map_unary<T, T>(in[0], out[0], f); };
  if constexpr (K == OpKind::Sqrt) {
    if (attrs.robust) {
      // |x| continued linearly below the threshold: sqrt(a) for a >= thr, else a/sqrt(thr).
      const T thr = threshold(), sqrt_thr = std::sqrt(thr);
      run([thr, sqrt_thr](T x) {
        const T a = std::abs(x);
        return a >= thr ? std::sqrt(a) : a / sqrt_thr;
      });
    } else {
      run([](T x) { return std::sqrt(x); });
    }
  } else if constexpr (K == OpKind::Log) {
    if (attrs.robust) {
      // ln(a) for a >= thr, else its tangent at thr: ln(thr) + a/thr - 1.
      const T thr = threshold(), log_thr = std::log(thr);
      run([thr, log_thr](T x) {
        const T a = std::abs(x);
        return a >= thr ? std::log(a) : log_thr + a / thr - T(1);
      });
    } else {
      run([](T x) { return std::log(x); });
    }
  } else if constexpr (K == OpKind::StableReciprocal) {
    // Below the threshold: (sign(x) + (1 - sign|x|))*2/thr - x/thr^2, where the sign term is
    // -1 for x < 0 and 1 otherwise (including 0). x/thr/thr avoids underflow of thr^2.
    const T thr = threshold();
    run([thr](T x) { return std::abs(x) >= thr ? T(1) / x : (x < T(0) ? T(-2) : T(2)) / thr - x / thr / thr; });
  } else if constexpr (K == OpKind::LeakyRelu) {
    const T slope = static_cast<T>(attrs.slope);
    run([slope](T x) { return x < T(0) ? slope * x : x; });
  } else if constexpr (K == OpKind::Gelu) {
    if (attrs.approximate) run([](T x) { return gelu_tanh(x); });
    else run([](T x) { return gelu_erf(x); });
  } else if constexpr (K == OpKind::Exp) run([](T x) { return std::exp(x); });
  else if constexpr (K == OpKind::Log1p) run([](T x) { return std::log1p(x); });
  else if constexpr (K == OpKind::Sin) run([](T x) { return std::sin(x); });
  else if constexpr (K == OpKind::Cos) run([](T x) { return std::cos(x); });
  else if constexpr (K == OpKind::Tanh) run([](T x) { return std::tanh(x); });
  else if constexpr (K == OpKind::Sigmoid) run([](T x) { return stable_sigmoid(x); });
  else if constexpr (K == OpKind::Softplus)
    run([](T x) { return std::log1p(std::exp(-std::abs(x))) + std::max(x, T(0)); });
  else if constexpr (K == OpKind::Erf) run([](T x) { return std::erf(x); });
  else if constexpr (K == OpKind::Reciprocal) run([](T x) { return T(1) / x; });
  else if constexpr (K == OpKind::Floor) run([](T x) { return std::floor(x); });
}

// Exp, Tanh and Sigmoid through the AVX2+FMA array functions of vec_math.h.
template <typename T, void (*F)(const T*, T*, int64_t)>
void vec_kernel(const Op&, std::span<const Tensor> in, std::span<Tensor> out) {
  const T* x = in[0].data<T>();
  T* y = out[0].data<T>();
  parallel_for(0, out[0].numel(), kElementwiseGrain / 4, [&](int64_t b, int64_t e) { F(x + b, y + b, e - b); });
}

void logical_not_kernel(const Op&, std::span<const Tensor> in, std::span<Tensor> out) {
  map_unary<bool, bool>(in[0], out[0], [](bool x) { return !x; });
}

// Identity and StopGradient: a plain copy for any dtype (they differ only for autodiff).
void copy_kernel(const Op&, std::span<const Tensor> in, std::span<Tensor> out) {
  if (out[0].nbytes() > 0) std::memcpy(out[0].raw_data(), in[0].raw_data(), out[0].nbytes());
}

std::string kernel_name(OpKind k, DType t) { return fmt::format("{}_{}", op_name(k), dtype_name(t)); }

template <OpKind K, typename... Ts>
void add_numeric(KernelTable& r) {
  (r.add(K, dtype_of_v<Ts>, numeric_kernel<Ts, K>, kernel_name(K, dtype_of_v<Ts>)), ...);
}

template <OpKind... Ks>
void add_float(KernelTable& r) {
  (r.add(Ks, DType::f64, float_kernel<double, Ks>, kernel_name(Ks, DType::f64)), ...);
  (r.add(Ks, DType::f32, float_kernel<float, Ks>, kernel_name(Ks, DType::f32)), ...);
}

}  // namespace

void register_unary_kernels(KernelTable& r) {
  add_numeric<OpKind::Neg, double, float, int8_t, int32_t, int64_t>(r);
  add_numeric<OpKind::Abs, double, float, int8_t, int32_t, int64_t>(r);
  add_numeric<OpKind::Sign, double, float, int8_t, int32_t, int64_t>(r);
  add_numeric<OpKind::Square, double, float, int8_t, int32_t, int64_t>(r);
  add_numeric<OpKind::Relu, double, float, int8_t, int32_t, int64_t>(r);
  add_float<OpKind::Sqrt, OpKind::Exp, OpKind::Log, OpKind::Log1p, OpKind::Sin, OpKind::Cos, OpKind::Tanh,
            OpKind::Sigmoid, OpKind::LeakyRelu, OpKind::Softplus, OpKind::Gelu, OpKind::Erf, OpKind::Reciprocal,
            OpKind::StableReciprocal, OpKind::Floor>(r);
  r.add(OpKind::Exp, DType::f32, vec_kernel<float, vec::exp>, "exp_f32_avx2", Isa::avx2_fma, 10);
  r.add(OpKind::Exp, DType::f64, vec_kernel<double, vec::exp>, "exp_f64_avx2", Isa::avx2_fma, 10);
  r.add(OpKind::Tanh, DType::f32, vec_kernel<float, vec::tanh>, "tanh_f32_avx2", Isa::avx2_fma, 10);
  r.add(OpKind::Tanh, DType::f64, vec_kernel<double, vec::tanh>, "tanh_f64_avx2", Isa::avx2_fma, 10);
  r.add(OpKind::Sigmoid, DType::f32, vec_kernel<float, vec::sigmoid>, "sigmoid_f32_avx2", Isa::avx2_fma, 10);
  r.add(OpKind::Sigmoid, DType::f64, vec_kernel<double, vec::sigmoid>, "sigmoid_f64_avx2", Isa::avx2_fma, 10);
  r.add(OpKind::LogicalNot, DType::b8, logical_not_kernel, kernel_name(OpKind::LogicalNot, DType::b8));
  const std::initializer_list<DType> all = {DType::f64, DType::f32, DType::f16, DType::bf16,
                                            DType::i8,  DType::i32, DType::i64, DType::b8};
  add_for_dtypes(r, OpKind::Identity, all, copy_kernel, "identity");
  add_for_dtypes(r, OpKind::StopGradient, all, copy_kernel, "stop_gradient");
}

}  // namespace mithril::cpu
