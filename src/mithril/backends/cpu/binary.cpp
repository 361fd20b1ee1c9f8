// CPU kernels for the binary family: arithmetic, comparisons, logical ops, shifts, where.
#include <cmath>
#include <type_traits>

#include "mithril/backends/cpu/loops.h"
#include "mithril/core/error.h"
#include "mithril/backends/cpu/registry.h"
#include "mithril/ops/binary.h"

namespace mithril::cpu {
namespace {

template <typename T>
T floor_div_scalar(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::floor(a / b);
  } else {
    if (b == 0) return 0;  // NumPy returns 0 for integer division by zero
    T q = static_cast<T>(a / b);
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
  }
}

// NumPy's shifts: the count is read as unsigned, so a negative count or one of at least the
// bit width shifts everything out (0, or -1 for a negative value shifted right) instead of
// being undefined behaviour.
template <typename T>
T shift_left_scalar(T x, T y) {
  using U = std::make_unsigned_t<T>;
  if (static_cast<U>(y) >= sizeof(T) * 8) return 0;
  return static_cast<T>(static_cast<U>(static_cast<U>(x) << y));
}

template <typename T>
T shift_right_scalar(T x, T y) {
  using U = std::make_unsigned_t<T>;
  if (static_cast<U>(y) >= sizeof(T) * 8) return x < 0 ? T(-1) : T(0);
  return static_cast<T>(x >> y);
}

template <typename T>
T robust_pow_scalar(T base, T exponent, T thr) {
  const T a = std::abs(base);
  if (a < thr && exponent < T(1) - std::log(thr) / std::log(a)) return a / thr;
  return std::pow(a, exponent);
}

template <typename T, OpKind K>
void arith_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const Tensor& a = in[0];
  const Tensor& b = in[1];
  Tensor& o = out[0];
  if constexpr (K == OpKind::Add) map_binary<T, T, T>(a, b, o, [](T x, T y) { return static_cast<T>(x + y); });
  else if constexpr (K == OpKind::Sub) map_binary<T, T, T>(a, b, o, [](T x, T y) { return static_cast<T>(x - y); });
  else if constexpr (K == OpKind::Mul) map_binary<T, T, T>(a, b, o, [](T x, T y) { return static_cast<T>(x * y); });
  else if constexpr (K == OpKind::Div) map_binary<T, T, T>(a, b, o, [](T x, T y) { return x / y; });
  else if constexpr (K == OpKind::FloorDiv) map_binary<T, T, T>(a, b, o, floor_div_scalar<T>);
  else if constexpr (K == OpKind::Maximum) map_binary<T, T, T>(a, b, o, [](T x, T y) { return x > y ? x : y; });
  else if constexpr (K == OpKind::Minimum) map_binary<T, T, T>(a, b, o, [](T x, T y) { return x < y ? x : y; });
  else if constexpr (K == OpKind::Pow) {
    const auto& bop = static_cast<const BinaryOp&>(op);
    if (bop.robust) {
      const T thr = static_cast<T>(bop.threshold);
      map_binary<T, T, T>(a, b, o, [thr](T x, T y) { return robust_pow_scalar(x, y, thr); });
    } else {
      map_binary<T, T, T>(a, b, o, [](T x, T y) { return static_cast<T>(std::pow(x, y)); });
    }
  } else if constexpr (K == OpKind::ShiftLeft) {
    map_binary<T, T, T>(a, b, o, shift_left_scalar<T>);
  } else if constexpr (K == OpKind::ShiftRight) {
    map_binary<T, T, T>(a, b, o, shift_right_scalar<T>);
  }
  (void)op;
}

template <typename T, OpKind K>
void compare_kernel(const Op&, std::span<const Tensor> in, std::span<Tensor> out) {
  auto run = [&](auto f) { map_binary<T, T, bool>(in[0], in[1], out[0], f); };
  if constexpr (K == OpKind::Equal) run([](T x, T y) { return x == y; });
  else if constexpr (K == OpKind::NotEqual) run([](T x, T y) { return x != y; });
  else if constexpr (K == OpKind::Less) run([](T x, T y) { return x < y; });
  else if constexpr (K == OpKind::LessEqual) run([](T x, T y) { return x <= y; });
  else if constexpr (K == OpKind::Greater) run([](T x, T y) { return x > y; });
  else if constexpr (K == OpKind::GreaterEqual) run([](T x, T y) { return x >= y; });
  else if constexpr (K == OpKind::LogicalAnd) run([](T x, T y) { return x && y; });
  else if constexpr (K == OpKind::LogicalOr) run([](T x, T y) { return x || y; });
  else if constexpr (K == OpKind::LogicalXor) run([](T x, T y) { return x != y; });
}

template <typename T>
void where_kernel(const Op&, std::span<const Tensor> in, std::span<Tensor> out) {
  map_ternary<bool, T, T, T>(in[0], in[1], in[2], out[0], [](bool c, T x, T y) { return c ? x : y; });
}

template <OpKind K, typename... Ts>
void add_arith(KernelTable& r) {
  (r.add(K, dtype_of_v<Ts>, arith_kernel<Ts, K>, fmt::format("{}_{}", op_name(K), dtype_name(dtype_of_v<Ts>))), ...);
}
template <OpKind K, typename... Ts>
void add_compare(KernelTable& r) {
  (r.add(K, dtype_of_v<Ts>, compare_kernel<Ts, K>, fmt::format("{}_{}", op_name(K), dtype_name(dtype_of_v<Ts>))), ...);
}

}  // namespace

void register_binary_kernels(KernelTable& r) {
  add_arith<OpKind::Add, double, float, int8_t, int32_t, int64_t>(r);
  add_arith<OpKind::Sub, double, float, int8_t, int32_t, int64_t>(r);
  add_arith<OpKind::Mul, double, float, int8_t, int32_t, int64_t>(r);
  add_arith<OpKind::Div, double, float>(r);
  add_arith<OpKind::FloorDiv, double, float, int8_t, int32_t, int64_t>(r);
  add_arith<OpKind::Pow, double, float>(r);
  add_arith<OpKind::Maximum, double, float, int8_t, int32_t, int64_t, bool>(r);
  add_arith<OpKind::Minimum, double, float, int8_t, int32_t, int64_t, bool>(r);
  add_arith<OpKind::ShiftLeft, int8_t, int32_t, int64_t>(r);
  add_arith<OpKind::ShiftRight, int8_t, int32_t, int64_t>(r);
  add_compare<OpKind::Equal, double, float, int8_t, int32_t, int64_t, bool>(r);
  add_compare<OpKind::NotEqual, double, float, int8_t, int32_t, int64_t, bool>(r);
  add_compare<OpKind::Less, double, float, int8_t, int32_t, int64_t, bool>(r);
  add_compare<OpKind::LessEqual, double, float, int8_t, int32_t, int64_t, bool>(r);
  add_compare<OpKind::Greater, double, float, int8_t, int32_t, int64_t, bool>(r);
  add_compare<OpKind::GreaterEqual, double, float, int8_t, int32_t, int64_t, bool>(r);
  add_compare<OpKind::LogicalAnd, bool>(r);
  add_compare<OpKind::LogicalOr, bool>(r);
  add_compare<OpKind::LogicalXor, bool>(r);
  r.add(OpKind::Where, DType::f64, where_kernel<double>, "where_f64");
  r.add(OpKind::Where, DType::f32, where_kernel<float>, "where_f32");
  r.add(OpKind::Where, DType::i8, where_kernel<int8_t>, "where_i8");
  r.add(OpKind::Where, DType::i32, where_kernel<int32_t>, "where_i32");
  r.add(OpKind::Where, DType::i64, where_kernel<int64_t>, "where_i64");
  r.add(OpKind::Where, DType::b8, where_kernel<bool>, "where_bool");
}

}  // namespace mithril::cpu
