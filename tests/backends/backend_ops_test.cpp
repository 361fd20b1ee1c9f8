// The cross-backend op test, in the style of ggml's test-backend-ops. One table holds a case for
// every op of ops.def (kCases below: a missing case_<Kind> function fails to link, and the table
// size is checked against kNumOps). A case builds its op on random inputs of one dtype, with
// random shapes (broadcasting, size-1 and empty dims where the op allows them). For every backend
// of the registry other than the reference, every op and every dtype that backend has a kernel
// for, the case runs on that backend and on the reference backend (the oracle) and the outputs
// are compared by NMSE with a per-op, per-dtype tolerance.
//
// MITHRIL_BACKEND_OPS_MODE selects what runs: `test` (the forward comparison), `grad` (the
// gradient graph of autodiff on each backend against the reference backend, and on the reference
// backend in float64 against central finite differences), `support` (prints the support matrix)
// and `perf` (times each op on each backend, larger shapes, no assertion). Unset, both `test` and
// `grad` run (what ctest does); ctest runs `support` and `perf` as backend_ops.support and
// backend_ops.perf.
//
// Fused ops exist only on backends with operator fusion: their cases build small graphs that the
// fusion pass turns into fused_elementwise / fused_linear nodes, run fused on the backend and
// unfused on the reference backend.
//
// Adding an op: define `void case_<Kind>(Case& c)` next to its family's cases and add nothing else.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <limits>
#include <random>
#include <string>

#include <fmt/format.h>

#include "mithril/backends/backend.h"
#include "mithril/backends/reference/reference_backend.h"
#include "mithril/backends/support_matrix.h"
#include "mithril/core/env.h"
#include "mithril/core/error.h"
#include "mithril/graph/autodiff.h"
#include "mithril/graph/passes.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/conv.h"
#include "mithril/ops/linalg.h"
#include "mithril/ops/loss.h"
#include "mithril/ops/reduce.h"
#include "mithril/ops/shape.h"
#include "mithril/ops/unary.h"

namespace mithril {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr DType kAllDTypes[] = {DType::f64, DType::f32, DType::f16, DType::bf16,
                                DType::i8,  DType::i32, DType::i64, DType::b8};

// Empty (the knob's default): test and grad.
std::string mode() {
  const std::string m = env_value("MITHRIL_BACKEND_OPS_MODE");
  return m == "test and grad" ? "" : m;
}
bool mode_runs(std::string_view m) { return mode() == m || (mode().empty() && (m == "test" || m == "grad")); }

// ---- a case under construction ----

// One op application on random inputs: the graph, its feed, and the inputs gradients are taken
// with respect to. Built from a seed, so building twice gives the same program.
struct Case {
  Case(DType dtype, uint64_t seed, bool perf) : dt(dtype), rng(seed), perf(perf) {}
  DType dt;
  std::mt19937_64 rng;
  bool perf;  // larger shapes for timing
  GraphProgram program;
  std::vector<Tensor> feed;
  std::vector<Var> wrt;  // differentiated inputs (filled by input() for float dtypes)
  bool fd = true;        // the op is smooth enough at the drawn inputs for finite differences

  Graph& g() { return *program.graph; }
  void out(const Var& v) { program.outputs.push_back(v.id()); }

  int64_t uniform_int(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); }
  double uniform(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); }
  bool coin(double p = 0.5) { return uniform(0, 1) < p; }

  // A dim in [lo, hi]; in perf mode scaled up so the kernels have work to time.
  int64_t dim(int64_t lo, int64_t hi) {
    return perf ? uniform_int(std::max<int64_t>(lo, 1) * 4, std::max<int64_t>(hi, 1) * 4) : uniform_int(lo, hi);
  }
  // A random shape of rank [rmin, rmax]: dims of 1..4, sometimes 1, rarely 0 (when allowed).
  Shape shape(int rmin, int rmax, bool allow_empty = true) {
    Shape s;
    const auto rank = perf ? std::max<int64_t>(uniform_int(rmin, rmax), std::min(2, rmax)) : uniform_int(rmin, rmax);
    for (int64_t d = 0; d < rank; ++d) {
      if (!perf && allow_empty && coin(0.06)) s.push_back(0);
      else if (coin(0.2)) s.push_back(1);
      else s.push_back(dim(2, 4));
    }
    return s;
  }
  // Two shapes that broadcast together: the second drops leading dims and sets some to 1 (or
  // the first does), both ways round.
  std::pair<Shape, Shape> broadcast_pair(bool allow_empty = true) {
    Shape a = shape(0, 3, allow_empty), b = a;
    if (coin(0.3)) return {a, b};
    const auto drop = uniform_int(0, static_cast<int64_t>(b.size()));
    b.erase(b.begin(), b.begin() + drop);
    for (int64_t& d : b)
      if (coin(0.3)) d = 1;
    if (coin()) std::swap(a, b);
    return {a, b};
  }

  // A graph input of `dtype` whose values come from gen() (converted to the dtype).
  template <typename Gen>
  Var input_from(const Shape& s, DType dtype, Gen gen, bool differentiate = true) {
    std::vector<double> v(static_cast<size_t>(numel(s)));
    for (double& x : v) x = gen();
    feed.push_back(Tensor::from_doubles(v, s, dtype));
    const Var var = g().input("in" + std::to_string(feed.size() - 1), s, dtype);
    if (differentiate && is_float(dtype)) wrt.push_back(var);
    return var;
  }
  // Values in [lo, hi] (integer dtypes: whole numbers; bool: a coin).
  Var input(const Shape& s, DType dtype, double lo = -1, double hi = 1, bool differentiate = true) {
    return input_from(s, dtype, [&] {
      if (dtype == DType::b8) return coin() ? 1.0 : 0.0;
      if (is_int(dtype))
        return static_cast<double>(uniform_int(static_cast<int64_t>(std::ceil(lo)), static_cast<int64_t>(std::floor(hi))));
      return uniform(lo, hi);
    }, differentiate);
  }
  Var input(const Shape& s, double lo = -1, double hi = 1) { return input(s, dt, lo, hi); }
  // Whole numbers in [lo, hi] in any dtype: equal elements (ties) are common.
  Var whole(const Shape& s, int64_t lo, int64_t hi) {
    return input_from(s, dt, [&] { return static_cast<double>(uniform_int(lo, hi)); });
  }
  // Values with |x| >= min_abs, away from kinks at zero.
  Var input_away_from_zero(const Shape& s, double lo, double hi, double min_abs) {
    return input_from(s, dt, [&] {
      double x;
      do x = uniform(lo, hi);
      while (std::abs(x) < min_abs);
      return x;
    });
  }
  // Index inputs in [0, n) (or [-n, n) with `negative`), i32 or i64 at random.
  Var indices(const Shape& s, int64_t n, bool negative) {
    return input(s, coin() ? DType::i32 : DType::i64, negative ? -n : 0, n - 1, false);
  }
};

using CaseFn = void (*)(Case&);

// ---- unary ----

void unary(Case& c, OpKind k, UnaryAttrs a = {}, double lo = -2, double hi = 2) {
  c.out(ops::unary(k, c.input(c.shape(0, 3), lo, hi), a));
}
void case_Neg(Case& c) { unary(c, OpKind::Neg, {}, -5, 5); }
void case_Abs(Case& c) { c.out(ops::abs(c.input_away_from_zero(c.shape(0, 3), -5, 5, is_float(c.dt) ? 0.05 : 0))); }
void case_Sign(Case& c) { unary(c, OpKind::Sign, {}, -3, 3); }
void case_Square(Case& c) { unary(c, OpKind::Square, {}, -5, 5); }
void case_Sqrt(Case& c) {
  if (c.coin()) return unary(c, OpKind::Sqrt, {}, 0.1, 4);
  // Robust: |x| below the threshold continues linearly; both branches drawn.
  c.out(ops::robust_sqrt(c.input_away_from_zero(c.shape(0, 3), -2, 2, 0.01), 0.25));
}
void case_Exp(Case& c) { unary(c, OpKind::Exp, {}, -4, 4); }
void case_Log(Case& c) {
  if (c.coin()) return unary(c, OpKind::Log, {}, 0.1, 4);
  c.out(ops::robust_log(c.input_away_from_zero(c.shape(0, 3), -2, 2, 0.01), 0.25));
}
void case_Log1p(Case& c) { unary(c, OpKind::Log1p, {}, -0.9, 3); }
void case_Sin(Case& c) { unary(c, OpKind::Sin, {}, -4, 4); }
void case_Cos(Case& c) { unary(c, OpKind::Cos, {}, -4, 4); }
void case_Tanh(Case& c) { unary(c, OpKind::Tanh, {}, -4, 4); }
void case_Sigmoid(Case& c) { unary(c, OpKind::Sigmoid, {}, -8, 8); }
void case_Relu(Case& c) { c.out(ops::relu(c.input_away_from_zero(c.shape(0, 3), -3, 3, is_float(c.dt) ? 0.05 : 0))); }
void case_LeakyRelu(Case& c) {
  c.out(ops::leaky_relu(c.input_away_from_zero(c.shape(0, 3), -3, 3, 0.05), c.uniform(0.0, 0.3)));
}
void case_Softplus(Case& c) { unary(c, OpKind::Softplus, {}, -6, 6); }
void case_Gelu(Case& c) { c.out(ops::gelu(c.input(c.shape(0, 3), -4, 4), c.coin())); }
void case_Erf(Case& c) { unary(c, OpKind::Erf, {}, -3, 3); }
void case_Reciprocal(Case& c) { c.out(ops::reciprocal(c.input_away_from_zero(c.shape(0, 3), -3, 3, 0.2))); }
void case_StableReciprocal(Case& c) {
  c.out(ops::stable_reciprocal(c.input_away_from_zero(c.shape(0, 3), -2, 2, 0.01), 0.3));
}
void case_Floor(Case& c) {
  c.fd = false;  // piecewise constant
  unary(c, OpKind::Floor, {}, -4, 4);
}
void case_LogicalNot(Case& c) { unary(c, OpKind::LogicalNot); }
void case_StopGradient(Case& c) { unary(c, OpKind::StopGradient, {}, -5, 5); }
void case_Identity(Case& c) { unary(c, OpKind::Identity, {}, -5, 5); }

// ---- binary ----

// Both operands through graph.apply1, so no promotion or cast hides the dtype under test.
Var apply2(Case& c, OpPtr op, const Var& a, const Var& b) { return c.g().apply1(std::move(op), {a, b}); }
void binary(Case& c, OpKind k, double lo = -3, double hi = 3) {
  auto [sa, sb] = c.broadcast_pair();
  const Var a = c.input(sa, lo, hi), b = c.input(sb, lo, hi);
  c.out(apply2(c, std::make_shared<BinaryOp>(k), a, b));
}
void case_Add(Case& c) { binary(c, OpKind::Add, -5, 5); }
void case_Sub(Case& c) { binary(c, OpKind::Sub, -5, 5); }
void case_Mul(Case& c) { binary(c, OpKind::Mul, -5, 5); }
void case_Div(Case& c) {
  auto [sa, sb] = c.broadcast_pair();
  const Var a = c.input(sa, -3, 3), b = c.input_away_from_zero(sb, -3, 3, 0.3);
  c.out(apply2(c, std::make_shared<BinaryOp>(OpKind::Div), a, b));
}
void case_FloorDiv(Case& c) {
  c.fd = false;
  auto [sa, sb] = c.broadcast_pair();
  // Integer divisors include 0 (NumPy: 0) and negatives (rounding toward -inf).
  const Var a = c.input(sa, -20, 20), b = is_float(c.dt) ? c.input_away_from_zero(sb, -4, 4, 0.3) : c.input(sb, -4, 4);
  c.out(apply2(c, std::make_shared<BinaryOp>(OpKind::FloorDiv), a, b));
}
void case_Pow(Case& c) {
  auto [sa, sb] = c.broadcast_pair();
  if (c.coin()) {
    const Var a = c.input(sa, 0.2, 2.5), b = c.input(sb, -2, 2);
    c.out(apply2(c, std::make_shared<BinaryOp>(OpKind::Pow), a, b));
    return;
  }
  // Robust power: bases on both sides of the threshold and of zero.
  const Var a = c.input_away_from_zero(sa, -1.5, 1.5, 0.02), b = c.input(sb, 0.5, 2.5);
  c.out(apply2(c, std::make_shared<BinaryOp>(OpKind::Pow, true, 0.3), a, b));
}
// Maximum/minimum: continuous inputs (no ties) for the gradient, whole numbers (ties) otherwise.
void case_Maximum(Case& c) { binary(c, OpKind::Maximum); }
void case_Minimum(Case& c) { binary(c, OpKind::Minimum); }
// Comparisons on a few whole numbers, so equal elements occur in every dtype.
void comparison(Case& c, OpKind k) {
  auto [sa, sb] = c.broadcast_pair();
  const Var a = c.whole(sa, -2, 2), b = c.whole(sb, -2, 2);
  c.out(apply2(c, std::make_shared<BinaryOp>(k), a, b));
}
void case_Equal(Case& c) { comparison(c, OpKind::Equal); }
void case_NotEqual(Case& c) { comparison(c, OpKind::NotEqual); }
void case_Less(Case& c) { comparison(c, OpKind::Less); }
void case_LessEqual(Case& c) { comparison(c, OpKind::LessEqual); }
void case_Greater(Case& c) { comparison(c, OpKind::Greater); }
void case_GreaterEqual(Case& c) { comparison(c, OpKind::GreaterEqual); }
void case_LogicalAnd(Case& c) { binary(c, OpKind::LogicalAnd); }
void case_LogicalOr(Case& c) { binary(c, OpKind::LogicalOr); }
void case_LogicalXor(Case& c) { binary(c, OpKind::LogicalXor); }
void shift(Case& c, OpKind k) {
  auto [sa, sb] = c.broadcast_pair();
  // Counts include negatives and ones of at least the width, which shift every bit out; int64
  // results stay below 2^53 so that they are exact in the float64 the reference computes in.
  const int64_t bits = static_cast<int64_t>(dtype_size(c.dt) * 8), top = std::min<int64_t>(bits - 1, 40);
  const Var a = c.whole(sa, -100, 100);
  const Var b = c.input_from(sb, c.dt, [&] {
    return static_cast<double>(c.coin(0.8) ? c.uniform_int(-2, top) : c.uniform_int(bits, bits + 3));
  });
  c.out(apply2(c, std::make_shared<BinaryOp>(k), a, b));
}
void case_ShiftLeft(Case& c) { shift(c, OpKind::ShiftLeft); }
void case_ShiftRight(Case& c) { shift(c, OpKind::ShiftRight); }
void case_Where(Case& c) {
  auto [sa, sb] = c.broadcast_pair();
  const Shape sc = c.coin() ? sa : sb;
  const Var cond = c.input(sc, DType::b8);
  const Var a = c.input(sa, -3, 3), b = c.input(sb, -3, 3);
  c.out(c.g().apply1(std::make_shared<WhereOp>(), {cond, a, b}));
}

// ---- reduce ----

// A random subset of the axes of a rank-`rank` shape (sorted, unique), possibly empty.
Axes random_axes(Case& c, size_t rank, bool allow_none = true) {
  Axes axes;
  for (size_t d = 0; d < rank; ++d)
    if (c.coin()) axes.push_back(static_cast<int64_t>(d));
  if (axes.empty() && !allow_none && rank > 0) axes.push_back(c.uniform_int(0, static_cast<int64_t>(rank) - 1));
  return axes;
}
void reduce(Case& c, OpKind k, double lo = -3, double hi = 3, bool allow_empty = true, double correction = 0) {
  const Shape s = c.shape(0, 4, allow_empty);
  const Var x = c.input(s, lo, hi);
  c.out(c.g().apply1(std::make_shared<ReduceOp>(k, random_axes(c, s.size()), c.coin(), correction), {x}));
}
void case_Sum(Case& c) { reduce(c, OpKind::Sum); }
void case_Mean(Case& c) { reduce(c, OpKind::Mean, -3, 3, false); }
void case_Max(Case& c) { reduce(c, OpKind::Max, -3, 3, false); }
void case_Min(Case& c) { reduce(c, OpKind::Min, -3, 3, false); }
void case_Prod(Case& c) { reduce(c, OpKind::Prod, 0.5, 1.5); }
void case_Variance(Case& c) { reduce(c, OpKind::Variance, -3, 3, false, c.coin() ? 1.0 : 0.0); }
void case_LogSumExp(Case& c) { reduce(c, OpKind::LogSumExp, -5, 5); }
void arg_reduce(Case& c, OpKind k) {
  c.fd = false;
  Shape s = c.shape(1, 4, false);
  // Whole numbers in a small range: ties occur and the first index must win.
  const Var x = c.whole(s, -2, 2);
  c.out(c.g().apply1(std::make_shared<ReduceOp>(k, Axes{c.uniform_int(0, static_cast<int64_t>(s.size()) - 1)}, c.coin()), {x}));
}
void case_ArgMax(Case& c) { arg_reduce(c, OpKind::ArgMax); }
void case_ArgMin(Case& c) { arg_reduce(c, OpKind::ArgMin); }
void along_axis(Case& c, OpKind k, double lo, double hi) {
  const Shape s = c.shape(1, 4);
  const Var x = c.input(s, lo, hi);
  c.out(c.g().apply1(std::make_shared<AxisOp>(k, c.uniform_int(0, static_cast<int64_t>(s.size()) - 1)), {x}));
}
void case_CumSum(Case& c) { along_axis(c, OpKind::CumSum, -5, 5); }
void case_Softmax(Case& c) { along_axis(c, OpKind::Softmax, -5, 5); }
void case_LogSoftmax(Case& c) { along_axis(c, OpKind::LogSoftmax, -5, 5); }

// ---- shape ----

void case_Cast(Case& c) {
  const DType to = kAllDTypes[c.uniform_int(0, kNumDTypes - 1)];
  if (!is_float(to)) c.fd = false;
  const Var x = c.input(c.shape(0, 3), -4, 4);
  c.out(c.g().apply1(std::make_shared<CastOp>(to), {x}));
}
void case_Reshape(Case& c) {
  const Shape s = c.shape(0, 4);
  Shape to = s;
  std::shuffle(to.begin(), to.end(), c.rng);  // same element count
  if (c.coin()) to.insert(to.begin() + c.uniform_int(0, static_cast<int64_t>(to.size())), 1);
  c.out(c.g().apply1(std::make_shared<ReshapeOp>(to), {c.input(s)}));
}
void case_BroadcastTo(Case& c) {
  auto [a, b] = c.broadcast_pair();
  const Shape from = a.size() <= b.size() ? a : b;
  const Shape to = broadcast_shapes(a, b, "broadcast_to");
  c.out(c.g().apply1(std::make_shared<BroadcastToOp>(to), {c.input(from)}));
}
void case_Permute(Case& c) {
  const Shape s = c.shape(1, 4);
  Axes axes(s.size());
  for (size_t i = 0; i < axes.size(); ++i) axes[i] = static_cast<int64_t>(i);
  std::shuffle(axes.begin(), axes.end(), c.rng);
  c.out(c.g().apply1(std::make_shared<PermuteOp>(axes), {c.input(s)}));
}
void case_Slice(Case& c) {
  const Shape s = c.shape(1, 4);
  Axes axes;
  std::vector<int64_t> starts, stops, steps;
  for (size_t d = 0; d < s.size(); ++d) {
    if (c.coin(0.3)) continue;
    const int64_t n = s[d];
    axes.push_back(static_cast<int64_t>(d));
    starts.push_back(c.uniform_int(-n - 1, n + 1));  // negative and out of range: clamped like NumPy
    stops.push_back(c.coin(0.2) ? kSliceEnd : c.uniform_int(-n - 1, n + 1));
    steps.push_back(c.uniform_int(1, 3));
  }
  c.out(c.g().apply1(std::make_shared<SliceOp>(axes, starts, stops, steps), {c.input(s)}));
}
void case_Pad(Case& c) {
  const Shape s = c.shape(0, 3);
  std::vector<int64_t> low, high, interior;
  for (size_t d = 0; d < s.size(); ++d) {
    low.push_back(c.uniform_int(0, 2));
    high.push_back(c.uniform_int(0, 2));
    interior.push_back(c.uniform_int(0, 2));
  }
  c.out(c.g().apply1(std::make_shared<PadOp>(low, high, interior, c.coin() ? 0.0 : 1.0), {c.input(s)}));
}
void case_Concat(Case& c) {
  const Shape s = c.shape(1, 3);
  const auto axis = c.uniform_int(0, static_cast<int64_t>(s.size()) - 1);
  std::vector<Var> xs;
  for (int64_t i = 0, n = c.uniform_int(1, 3); i < n; ++i) {
    Shape si = s;
    si[static_cast<size_t>(axis)] = c.uniform_int(0, 3);
    xs.push_back(c.input(si));
  }
  c.out(c.g().apply1(std::make_shared<ConcatOp>(axis), xs));
}
void case_Split(Case& c) {
  Shape s = c.shape(1, 3);
  const auto axis = static_cast<size_t>(c.uniform_int(0, static_cast<int64_t>(s.size()) - 1));
  std::vector<int64_t> sizes;
  int64_t total = 0;
  for (int64_t i = 0, n = c.uniform_int(1, 3); i < n; ++i) total += sizes.emplace_back(c.uniform_int(0, 3));
  s[axis] = total;
  for (const Var& v : c.g().apply(std::make_shared<SplitOp>(static_cast<int64_t>(axis), sizes), {c.input(s)})) c.out(v);
}
void case_Gather(Case& c) {
  const Shape s = c.shape(1, 3);
  const auto axis = c.uniform_int(0, static_cast<int64_t>(s.size()) - 1);
  const int64_t n = s[static_cast<size_t>(axis)];
  const Var x = c.input(s);
  const Shape is = n == 0 ? Shape{0} : c.shape(0, 2);  // no index fits an empty axis
  c.out(c.g().apply1(std::make_shared<GatherOp>(axis), {x, c.indices(is, std::max<int64_t>(n, 1), true)}));
}
void case_ScatterAdd(Case& c) {
  Shape to = c.shape(1, 3);
  const auto axis = c.uniform_int(0, static_cast<int64_t>(to.size()) - 1);
  auto& n = to[static_cast<size_t>(axis)];
  n = std::max<int64_t>(n, 1);
  const Shape is = c.shape(0, 2);
  Shape us(to.begin(), to.begin() + axis);
  us.insert(us.end(), is.begin(), is.end());
  us.insert(us.end(), to.begin() + axis + 1, to.end());
  // Few positions for many updates: repeated indices accumulate.
  const Var u = c.input(us, -3, 3);
  c.out(c.g().apply1(std::make_shared<ScatterAddOp>(axis, to), {u, c.indices(is, n, true)}));
}
void case_Diagonal(Case& c) {
  const Shape s = c.shape(2, 4);
  const int64_t rows = s[s.size() - 2], cols = s.back();
  c.out(c.g().apply1(std::make_shared<DiagonalOp>(c.uniform_int(-rows, cols)), {c.input(s)}));
}
void case_Eye(Case& c) {
  const int64_t n = c.dim(0, 5), m = c.dim(0, 5);
  c.out(c.g().apply1(std::make_shared<EyeOp>(n, m, c.uniform_int(-n, m), c.dt), {}));
}
void case_OneHot(Case& c) {
  const int64_t classes = c.uniform_int(1, 5);
  c.out(c.g().apply1(std::make_shared<OneHotOp>(classes, c.dt), {c.indices(c.shape(0, 3), classes, false)}));
}

// ---- linalg ----

void case_MatMul(Case& c) {
  const int64_t m = c.dim(1, 5), k = c.dim(0, 5), n = c.dim(1, 5);
  Shape batch = c.shape(0, 2);
  Shape lb = batch, rb = batch;
  for (int64_t& d : c.coin() ? lb : rb)
    if (c.coin()) d = 1;  // broadcast batch dims
  if (c.coin()) lb.erase(lb.begin(), lb.begin() + c.uniform_int(0, static_cast<int64_t>(lb.size())));
  Shape ls = lb, rs = rb;
  // 1-D operands (promoted to a row on the left, a column on the right) now and then.
  if (c.coin(0.2)) ls = {k};
  else ls.insert(ls.end(), {m, k});
  if (c.coin(0.2)) rs = {k};
  else rs.insert(rs.end(), {k, n});
  const Var a = c.input(ls, -2, 2), b = c.input(rs, -2, 2);
  c.out(apply2(c, std::make_shared<MatMulOp>(), a, b));
}

// ---- conv ----

// Random convolution parameters with sizes that fit: `nd` spatial dims (1 or 2).
struct ConvDraw {
  Conv2dParams p;
  Shape input, weight;
};
ConvDraw draw_conv(Case& c, int nd) {
  ConvDraw d;
  const int64_t groups = c.uniform_int(1, 2);
  const int64_t cin = groups * c.uniform_int(1, 2), cout = groups * c.uniform_int(1, 2);
  d.p.groups = groups;
  std::array<int64_t, 2> k{1, 1}, in{1, 1};
  for (int a = 2 - nd; a < 2; ++a) {
    const auto i = static_cast<size_t>(a);
    k[i] = c.uniform_int(1, 3);
    d.p.stride[i] = c.uniform_int(1, 2);
    d.p.dilation[i] = c.uniform_int(1, 2);
    d.p.padding[2 * i] = c.uniform_int(0, 1);
    d.p.padding[2 * i + 1] = c.uniform_int(0, 1);
    const int64_t span = d.p.dilation[i] * (k[i] - 1) + 1;
    in[i] = std::max<int64_t>(1, span - d.p.padding[2 * i] - d.p.padding[2 * i + 1]) + c.dim(0, 3);
  }
  const int64_t batch = c.uniform_int(1, 2);
  if (nd == 2) {
    d.input = {batch, cin, in[0], in[1]};
    d.weight = {cout, cin / groups, k[0], k[1]};
  } else {
    d.input = {batch, cin, in[1]};
    d.weight = {cout, cin / groups, k[1]};
  }
  return d;
}
void case_Conv1d(Case& c) {
  const ConvDraw d = draw_conv(c, 1);
  const Conv1dParams p{d.p.stride[1], {d.p.padding[2], d.p.padding[3]}, d.p.dilation[1], d.p.groups};
  c.out(apply2(c, std::make_shared<Conv1dOp>(p), c.input(d.input), c.input(d.weight)));
}
void case_Conv2d(Case& c) {
  const ConvDraw d = draw_conv(c, 2);
  c.out(apply2(c, std::make_shared<Conv2dOp>(d.p), c.input(d.input), c.input(d.weight)));
}
Shape conv_out(const ConvDraw& d) {
  const Shape in[] = {d.input, d.weight};
  return Conv2dOp(d.p).infer_shapes(in)[0];
}
void case_Conv2dBackwardInput(Case& c) {
  const ConvDraw d = draw_conv(c, 2);
  const Var g = c.input(conv_out(d)), w = c.input(d.weight);
  c.out(apply2(c, std::make_shared<Conv2dBackwardInputOp>(d.p, d.input), g, w));
}
void case_Conv2dBackwardWeight(Case& c) {
  const ConvDraw d = draw_conv(c, 2);
  const Var g = c.input(conv_out(d)), x = c.input(d.input);
  c.out(apply2(c, std::make_shared<Conv2dBackwardWeightOp>(d.p, d.weight), g, x));
}
// Pooling parameters and an input of rank 2..4 whose last `nd` dims fit the window.
Pool2dParams draw_pool(Case& c, int nd, Shape& input) {
  Pool2dParams p;
  input = c.shape(0, 2, false);
  for (int a = 2 - nd; a < 2; ++a) {
    const auto i = static_cast<size_t>(a);
    p.kernel[i] = c.uniform_int(1, 3);
    p.stride[i] = c.uniform_int(1, 3);
    p.dilation[i] = c.uniform_int(1, 2);
    p.padding[2 * i] = c.uniform_int(0, 1);
    p.padding[2 * i + 1] = c.uniform_int(0, 1);
    const int64_t span = p.dilation[i] * (p.kernel[i] - 1) + 1;
    input.push_back(std::max<int64_t>(1, span - p.padding[2 * i] - p.padding[2 * i + 1]) + c.dim(0, 3));
  }
  return p;
}
Shape pool_out(OpKind k, const Pool2dParams& p, const Shape& input) {
  const Shape in[] = {input};
  return PoolOp(k, p).infer_shapes(in)[0];
}
void case_MaxPool1d(Case& c) {
  Shape s;
  const Pool2dParams p = draw_pool(c, 1, s);
  c.out(c.g().apply1(std::make_shared<PoolOp>(OpKind::MaxPool1d, p), {c.input(s, -3, 3)}));
}
void case_MaxPool2d(Case& c) {
  Shape s;
  const Pool2dParams p = draw_pool(c, 2, s);
  c.out(c.g().apply1(std::make_shared<PoolOp>(OpKind::MaxPool2d, p), {c.input(s, -3, 3)}));
}
void case_MaxPool2dBackward(Case& c) {
  Shape s;
  const Pool2dParams p = draw_pool(c, 2, s);
  const Var g = c.input(pool_out(OpKind::MaxPool2d, p, s));
  // Whole numbers: ties inside windows, every tied element receives the window's gradient.
  const Var x = c.whole(s, -2, 2);
  c.out(apply2(c, std::make_shared<PoolBackwardOp>(OpKind::MaxPool2dBackward, p, Shape{}), g, x));
}
void case_AvgPool2d(Case& c) {
  Shape s;
  const Pool2dParams p = draw_pool(c, 2, s);
  c.out(c.g().apply1(std::make_shared<PoolOp>(OpKind::AvgPool2d, p), {c.input(s)}));
}
void case_AvgPool2dBackward(Case& c) {
  Shape s;
  const Pool2dParams p = draw_pool(c, 2, s);
  c.out(c.g().apply1(std::make_shared<PoolBackwardOp>(OpKind::AvgPool2dBackward, p, s),
                     {c.input(pool_out(OpKind::AvgPool2d, p, s))}));
}

// ---- loss ----

void elementwise_loss(Case& c, OpKind k, double lo, double hi, double tlo, double thi, double quantile = 0.5,
                      double threshold = kMinPositiveNormal) {
  auto [sa, sb] = c.broadcast_pair();
  const Var x = c.input(sa, lo, hi), t = c.input(sb, tlo, thi);
  c.out(apply2(c, std::make_shared<ElementwiseLossOp>(k, quantile, threshold), x, t));
}
void case_SquaredError(Case& c) { elementwise_loss(c, OpKind::SquaredError, -3, 3, -3, 3); }
void case_AbsoluteError(Case& c) { elementwise_loss(c, OpKind::AbsoluteError, -3, 3, -3, 3); }
void case_HingeLoss(Case& c) { elementwise_loss(c, OpKind::HingeLoss, -3, 3, -1.5, 1.5); }
void case_QuadHingeLoss(Case& c) { elementwise_loss(c, OpKind::QuadHingeLoss, -3, 3, -1.5, 1.5); }
void case_QuantileLoss(Case& c) { elementwise_loss(c, OpKind::QuantileLoss, -3, 3, -3, 3, c.uniform(0.05, 0.95)); }
void case_KLDivergence(Case& c) {
  // A threshold inside the drawn range exercises the robust log's linear branch.
  elementwise_loss(c, OpKind::KLDivergence, 0.02, 1, 0.02, 1, 0.5, c.coin() ? 0.1 : kMinPositiveNormal);
}
void case_CrossEntropy(Case& c) {
  Shape s = c.shape(2, 4);
  s[1] = std::max<int64_t>(s[1], 1);
  const int64_t classes = s[1];
  const LossInputType type = static_cast<LossInputType>(c.uniform_int(0, 2));
  const bool categorical = c.coin(), robust = type == LossInputType::probs && c.coin();
  std::vector<double> weights;
  if (c.coin())
    for (int64_t i = 0; i < classes; ++i) weights.push_back(c.uniform(0.2, 2));
  const Var x = type == LossInputType::logits ? c.input(s, -4, 4)
                : type == LossInputType::probs ? c.input(s, 0.05, 1)
                                               : c.input(s, -4, -0.05);
  Shape ts = s;
  ts.erase(ts.begin() + 1);
  const Var t = categorical ? c.indices(ts, classes, false) : c.input(s, 0, 1);
  c.out(apply2(c, std::make_shared<CrossEntropyOp>(type, categorical, robust, robust ? 0.1 : kMinPositiveNormal, weights), x, t));
}
void case_BinaryCrossEntropy(Case& c) {
  auto [sa, sb] = c.broadcast_pair();
  const Shape shape = broadcast_shapes(sa, sb, "binary_cross_entropy");
  const bool probs = c.coin(), robust = c.coin();
  const Var x = probs ? c.input(shape, 0.05, 0.95) : c.input(shape, -5, 5);
  const Var t = c.input(sb, 0, 1);
  c.out(apply2(c, std::make_shared<BinaryCrossEntropyOp>(probs ? LossInputType::probs : LossInputType::logits,
                                                         c.uniform(0.5, 2), robust, robust ? 0.1 : kMinPositiveNormal),
               x, t));
}

// ---- fused: graphs the operator-fusion pass turns into fused nodes ----

void case_FusedElementwise(Case& c) {
  const Shape s = c.shape(1, 3, false);
  const Var a = c.input(s, -2, 2), b = c.input(s, -2, 2), row = c.input(Shape{s.back()}, -2, 2);
  if (c.dt == DType::b8) c.out(ops::logical_or(ops::logical_and(a, b), ops::logical_not(row)));
  else if (is_int(c.dt)) c.out(ops::maximum(a * b + row, ops::neg(a)) - b);
  else c.out(ops::tanh(a * b + row) * 0.5 - ops::sigmoid(b));
}
void case_FusedLinear(Case& c) {
  const int64_t m = c.dim(1, 6), k = c.dim(1, 6), n = c.dim(1, 6);
  const Var x = c.input({m, k}), w = c.input({k, n}), b = c.input({n});
  c.out(ops::relu(ops::matmul(x, w) + b));
}

constexpr CaseFn kCases[] = {
#define MI_OP(Kind, name, family, differentiable) &case_##Kind,
#include "mithril/ir/ops.def"
#undef MI_OP
};
static_assert(sizeof(kCases) / sizeof(kCases[0]) == kNumOps, "every op of ops.def needs a case_<Kind> function");

// ---- comparison ----

// NMSE = sum (a - b)^2 / sum b^2, with NaN/inf required at the same places.
struct Error {
  double nmse = 0;
  std::string detail;  // the first mismatch of a special value, or of the largest element error
};
Error compare(const Tensor& got, const Tensor& want) {
  Error e;
  if (got.shape() != want.shape() || got.dtype() != want.dtype()) {
    e.nmse = kInf;
    e.detail = fmt::format("got {} {}, reference {} {}", dtype_name(got.dtype()), shape_str(got.shape()),
                           dtype_name(want.dtype()), shape_str(want.shape()));
    return e;
  }
  const std::vector<double> a = got.to_doubles(), b = want.to_doubles();
  double num = 0, den = 0, worst = -1;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i]) || !std::isfinite(b[i])) {
      const bool same = (std::isnan(a[i]) && std::isnan(b[i])) || a[i] == b[i];
      if (!same && e.nmse != kInf) {
        e.nmse = kInf;
        e.detail = fmt::format("element {}: got {}, reference {}", i, a[i], b[i]);
      }
      continue;
    }
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
    if (std::abs(a[i] - b[i]) > worst && e.nmse != kInf) {
      worst = std::abs(a[i] - b[i]);
      e.detail = fmt::format("largest difference at element {}: got {}, reference {}", i, a[i], b[i]);
    }
  }
  if (e.nmse != kInf) e.nmse = num == 0 ? 0 : num / std::max(den, 1e-300);
  return e;
}

// NMSE tolerance per dtype: float64 agrees to rounding (1e-24 ~ relative 1e-12); float32
// kernels compute in float32 (1e-10 ~ relative 1e-5); 16-bit outputs carry one rounding of
// 2^-11 (f16) or 2^-8 (bf16) relative error per element. Integer and bool results are exact.
// Gradient graphs chain several ops and amplify one-ulp differences of forward values through
// cancellations (1 - sigmoid(x) near 1 loses 3-4 digits in float32): float32 gradients get
// 1e-6 (relative 1e-3), 16-bit ones 100x their forward tolerance; float64 stays tight, and the
// float64 finite-difference check keeps the rules themselves honest.
double tolerance(OpKind, DType t, bool grad) {
  switch (t) {
    case DType::f64: return grad ? 1e-20 : 1e-24;
    case DType::f32: return grad ? 1e-6 : 1e-10;
    case DType::f16: return grad ? 1e-3 : 1e-5;
    case DType::bf16: return grad ? 1e-2 : 1e-4;
    default: return 0.0;
  }
}

// ---- running ----

uint64_t case_seed(OpKind k, DType t, int rep) {
  uint64_t h = 1469598103934665603ull;
  for (char ch : op_name(k)) h = (h ^ static_cast<uint64_t>(ch)) * 1099511628211ull;
  return h ^ (static_cast<uint64_t>(t) << 40) ^ static_cast<uint64_t>(rep);
}

// Builds the case, or returns nullopt when the op does not take `dtype` (its dtype rule throws).
std::unique_ptr<Case> build(OpKind k, DType dtype, uint64_t seed, bool perf = false) {
  auto c = std::make_unique<Case>(dtype, seed, perf);
  try {
    kCases[static_cast<int>(k)](*c);
  } catch (const DTypeError&) {
    return nullptr;
  }
  return c;
}

std::vector<Tensor> run_on(const Backend& b, const GraphProgram& p, const std::vector<Tensor>& feed) {
  return b.compile(p, {})->run(feed);
}

// Every node of `p` is one `b` runs; otherwise the reason of the first it does not.
Support supported(const Backend& b, const GraphProgram& p) {
  for (const Node& n : p.graph->nodes())
    if (Support s = b.supports(*p.graph, n); !s) return s;
  return Support::yes();
}

bool has_node(const GraphProgram& p, OpKind k) {
  for (const Node& n : p.graph->nodes())
    if (n.op->kind() == k) return true;
  return false;
}

// The fusion pass alone (no constant folding), as compile() runs it on a fusing backend.
void fuse(GraphProgram& p) {
  PassOptions o;
  o.constant_folding = false;
  optimize(p, o, {});
}

std::string case_label(OpKind k, DType t, uint64_t seed) {
  return fmt::format("op {} dtype {} seed {:#x} (case_{} in tests/backends/backend_ops_test.cpp)", op_name(k),
                     dtype_name(t), seed, op_info(k).kind);
}

void expect_match(const std::vector<Tensor>& got, const std::vector<Tensor>& want, double tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    const Error e = compare(got[i], want[i]);
    EXPECT_LE(e.nmse, tol) << what << ": output " << i << " NMSE " << e.nmse << " > " << tol << "; " << e.detail
                           << "\n  got " << got[i] << "\n  reference " << want[i];
  }
}

BackendPtr reference_backend() { return ReferenceBackend::make(); }

struct Param {
  OpKind kind;
  std::string backend;
};

void PrintTo(const Param& p, std::ostream* os) { *os << op_name(p.kind) << " on " << p.backend; }

std::vector<Param> params() {
  std::vector<Param> ps;
  for (const BackendInfo& b : BackendRegistry::instance().backends())
    if (b.name != "reference")
      for (int k = 0; k < kNumOps; ++k) ps.push_back({static_cast<OpKind>(k), b.name});
  return ps;
}

class BackendOps : public ::testing::TestWithParam<Param> {
 protected:
  BackendPtr backend() const { return BackendRegistry::instance().find(GetParam().backend).make({}); }
  // The dtypes `b` has kernels for, for this op.
  std::vector<DType> dtypes(const Backend& b) const {
    std::vector<DType> ds;
    for (DType t : kAllDTypes)
      if (b.kernels().has(GetParam().kind, t)) ds.push_back(t);
    return ds;
  }
};

constexpr int kForwardReps = 4;
constexpr int kGradReps = 3;
// A backend that generates code compiles one library per case (0.2-1 s each): one draw per dtype
// keeps its run short (the cache in the build tree makes later runs free).
int reps(const Backend& b, int n) { return b.generates_code() ? 1 : n; }

TEST_P(BackendOps, Forward) {
  if (!mode_runs("test")) GTEST_SKIP() << "MITHRIL_BACKEND_OPS_MODE=" << mode();
  const OpKind k = GetParam().kind;
  const BackendPtr b = backend(), ref = reference_backend();
  const bool fused = op_info(k).family == "fused";
  int ran = 0;
  for (DType t : dtypes(*b))
    for (int rep = 0; rep < reps(*b, kForwardReps); ++rep) {
      const uint64_t seed = case_seed(k, t, rep);
      const std::string label = case_label(k, t, seed);
      SCOPED_TRACE(label);
      auto c = build(k, t, seed);
      ASSERT_TRUE(c) << "the case cannot be built in a dtype the backend has a kernel for";
      std::vector<Tensor> want = run_on(*ref, c->program, c->feed);
      if (k == OpKind::FusedLinear && (t == DType::f16 || t == DType::bf16)) {
        // A 16-bit fused linear node accumulates in float32 and rounds once (fused_kernels.cpp),
        // where the unfused graph rounds the product and every step: its oracle is the unfused
        // graph in float32 on the same values, rounded at the end (a case's draws do not depend
        // on the float dtype). Fused elementwise nodes round each step as the unfused graph does.
        auto c32 = build(k, DType::f32, seed);
        std::vector<Tensor> feed32;
        for (const Tensor& x : c->feed) feed32.push_back(x.astype(is_float(x.dtype()) ? DType::f32 : x.dtype()));
        want = run_on(*ref, c32->program, feed32);
        for (Tensor& w : want) w = w.astype(t);
      }
      if (fused) {
        // Fused on the backend, unfused on the reference.
        fuse(c->program);
        ASSERT_TRUE(has_node(c->program, k)) << "the case's graph did not fuse into a " << op_name(k) << " node";
      }
      const Support s = supported(*b, c->program);
      ASSERT_TRUE(s.ok) << s.reason;
      expect_match(run_on(*b, c->program, c->feed), want, tolerance(k, t, false), label);
      ++ran;
    }
  if (ran == 0) GTEST_SKIP() << GetParam().backend << " has no " << op_name(k) << " kernel";
}

// The gradient program of a case: its outputs are d<outputs, cotangents>/d(wrt).
struct GradCase {
  std::unique_ptr<Case> c;
  std::vector<Tensor> feed;  // the case's feed plus the cotangents
  bool any = false;          // some input receives a gradient
};
GradCase build_grad(OpKind k, DType t, uint64_t seed) {
  GradCase gc;
  gc.c = build(k, t, seed);
  if (!gc.c) return gc;
  Case& c = *gc.c;
  std::vector<Var> outputs;
  std::vector<std::optional<Var>> cts;
  gc.feed = c.feed;
  std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ull);
  for (ValueId id : c.program.outputs) {
    const Var o = c.g().var(id);
    outputs.push_back(o);
    if (!is_float(o.dtype())) {
      cts.push_back(std::nullopt);
      continue;
    }
    std::vector<double> v(static_cast<size_t>(numel(o.shape())));
    for (double& x : v) x = std::uniform_real_distribution<double>(-1, 1)(rng);
    gc.feed.push_back(Tensor::from_doubles(v, o.shape(), o.dtype()));
    cts.push_back(c.g().input("cotangent" + std::to_string(cts.size()), o.shape(), o.dtype()));
  }
  if (c.wrt.empty()) return gc;
  const std::vector<std::optional<Var>> grads = vjp(c.g(), outputs, cts, c.wrt);
  c.program.outputs.clear();
  for (size_t i = 0; i < grads.size(); ++i) {
    // A value that no output depends on differentiably gets no gradient: zeros.
    const Var g = grads[i] ? *grads[i] : ops::broadcast_to(ops::scalar_like(c.wrt[i], 0.0), c.wrt[i].shape());
    c.program.outputs.push_back(g.id());
    gc.any = gc.any || grads[i].has_value();
  }
  return gc;
}

// d<outputs, cotangents>/d(wrt) by central differences on the reference backend (float64).
void expect_finite_differences(OpKind k, uint64_t seed, const std::string& label) {
  GradCase gc = build_grad(k, DType::f64, seed);
  if (!gc.c || !gc.c->fd || !gc.any) return;
  const BackendPtr ref = reference_backend();
  const std::vector<Tensor> analytic = run_on(*ref, gc.c->program, gc.feed);
  // The forward program of the same case, and the cotangents from the gradient feed.
  auto fc = build(k, DType::f64, seed);
  for (ValueId id : fc->program.outputs)
    if (fc->g().value(id).dtype != DType::f64) return;  // rounded outputs have no useful differences
  const auto exe = ref->compile(fc->program, {});
  const std::vector<Tensor> cts(gc.feed.begin() + static_cast<int64_t>(fc->feed.size()), gc.feed.end());
  auto objective = [&](const std::vector<Tensor>& xs) {
    const std::vector<Tensor> outs = exe->run(xs);
    double s = 0;
    for (size_t o = 0; o < outs.size(); ++o) {
      const std::vector<double> y = outs[o].to_doubles(), w = cts[o].to_doubles();
      for (size_t j = 0; j < y.size(); ++j) s += y[j] * w[j];
    }
    return s;
  };
  constexpr double eps = 1e-6, tol = 1e-6;
  for (size_t w = 0; w < fc->wrt.size(); ++w) {
    // Which feed entry this input is: inputs are named in<feed index>.
    const size_t i = static_cast<size_t>(std::stoi(fc->g().value(fc->wrt[w].id()).name.substr(2)));
    std::vector<Tensor> xs = fc->feed;
    xs[i] = fc->feed[i].clone();
    double* p = xs[i].data<double>();
    const std::vector<double> a = analytic[w].to_doubles();
    for (int64_t j = 0; j < xs[i].numel(); ++j) {
      const double orig = p[j];
      p[j] = orig + eps;
      const double up = objective(xs);
      p[j] = orig - eps;
      const double down = objective(xs);
      p[j] = orig;
      const double numeric = (up - down) / (2 * eps), aj = a[static_cast<size_t>(j)];
      if (std::isnan(aj) && std::isnan(numeric)) continue;  // outside the domain (variance of n = correction)
      const double err = std::abs(aj - numeric) / std::max({1.0, std::abs(aj), std::abs(numeric)});
      ASSERT_LE(err, tol) << label << ": input " << i << " element " << j << ": vjp " << aj << " vs finite differences "
                          << numeric;
    }
  }
}

TEST_P(BackendOps, Grad) {
  if (!mode_runs("grad")) GTEST_SKIP() << "MITHRIL_BACKEND_OPS_MODE=" << mode();
  const OpKind k = GetParam().kind;
  if (!op_info(k).differentiable) GTEST_SKIP() << op_name(k) << " is not differentiable";
  const BackendPtr b = backend(), ref = reference_backend();
  int ran = 0;
  for (DType t : dtypes(*b)) {
    if (!is_float(t)) continue;
    for (int rep = 0; rep < reps(*b, kGradReps); ++rep) {
      const uint64_t seed = case_seed(k, t, rep);
      const std::string label = case_label(k, t, seed) + " gradient";
      SCOPED_TRACE(label);
      GradCase gc = build_grad(k, t, seed);
      ASSERT_TRUE(gc.c);
      if (gc.c->wrt.empty()) continue;  // this draw has no floating-point input
      if (const Support s = supported(*b, gc.c->program); !s) {
        // A gradient rule may use an op the backend lacks in this dtype; the forward op is covered.
        std::cout << "[ skipped  ] " << label << " on " << b->name() << ": " << s.reason << "\n";
        continue;
      }
      expect_match(run_on(*b, gc.c->program, gc.feed), run_on(*ref, gc.c->program, gc.feed), tolerance(k, t, true),
                   label);
      if (t == DType::f64) expect_finite_differences(k, seed, label);
      ++ran;
    }
  }
  if (ran == 0) GTEST_SKIP() << GetParam().backend << " has no float " << op_name(k) << " kernel";
}

INSTANTIATE_TEST_SUITE_P(AllOps, BackendOps, ::testing::ValuesIn(params()),
                         [](const ::testing::TestParamInfo<Param>& info) {
                           return std::string(op_info(info.param.kind).kind) + "_" + info.param.backend;
                         });

// Every (op, dtype) the other backends run, the reference backend runs too (fused ops aside:
// the reference runs the unfused graph), so every comparison has an oracle.
TEST(BackendOpsCoverage, ReferenceCoversEveryKernelOfEveryBackend) {
  const KernelTable& ref = reference_backend()->kernels();
  for (const BackendInfo& b : BackendRegistry::instance().backends())
    for (int k = 0; k < kNumOps; ++k) {
      const auto kind = static_cast<OpKind>(k);
      if (op_info(kind).family == "fused") continue;
      for (DType t : kAllDTypes)
        EXPECT_TRUE(!b.kernels().has(kind, t) || ref.has(kind, t))
            << b.name << " has " << op_name(kind) << " for " << dtype_name(t) << " but the reference backend does not";
    }
}

TEST(BackendOpsCoverage, ReferenceDeclinesFusedOpsWithAReason) {
  auto c = build(OpKind::FusedLinear, DType::f32, 1);
  ASSERT_TRUE(c);
  fuse(c->program);
  ASSERT_TRUE(has_node(c->program, OpKind::FusedLinear));
  const Support s = supported(*reference_backend(), c->program);
  EXPECT_FALSE(s.ok);
  EXPECT_NE(s.reason.find("fusion"), std::string::npos) << s.reason;
  EXPECT_FALSE(reference_backend()->passes({}).operator_fusion);
}

TEST(BackendOpsModes, Support) {
  if (mode() != "support") GTEST_SKIP() << "set MITHRIL_BACKEND_OPS_MODE=support";
  std::cout << format_support_matrix();
}

// Median time of a few runs of each op case (larger shapes) on every backend, reference included.
TEST(BackendOpsModes, Perf) {
  if (mode() != "perf") GTEST_SKIP() << "set MITHRIL_BACKEND_OPS_MODE=perf";
  const auto& backends = BackendRegistry::instance().backends();
  std::string header = fmt::format("{:<24} {:<5} {:>10}", "op", "dtype", "elements");
  for (const BackendInfo& b : backends) header += fmt::format(" {:>14}", b.name + " us");
  std::cout << header << "\n";
  for (int k = 0; k < kNumOps; ++k) {
    const auto kind = static_cast<OpKind>(k);
    for (DType t : {DType::f32, DType::f64}) {
      auto c = build(kind, t, case_seed(kind, t, 0), /*perf=*/true);
      if (!c) continue;
      if (op_info(kind).family == "fused") fuse(c->program);
      int64_t elements = 0;
      for (const Tensor& x : c->feed) elements += x.numel();
      std::string row = fmt::format("{:<24} {:<5} {:>10}", op_name(kind), dtype_name(t), elements);
      for (const BackendInfo& info : backends) {
        const BackendPtr b = info.make({});
        if (!supported(*b, c->program)) {
          row += fmt::format(" {:>14}", "-");
          continue;
        }
        const auto exe = b->compile(c->program, {});
        std::vector<double> times;
        for (int r = 0; r < 5; ++r) {
          const auto start = std::chrono::steady_clock::now();
          exe->run(c->feed);
          times.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
        }
        std::sort(times.begin(), times.end());
        row += fmt::format(" {:>14.1f}", times[times.size() / 2]);
      }
      std::cout << row << "\n";
    }
  }
}

}  // namespace
}  // namespace mithril
