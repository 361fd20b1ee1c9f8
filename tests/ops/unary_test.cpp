// Forward tests against std:: references and hand values, gradient checks, error messages and
// stop-gradient semantics for the unary family.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numbers>

#include "mithril/backends/cpu/executor.h"
#include "mithril/core/error.h"
#include "mithril/graph/autodiff.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/unary.h"
#include "support/gradcheck.h"

namespace mithril {
namespace {

using testing::evaluate;
using testing::expect_close;
using testing::expect_gradients_match;
using testing::random_tensor;
using testing::random_tensor_away_from_zero;

// Evaluates f(x) for a one-input graph built by f.
template <typename F>
Tensor eval1(const Tensor& x, F f) {
  return evaluate([&](Graph&, const std::vector<Var>& v) { return std::vector{f(v[0])}; }, {x})[0];
}

Tensor run_unary(OpKind kind, const Tensor& x, UnaryAttrs attrs = {}) {
  return eval1(x, [&](const Var& v) { return ops::unary(kind, v, attrs); });
}

std::vector<double> map_ref(const Tensor& x, double (*f)(double)) {
  std::vector<double> r;
  for (double v : x.to_doubles()) r.push_back(f(v));
  return r;
}

// ---- forward: floating-point ops against double-precision references ----

struct FloatCase {
  const char* label;
  OpKind kind;
  UnaryAttrs attrs;
  double (*ref)(double);
  double lo, hi;  // input range
};

const double kThr = 0.5;  // a large threshold so random inputs land on both sides of it

const FloatCase kFloatCases[] = {
    {"neg", OpKind::Neg, {}, [](double x) { return -x; }, -3, 3},
    {"abs", OpKind::Abs, {}, [](double x) { return std::fabs(x); }, -3, 3},
    {"sign", OpKind::Sign, {}, [](double x) { return x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0; }, -3, 3},
    {"square", OpKind::Square, {}, [](double x) { return x * x; }, -3, 3},
    {"sqrt", OpKind::Sqrt, {}, [](double x) { return std::sqrt(x); }, 0, 4},
    {"robust_sqrt", OpKind::Sqrt, {.robust = true, .threshold = kThr},
     [](double x) { return std::fabs(x) >= kThr ? std::sqrt(std::fabs(x)) : std::fabs(x) / std::sqrt(kThr); }, -2, 2},
    {"exp", OpKind::Exp, {}, [](double x) { return std::exp(x); }, -5, 5},
    {"log", OpKind::Log, {}, [](double x) { return std::log(x); }, 0.01, 5},
    {"robust_log", OpKind::Log, {.robust = true, .threshold = kThr},
     [](double x) { return std::fabs(x) >= kThr ? std::log(std::fabs(x)) : std::log(kThr) + std::fabs(x) / kThr - 1; },
     -2, 2},
    {"log1p", OpKind::Log1p, {}, [](double x) { return std::log1p(x); }, -0.9, 5},
    {"sin", OpKind::Sin, {}, [](double x) { return std::sin(x); }, -4, 4},
    {"cos", OpKind::Cos, {}, [](double x) { return std::cos(x); }, -4, 4},
    {"tanh", OpKind::Tanh, {}, [](double x) { return std::tanh(x); }, -4, 4},
    {"sigmoid", OpKind::Sigmoid, {}, [](double x) { return 1 / (1 + std::exp(-x)); }, -10, 10},
    {"relu", OpKind::Relu, {}, [](double x) { return std::max(0.0, x); }, -3, 3},
    {"leaky_relu", OpKind::LeakyRelu, {.slope = 0.2}, [](double x) { return x > 0 ? x : 0.2 * x; }, -3, 3},
    {"softplus", OpKind::Softplus, {}, [](double x) { return std::log(1 + std::exp(x)); }, -10, 10},
    {"gelu", OpKind::Gelu, {}, [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }, -4, 4},
    {"gelu_tanh", OpKind::Gelu, {.approximate = true},
     [](double x) {
       return 0.5 * x * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (x + 0.044715 * x * x * x)));
     },
     -4, 4},
    {"erf", OpKind::Erf, {}, [](double x) { return std::erf(x); }, -3, 3},
    {"reciprocal", OpKind::Reciprocal, {}, [](double x) { return 1 / x; }, 0.1, 3},
    {"stable_reciprocal", OpKind::StableReciprocal, {.threshold = kThr},
     [](double x) {
       if (std::fabs(x) >= kThr) return 1 / x;
       const double s = x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0;
       return (s + (1 - (x != 0 ? 1.0 : 0.0))) * 2 / kThr - x / (kThr * kThr);
     },
     -2, 2},
    {"floor", OpKind::Floor, {}, [](double x) { return std::floor(x); }, -5, 5},
    {"identity", OpKind::Identity, {}, [](double x) { return x; }, -3, 3},
    {"stop_gradient", OpKind::StopGradient, {}, [](double x) { return x; }, -3, 3},
};

TEST(Unary, FloatOpsMatchReference) {
  for (DType dt : {DType::f64, DType::f32}) {
    for (const FloatCase& c : kFloatCases) {
      // The reference runs in double on the (possibly float32-rounded) inputs.
      const Tensor x = random_tensor({3, 5, 7}, dt, 11, c.lo, c.hi);
      const Tensor y = run_unary(c.kind, x, c.attrs);
      EXPECT_EQ(y.dtype(), dt) << c.label;
      EXPECT_EQ(y.shape(), x.shape()) << c.label;
      const double tol = dt == DType::f64 ? 1e-14 : 2e-6;
      SCOPED_TRACE(::testing::Message() << c.label << " " << dtype_name(dt));
      expect_close(y, map_ref(x, c.ref), tol, tol);
    }
  }
}

TEST(Unary, ZeroSizedAndScalarInputs) {
  const Tensor empty = Tensor::zeros({0, 3}, DType::f32);
  EXPECT_EQ(run_unary(OpKind::Exp, empty).shape(), (Shape{0, 3}));
  expect_close(run_unary(OpKind::Exp, Tensor::scalar(1, DType::f64)), {std::numbers::e});
}

TEST(Unary, SigmoidIsStableAtExtremes) {
  for (DType dt : {DType::f64, DType::f32}) {
    const Tensor x = Tensor::from_doubles({-800, -40, 0, 40, 800}, {5}, dt);
    const double e40 = std::exp(-40.0);
    // The naive e^x/(1+e^x) is inf/inf = NaN at 800, 1/(1+e^800) is 1/inf at -800: both must be exact.
    const double tol = dt == DType::f64 ? 1e-15 : 2e-7;
    expect_close(run_unary(OpKind::Sigmoid, x), {0.0, e40 / (1 + e40), 0.5, 1 / (1 + e40), 1.0}, tol, 0);
  }
}

TEST(Unary, SoftplusAtLargeMagnitudes) {
  const Tensor x = Tensor::from_doubles({-1000, -30, 0, 30, 1000}, {5}, DType::f64);
  // softplus(-30) = log1p(e^-30) ~ e^-30 (relative precision kept); softplus(1000) = 1000, no overflow.
  const double sp30 = std::log1p(std::exp(-30.0));
  expect_close(run_unary(OpKind::Softplus, x), {0.0, sp30, std::numbers::ln2, 30 + sp30, 1000.0}, 1e-15, 0);
  const Tensor xf = Tensor::from_doubles({-200, 200}, {2}, DType::f32);
  expect_close(run_unary(OpKind::Softplus, xf), {0.0, 200.0}, 0, 0);
}

TEST(Unary, StableReciprocalNearZero) {
  const double t = kStableReciprocalThreshold;
  const Tensor x = Tensor::from_doubles({0.0, t / 2, -t / 2, t, -t, 2.0, -4.0}, {7}, DType::f64);
  const Tensor y = eval1(x, [](const Var& v) { return ops::stable_reciprocal(v); });
  // Below the threshold: 2/thr at 0, then the line 2/thr - x/thr^2 (mirrored for x < 0).
  expect_close(y, {2 / t, 1.5 / t, -1.5 / t, 1 / t, -1 / t, 0.5, -0.25}, 1e-15, 0);
  // A large threshold makes both branches easy to read: thr = 0.5 gives 4 - 4x below 0.5.
  const Tensor x2 = Tensor::from_doubles({0.0, 0.25, -0.25, 0.5, 1.0}, {5}, DType::f64);
  expect_close(run_unary(OpKind::StableReciprocal, x2, {.threshold = 0.5}), {4, 3, -3, 2, 1});
}

TEST(Unary, RobustSqrtAndLogBelowThreshold) {
  const Tensor x = Tensor::from_doubles({0.0, 0.125, -0.125, 0.25, -0.25, 4.0, -4.0}, {7}, DType::f64);
  // thr = 0.5: sqrt continues as |x|/sqrt(0.5) = |x|*sqrt2; log as ln(0.5) + 2|x| - 1.
  const double r2 = std::numbers::sqrt2, l = std::log(0.5);
  expect_close(run_unary(OpKind::Sqrt, x, {.robust = true, .threshold = 0.5}),
               {0, 0.125 * r2, 0.125 * r2, 0.25 * r2, 0.25 * r2, 2, 2}, 1e-15, 0);
  expect_close(run_unary(OpKind::Log, x, {.robust = true, .threshold = 0.5}),
               {l - 1, l - 0.75, l - 0.75, l - 0.5, l - 0.5, std::log(4.0), std::log(4.0)}, 1e-15, 0);
  // The default threshold is the smallest normal double: log(0) is finite.
  const Tensor zero = Tensor::from_doubles({0.0, 1.0}, {2}, DType::f64);
  const Tensor y = eval1(zero, [](const Var& v) { return ops::robust_log(v); });
  expect_close(y, {std::log(kMinPositiveNormal) - 1, 0.0}, 1e-15, 0);
}

TEST(Unary, Float32RaisesTinyThresholdsToSmallestNormal) {
  // The float64 defaults underflow to 0 in float32; the kernels use FLT_MIN instead, so the
  // robust forms stay finite at 0.
  const double fmin = std::numeric_limits<float>::min();
  EXPECT_EQ(effective_threshold(kMinPositiveNormal, DType::f32), fmin);
  EXPECT_EQ(effective_threshold(kMinPositiveNormal, DType::f64), kMinPositiveNormal);
  EXPECT_EQ(effective_threshold(0.5, DType::f32), 0.5);
  const Tensor x = Tensor::from_doubles({0.0, 4.0}, {2}, DType::f32);
  const auto outs = evaluate(
      [](Graph&, const std::vector<Var>& v) {
        return std::vector{ops::robust_log(v[0]), ops::robust_sqrt(v[0]), ops::stable_reciprocal(v[0])};
      },
      {x});
  expect_close(outs[0], {std::log(fmin) - 1, std::log(4.0)}, 1e-6, 0);
  expect_close(outs[1], {0.0, 2.0}, 1e-7, 0);
  expect_close(outs[2], {2 / fmin, 0.25}, 1e-7, 0);
}

TEST(Unary, GeluHandValues) {
  const Tensor x = Tensor::from_doubles({-3, -1, 0, 1, 3}, {5}, DType::f64);
  // x * Phi(x) with Phi(1) = 0.8413447460685429, Phi(3) = 0.9986501019683699.
  const double p1 = 0.8413447460685429, p3 = 0.9986501019683699;
  expect_close(run_unary(OpKind::Gelu, x), {-3 * (1 - p3), -(1 - p1), 0, p1, 3 * p3}, 1e-14, 1e-16);
  // Far in the left tail the result keeps its relative accuracy (1 + erf(x/sqrt2) would cancel to 0):
  // x*Phi(x) with Phi(-10) = 7.6198530241605261e-24.
  const Tensor tail = Tensor::from_doubles({-10}, {1}, DType::f64);
  expect_close(run_unary(OpKind::Gelu, tail), {-10 * 7.6198530241605261e-24}, 1e-12, 0);
  // tanh form: 0.5*1*(1 + tanh(sqrt(2/pi)*1.044715)) = 0.8411919906082768.
  expect_close(run_unary(OpKind::Gelu, Tensor::from_doubles({1}, {1}, DType::f64), {.approximate = true}),
               {0.8411919906082768}, 1e-14, 0);
}

TEST(Unary, LeakyReluDefaultSlopeAndSpecialValues) {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor x = Tensor::from_doubles({-2, 0, 3, -inf}, {4}, DType::f64);
  const Tensor y = eval1(x, [](const Var& v) { return ops::leaky_relu(v); });
  expect_close(y, {-0.02, 0, 3, -inf});
  // NaN propagates through the selects (like NumPy's maximum and sign).
  const Tensor n = Tensor::from_doubles({nan}, {1}, DType::f64);
  for (OpKind k : {OpKind::Relu, OpKind::LeakyRelu, OpKind::Sign, OpKind::Abs, OpKind::Sigmoid, OpKind::Softplus})
    expect_close(run_unary(k, n), {nan});
}

// ---- forward: integer and bool dtypes ----

TEST(Unary, IntegerOps) {
  for (DType dt : {DType::i8, DType::i32, DType::i64}) {
    const Tensor x = Tensor::from_doubles({-7, -1, 0, 2, 11}, {5}, dt);
    SCOPED_TRACE(dtype_name(dt));
    auto check = [&](OpKind k, const std::vector<double>& expected) {
      const Tensor y = run_unary(k, x);
      EXPECT_EQ(y.dtype(), dt) << op_name(k);
      expect_close(y, expected);
    };
    check(OpKind::Neg, {7, 1, 0, -2, -11});
    check(OpKind::Abs, {7, 1, 0, 2, 11});
    check(OpKind::Sign, {-1, -1, 0, 1, 1});
    check(OpKind::Square, {49, 1, 0, 4, 121});
    check(OpKind::Relu, {0, 0, 0, 2, 11});
    check(OpKind::Identity, {-7, -1, 0, 2, 11});
    check(OpKind::StopGradient, {-7, -1, 0, 2, 11});
  }
}

TEST(Unary, IntegerOpsWrapAroundLikeNumPy) {
  const Tensor i8 = Tensor::from_vector<int8_t>({-128, 127}, {2});
  expect_close(run_unary(OpKind::Neg, i8), {-128, -127});
  expect_close(run_unary(OpKind::Abs, i8), {-128, 127});
  expect_close(run_unary(OpKind::Square, i8), {0, 1});
  const Tensor i32 = Tensor::from_vector<int32_t>({50000, std::numeric_limits<int32_t>::min()}, {2});
  expect_close(run_unary(OpKind::Square, i32), {-1794967296, 0});
  expect_close(run_unary(OpKind::Neg, i32), {-50000, std::numeric_limits<int32_t>::min()});
  const Tensor i64 = Tensor::from_vector<int64_t>({int64_t{3037000500}}, {1});
  const auto wrapped = static_cast<int64_t>(uint64_t{3037000500} * uint64_t{3037000500});
  EXPECT_EQ(run_unary(OpKind::Square, i64).data<int64_t>()[0], wrapped);
}

TEST(Unary, BoolOps) {
  const Tensor b = Tensor::from_vector<bool>({true, false, false, true}, {2, 2});
  for (OpKind k : {OpKind::LogicalNot, OpKind::Identity, OpKind::StopGradient}) {
    const Tensor y = run_unary(k, b);
    EXPECT_EQ(y.dtype(), DType::b8) << op_name(k);
    EXPECT_EQ(y.shape(), (Shape{2, 2}));
    expect_close(y, k == OpKind::LogicalNot ? std::vector<double>{0, 1, 1, 0} : std::vector<double>{1, 0, 0, 1});
  }
}

// ---- gradient checks (float64, central differences) ----

testing::GraphFn unary_fn(OpKind k, UnaryAttrs attrs = {}) {
  return [k, attrs](Graph&, const std::vector<Var>& x) { return std::vector{ops::unary(k, x[0], attrs)}; };
}

Tensor rand3(uint64_t seed, double lo = -2, double hi = 2) {
  return random_tensor({3, 1, 4}, DType::f64, seed, lo, hi);
}
Tensor rand3_away(uint64_t seed, double min_abs = 0.1) {
  return random_tensor_away_from_zero({3, 1, 4}, DType::f64, seed, -2, 2, min_abs);
}
// Values on both sides of a 0.5 threshold, away from the switch points +-0.5 and from the kink at 0.
Tensor around_half() {
  return Tensor::from_doubles({-1.7, -0.9, -0.45, -0.3, -0.1, 0.05, 0.2, 0.35, 0.42, 0.6, 1.1, 1.9}, {3, 1, 4},
                              DType::f64);
}

TEST(GradCheck, Neg) { expect_gradients_match(unary_fn(OpKind::Neg), {rand3(1)}); }
TEST(GradCheck, Abs) { expect_gradients_match(unary_fn(OpKind::Abs), {rand3_away(2)}); }
TEST(GradCheck, Square) { expect_gradients_match(unary_fn(OpKind::Square), {rand3(3)}); }
TEST(GradCheck, Sqrt) { expect_gradients_match(unary_fn(OpKind::Sqrt), {rand3(4, 0.3, 3)}); }
TEST(GradCheck, RobustSqrt) {
  expect_gradients_match(unary_fn(OpKind::Sqrt, {.robust = true, .threshold = 0.5}), {around_half()});
}
TEST(GradCheck, Exp) { expect_gradients_match(unary_fn(OpKind::Exp), {rand3(5)}); }
TEST(GradCheck, Log) { expect_gradients_match(unary_fn(OpKind::Log), {rand3(6, 0.3, 3)}); }
TEST(GradCheck, RobustLog) {
  expect_gradients_match(unary_fn(OpKind::Log, {.robust = true, .threshold = 0.5}), {around_half()});
}
TEST(GradCheck, Log1p) { expect_gradients_match(unary_fn(OpKind::Log1p), {rand3(7, -0.5, 2)}); }
TEST(GradCheck, Sin) { expect_gradients_match(unary_fn(OpKind::Sin), {rand3(8)}); }
TEST(GradCheck, Cos) { expect_gradients_match(unary_fn(OpKind::Cos), {rand3(9)}); }
TEST(GradCheck, Tanh) { expect_gradients_match(unary_fn(OpKind::Tanh), {rand3(10)}); }
TEST(GradCheck, Sigmoid) { expect_gradients_match(unary_fn(OpKind::Sigmoid), {rand3(11, -4, 4)}); }
TEST(GradCheck, Relu) { expect_gradients_match(unary_fn(OpKind::Relu), {rand3_away(12)}); }
TEST(GradCheck, LeakyRelu) { expect_gradients_match(unary_fn(OpKind::LeakyRelu, {.slope = 0.2}), {rand3_away(13)}); }
TEST(GradCheck, Softplus) { expect_gradients_match(unary_fn(OpKind::Softplus), {rand3(14, -4, 4)}); }
TEST(GradCheck, Gelu) { expect_gradients_match(unary_fn(OpKind::Gelu), {rand3(15, -3, 3)}); }
TEST(GradCheck, GeluApproximate) {
  expect_gradients_match(unary_fn(OpKind::Gelu, {.approximate = true}), {rand3(16, -3, 3)});
}
TEST(GradCheck, Erf) { expect_gradients_match(unary_fn(OpKind::Erf), {rand3(17)}); }
TEST(GradCheck, Reciprocal) { expect_gradients_match(unary_fn(OpKind::Reciprocal), {rand3_away(18, 0.5)}); }
TEST(GradCheck, StableReciprocal) {
  // Below 0.5 the function is the line +-4 - 4x, which jumps at 0 (hence no input near 0).
  expect_gradients_match(unary_fn(OpKind::StableReciprocal, {.threshold = 0.5}), {around_half()});
}
TEST(GradCheck, Identity) { expect_gradients_match(unary_fn(OpKind::Identity), {rand3(19)}); }

TEST(GradCheck, UnaryOpsComposeWithBroadcasting) {
  // A unary op feeding a broadcasting product: its gradient is summed back to shape (3,1,4).
  expect_gradients_match(
      [](Graph&, const std::vector<Var>& x) { return std::vector{ops::tanh(x[0]) * ops::sigmoid(x[1])}; },
      {rand3(20), random_tensor({2, 4}, DType::f64, 21, -2, 2)});
}

// ---- stop_gradient ----

TEST(StopGradient, PassesValuesButBlocksGradients) {
  Graph g;
  Var x = g.input("x", {2, 3}, DType::f64);
  Var only_through_stop = ops::exp(ops::stop_gradient(x));
  Var both = x * ops::stop_gradient(x);  // d/dx = stop_gradient(x) = x: only the left use counts
  Var ct1 = g.input("ct1", {2, 3}, DType::f64);
  Var ct2 = g.input("ct2", {2, 3}, DType::f64);

  EXPECT_FALSE(vjp(g, {only_through_stop}, {ct1}, {x})[0].has_value());
  const auto grads = vjp(g, {both}, {ct2}, {x});
  ASSERT_TRUE(grads[0].has_value());

  const Tensor xv = random_tensor({2, 3}, DType::f64, 30);
  const Tensor ones = Tensor::full({2, 3}, 1.0, DType::f64);
  const auto outs = cpu::run_graph(g, {only_through_stop, both, *grads[0]}, {xv, ones, ones});
  expect_close(outs[0], map_ref(xv, [](double v) { return std::exp(v); }));
  expect_close(outs[1], map_ref(xv, [](double v) { return v * v; }));
  expect_close(outs[2], xv);
}

// ---- attributes and errors ----

TEST(Unary, AttributesDistinguishOps) {
  EXPECT_EQ(UnaryOp(OpKind::LeakyRelu, {.slope = 0.2}).to_string(), "leaky_relu(slope=0.2)");
  EXPECT_EQ(UnaryOp(OpKind::Log, {.robust = true, .threshold = 0.5}).to_string(), "log(robust=true, threshold=0.5)");
  EXPECT_FALSE(UnaryOp(OpKind::Gelu).equivalent(UnaryOp(OpKind::Gelu, {.approximate = true})));
  EXPECT_TRUE(UnaryOp(OpKind::Exp).equivalent(UnaryOp(OpKind::Exp, {.slope = 3})));
}

TEST(UnaryErrors, FloatOnlyOpsRejectIntegers) {
  Graph g;
  Var i = g.input("i", {2}, DType::i32);
  try {
    ops::sqrt(i);
    FAIL() << "expected DTypeError";
  } catch (const DTypeError& e) {
    EXPECT_STREQ(e.what(), "[sqrt] needs a floating-point input, got i32");
  }
  EXPECT_THROW(ops::exp(i), DTypeError);
  EXPECT_THROW(ops::floor(i), DTypeError);
  EXPECT_THROW(ops::leaky_relu(i), DTypeError);
}

TEST(UnaryErrors, LogicalNotNeedsBool) {
  Graph g;
  Var f = g.input("f", {2}, DType::f32);
  try {
    ops::logical_not(f);
    FAIL() << "expected DTypeError";
  } catch (const DTypeError& e) {
    EXPECT_STREQ(e.what(), "[logical_not] needs a bool input, got f32");
  }
}

TEST(UnaryErrors, ArithmeticRejectsBool) {
  Graph g;
  Var b = g.input("b", {2}, DType::b8);
  try {
    ops::neg(b);
    FAIL() << "expected DTypeError";
  } catch (const DTypeError& e) {
    EXPECT_STREQ(e.what(), "[neg] is not defined for bool inputs");
  }
  EXPECT_NO_THROW(ops::identity(b));
  EXPECT_NO_THROW(ops::stop_gradient(b));
}

TEST(UnaryErrors, ThresholdMustBePositive) {
  Graph g;
  Var x = g.input("x", {2}, DType::f64);
  try {
    ops::robust_log(x, 0.0);
    FAIL() << "expected AttributeError";
  } catch (const AttributeError& e) {
    EXPECT_STREQ(e.what(), "[log] threshold must be positive and finite, got 0");
  }
  try {
    ops::stable_reciprocal(x, -1.0);
    FAIL() << "expected AttributeError";
  } catch (const AttributeError& e) {
    EXPECT_STREQ(e.what(), "[stable_reciprocal] threshold must be positive and finite, got -1");
  }
  EXPECT_THROW(ops::robust_sqrt(x, std::numeric_limits<double>::infinity()), AttributeError);
  EXPECT_NO_THROW(ops::sqrt(x));  // the plain form has no threshold
}

}  // namespace
}  // namespace mithril
