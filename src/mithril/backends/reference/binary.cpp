// Reference kernels for the binary family: out[i] = f(a[i'], b[i'']) with NumPy broadcasting,
// in float64. Integer floor division and shifts are computed in int64 on the exact integer
// values (every integer of the tested dtypes is exact in a double up to 2^53).
#include <cmath>
#include <cstdint>

#include "mithril/backends/reference/kernels.h"
#include "mithril/backends/reference/loops.h"
#include "mithril/core/error.h"
#include "mithril/ops/binary.h"

namespace mithril::reference {
namespace {

// Sign-extends the low `bits` bits of v: the value a `bits`-wide signed integer holds.
int64_t wrap_to(uint64_t v, int bits) {
  if (bits >= 64) return static_cast<int64_t>(v);
  const uint64_t mask = (uint64_t{1} << bits) - 1;
  v &= mask;
  return (v >> (bits - 1)) & 1 ? static_cast<int64_t>(v | ~mask) : static_cast<int64_t>(v);
}

// Integer floor division; NumPy gives 0 for a division by zero.
double floor_div_int(double a, double b) {
  const auto x = static_cast<int64_t>(a), y = static_cast<int64_t>(b);
  if (y == 0) return 0;
  int64_t q = x / y;
  if (x % y != 0 && ((x < 0) != (y < 0))) --q;
  return static_cast<double>(q);
}

// NumPy's shifts on `bits`-wide integers: the count is read as unsigned, so a negative count or
// one of at least the width shifts every bit out.
double shift_left(double a, double b, int bits) {
  const auto x = static_cast<int64_t>(a), y = static_cast<int64_t>(b);
  if (y < 0 || y >= bits) return 0;
  return static_cast<double>(wrap_to(static_cast<uint64_t>(x) << y, bits));
}
double shift_right(double a, double b, int bits) {
  const auto x = static_cast<int64_t>(a), y = static_cast<int64_t>(b);
  if (y < 0 || y >= bits) return x < 0 ? -1 : 0;
  return static_cast<double>(x >> y);  // arithmetic shift of the sign-extended value
}

// Mithril's robust power: |base|^exponent, continued as |base|/thr where |base| < thr and the
// exponent is below 1 - ln(thr)/ln|base| (where the power would exceed the line).
double robust_pow(double base, double exponent, double thr) {
  const double a = std::abs(base);
  if (a < thr && exponent < 1.0 - std::log(thr) / std::log(a)) return a / thr;
  return std::pow(a, exponent);
}

double apply(const BinaryOp& op, bool integer, int bits, double a, double b) {
  switch (op.kind()) {
    case OpKind::Add: return a + b;
    case OpKind::Sub: return a - b;
    case OpKind::Mul: return a * b;
    case OpKind::Div: return a / b;
    case OpKind::FloorDiv: return integer ? floor_div_int(a, b) : std::floor(a / b);
    case OpKind::Pow: return op.robust ? robust_pow(a, b, op.threshold) : std::pow(a, b);
    case OpKind::Maximum: return a > b ? a : b;  // the right operand when unordered (NaN)
    case OpKind::Minimum: return a < b ? a : b;
    case OpKind::Equal: return a == b;
    case OpKind::NotEqual: return a != b;
    case OpKind::Less: return a < b;
    case OpKind::LessEqual: return a <= b;
    case OpKind::Greater: return a > b;
    case OpKind::GreaterEqual: return a >= b;
    case OpKind::LogicalAnd: return (a != 0) && (b != 0);
    case OpKind::LogicalOr: return (a != 0) || (b != 0);
    case OpKind::LogicalXor: return (a != 0) != (b != 0);
    case OpKind::ShiftLeft: return shift_left(a, b, bits);
    case OpKind::ShiftRight: return shift_right(a, b, bits);
    default: MI_THROW(KernelError, "[{}] is not a binary op of the reference backend", op.name());
  }
}

void binary_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const Shape& shape = out[0].shape();
  const std::vector<double> a = read(in[0]), b = read(in[1]);
  const std::vector<int64_t> sa = broadcast_sources(in[0].shape(), shape), sb = broadcast_sources(in[1].shape(), shape);
  const DType t = in[0].dtype();
  const bool integer = is_int(t);
  const int bits = static_cast<int>(dtype_size(t)) * 8;
  std::vector<double> r(sa.size());
  for (size_t i = 0; i < r.size(); ++i)
    r[i] = apply(static_cast<const BinaryOp&>(op), integer, bits, a[static_cast<size_t>(sa[i])],
                 b[static_cast<size_t>(sb[i])]);
  write(out[0], r);
}

void where_kernel(const Op&, std::span<const Tensor> in, std::span<Tensor> out) {
  const Shape& shape = out[0].shape();
  const std::vector<double> c = read(in[0]), a = read(in[1]), b = read(in[2]);
  std::vector<double> r(static_cast<size_t>(numel(shape)));
  for_each_index(shape, [&](const Index& idx, int64_t i) {
    const bool take_a = c[static_cast<size_t>(broadcast_source(idx, in[0].shape()))] != 0;
    r[static_cast<size_t>(i)] = take_a ? a[static_cast<size_t>(broadcast_source(idx, in[1].shape()))]
                                       : b[static_cast<size_t>(broadcast_source(idx, in[2].shape()))];
  });
  write(out[0], r);
}

}  // namespace

void register_binary_kernels(KernelTable& t) {
  const auto numeric = {DType::f64, DType::f32, DType::f16, DType::bf16, DType::i8, DType::i32, DType::i64};
  const auto floating = {DType::f64, DType::f32, DType::f16, DType::bf16};
  const auto integers = {DType::i8, DType::i32, DType::i64};
  const auto all = {DType::f64, DType::f32, DType::f16, DType::bf16, DType::i8, DType::i32, DType::i64, DType::b8};
  for (OpKind k : {OpKind::Add, OpKind::Sub, OpKind::Mul, OpKind::FloorDiv})
    add_for_dtypes(t, k, numeric, binary_kernel, op_name(k).data());
  for (OpKind k : {OpKind::Div, OpKind::Pow}) add_for_dtypes(t, k, floating, binary_kernel, op_name(k).data());
  for (OpKind k : {OpKind::Maximum, OpKind::Minimum, OpKind::Equal, OpKind::NotEqual, OpKind::Less,
                   OpKind::LessEqual, OpKind::Greater, OpKind::GreaterEqual})
    add_for_dtypes(t, k, all, binary_kernel, op_name(k).data());
  for (OpKind k : {OpKind::LogicalAnd, OpKind::LogicalOr, OpKind::LogicalXor})
    add_for_dtypes(t, k, {DType::b8}, binary_kernel, op_name(k).data());
  for (OpKind k : {OpKind::ShiftLeft, OpKind::ShiftRight}) add_for_dtypes(t, k, integers, binary_kernel, op_name(k).data());
  add_for_dtypes(t, OpKind::Where, all, where_kernel, "where");
}

}  // namespace mithril::reference
