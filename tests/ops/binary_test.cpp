// Forward tests against naive references, gradient checks, and error messages for the
// binary family.
#include <gtest/gtest.h>

#include <cmath>

#include "mithril/core/error.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/unary.h"
#include "support/gradcheck.h"
#include "support/reference.h"

namespace mithril {
namespace {

using testing::evaluate;
using testing::expect_close;
using testing::reference_binary;
using testing::expect_gradients_match;
using testing::random_tensor;

struct BinaryCase {
  OpKind kind;
  double (*ref)(double, double);
};

const BinaryCase kArith[] = {
    {OpKind::Add, [](double a, double b) { return a + b; }},
    {OpKind::Sub, [](double a, double b) { return a - b; }},
    {OpKind::Mul, [](double a, double b) { return a * b; }},
    {OpKind::Div, [](double a, double b) { return a / b; }},
    {OpKind::Maximum, [](double a, double b) { return a > b ? a : b; }},
    {OpKind::Minimum, [](double a, double b) { return a < b ? a : b; }},
    {OpKind::FloorDiv, [](double a, double b) { return std::floor(a / b); }},
    {OpKind::Pow, [](double a, double b) { return std::pow(a, b); }},
};

TEST(Binary, ForwardMatchesReferenceWithBroadcasting) {
  for (DType dt : {DType::f64, DType::f32}) {
    for (const auto& c : kArith) {
      const Tensor a = random_tensor({2, 1, 4}, dt, 1, 0.5, 2.0);
      const Tensor b = random_tensor({3, 1}, dt, 2, 0.5, 2.0);
      const Tensor out = evaluate([&](Graph&, const std::vector<Var>& x) { return std::vector{ops::binary(c.kind, x[0], x[1])}; },
                                  {a, b})[0];
      EXPECT_EQ(out.shape(), (Shape{2, 3, 4})) << op_name(c.kind);
      const double tol = dt == DType::f64 ? 1e-15 : 1e-6;
      expect_close(out, reference_binary(a, b, c.ref), tol, tol);
    }
  }
}

TEST(Binary, IntegerArithmeticAndFloorDivSemantics) {
  const Tensor a = Tensor::from_vector<int64_t>({7, -7, 7, -7}, {4});
  const Tensor b = Tensor::from_vector<int64_t>({2, 2, -2, -2}, {4});
  auto run = [&](OpKind k) {
    return evaluate([&](Graph&, const std::vector<Var>& x) { return std::vector{ops::binary(k, x[0], x[1])}; }, {a, b})[0];
  };
  expect_close(run(OpKind::FloorDiv), {3, -4, -4, 3});
  expect_close(run(OpKind::Add), {9, -5, 5, -9});
  const Tensor s = evaluate([](Graph&, const std::vector<Var>& x) { return std::vector{ops::shift_right(x[0], x[1])}; },
                            {Tensor::from_vector<int32_t>({16, 5}, {2}), Tensor::from_vector<int32_t>({2, 1}, {2})})[0];
  expect_close(s, {4, 2});
}

// Counts that are negative or not below the bit width shift everything out, as in NumPy
// (2 << -1 == 0, -5 >> 70 == -1), rather than being undefined behaviour.
TEST(Binary, ShiftsOutOfRangeFollowNumPy) {
  for (DType dt : {DType::i8, DType::i32, DType::i64}) {
    const Tensor x = Tensor::from_doubles({2, 2, 2, -5, 5, -1, 1}, {7}, dt);
    const Tensor n = Tensor::from_doubles({1, -1, 100, 70, -3, 2, 6}, {7}, dt);
    const auto out = evaluate(
        [](Graph&, const std::vector<Var>& v) {
          return std::vector{ops::shift_left(v[0], v[1]), ops::shift_right(v[0], v[1])};
        },
        {x, n});
    expect_close(out[0], {4, 0, 0, 0, 0, -4, 64});
    expect_close(out[1], {1, 0, 0, -1, 0, -1, 0});
  }
}

TEST(Binary, ComparisonsAndLogicalOpsGiveBool) {
  const Tensor a = Tensor::from_doubles({1, 2, 3}, {3}, DType::f32);
  const Tensor b = Tensor::from_doubles({2}, {1}, DType::f32);
  const auto outs = evaluate(
      [](Graph&, const std::vector<Var>& x) {
        return std::vector{ops::less(x[0], x[1]), ops::equal(x[0], x[1]), ops::greater_equal(x[0], x[1]),
                           ops::logical_xor(ops::less(x[0], x[1]), ops::greater(x[0], x[1]))};
      },
      {a, b});
  EXPECT_EQ(outs[0].dtype(), DType::b8);
  expect_close(outs[0], {1, 0, 0});
  expect_close(outs[1], {0, 1, 0});
  expect_close(outs[2], {0, 1, 1});
  expect_close(outs[3], {1, 0, 1});
}

TEST(Binary, WhereSelectsWithBroadcasting) {
  const Tensor c = Tensor::from_vector<bool>({true, false, true}, {3});
  const Tensor a = Tensor::from_doubles({1, 2}, {2, 1}, DType::f64);
  const Tensor b = Tensor::scalar(-1, DType::f64);
  const Tensor out = evaluate([](Graph&, const std::vector<Var>& x) { return std::vector{ops::where(x[0], x[1], x[2])}; },
                              {c, a, b})[0];
  EXPECT_EQ(out.shape(), (Shape{2, 3}));
  expect_close(out, {1, -1, 1, 2, -1, 2});
}

TEST(Binary, PromotesMixedDTypesInBuilders) {
  const Tensor a = Tensor::from_vector<int32_t>({1, 2}, {2});
  const Tensor b = Tensor::from_doubles({0.5, 0.25}, {2}, DType::f32);
  const Tensor out = evaluate([](Graph&, const std::vector<Var>& x) { return std::vector{x[0] * x[1]}; }, {a, b})[0];
  EXPECT_EQ(out.dtype(), DType::f32);
  expect_close(out, {0.5, 0.5});
}

TEST(Binary, RobustPowMatchesMithrilDefinition) {
  const double thr = 1e-3;
  const Tensor base = Tensor::from_doubles({2.0, -3.0, 1e-5, 0.0}, {4}, DType::f64);
  const Tensor expo = Tensor::from_doubles({2.0, 0.5, 0.5, 3.0}, {4}, DType::f64);
  const Tensor out = evaluate([&](Graph&, const std::vector<Var>& x) { return std::vector{ops::robust_pow(x[0], x[1], thr)}; },
                              {base, expo})[0];
  // 1e-5 < thr and 0.5 < 1 - ln(thr)/ln(1e-5) = 0.4 is false -> regular branch: sqrt(1e-5).
  // 0 < thr and 3 < 1 - ln(thr)/ln(0) = 1 is false -> 0^3 = 0.
  expect_close(out, {4.0, std::sqrt(3.0), std::sqrt(1e-5), 0.0});
}

// ---- gradient checks (float64, central differences) ----

std::vector<Tensor> broadcast_pair(uint64_t seed, double lo = -2, double hi = 2) {
  return {random_tensor({3, 1, 4}, DType::f64, seed, lo, hi), random_tensor({2, 4}, DType::f64, seed + 1, lo, hi)};
}

testing::GraphFn binary_fn(OpKind k) {
  return [k](Graph&, const std::vector<Var>& x) { return std::vector{ops::binary(k, x[0], x[1])}; };
}

TEST(GradCheck, Add) { expect_gradients_match(binary_fn(OpKind::Add), broadcast_pair(10)); }
TEST(GradCheck, Sub) { expect_gradients_match(binary_fn(OpKind::Sub), broadcast_pair(20)); }
TEST(GradCheck, Mul) { expect_gradients_match(binary_fn(OpKind::Mul), broadcast_pair(30)); }
TEST(GradCheck, Div) {
  expect_gradients_match(binary_fn(OpKind::Div),
                         {random_tensor({3, 1, 4}, DType::f64, 40), random_tensor({2, 4}, DType::f64, 41, 0.5, 2.0)});
}
TEST(GradCheck, Pow) {
  expect_gradients_match(binary_fn(OpKind::Pow),
                         {random_tensor({3, 1, 4}, DType::f64, 50, 0.5, 2.0), random_tensor({1, 4}, DType::f64, 51, -1.5, 2.0)});
}
TEST(GradCheck, RobustPow) {
  expect_gradients_match([](Graph&, const std::vector<Var>& x) { return std::vector{ops::robust_pow(x[0], x[1], 1e-3)}; },
                         {testing::random_tensor_away_from_zero({3, 4}, DType::f64, 55, -2.0, 2.0, 0.2),
                          random_tensor({4}, DType::f64, 56, 0.5, 2.0)});
}
TEST(GradCheck, Maximum) { expect_gradients_match(binary_fn(OpKind::Maximum), broadcast_pair(60)); }
TEST(GradCheck, Minimum) { expect_gradients_match(binary_fn(OpKind::Minimum), broadcast_pair(70)); }
TEST(GradCheck, Where) {
  const Tensor cond = Tensor::from_vector<bool>({true, false, false, true}, {4});
  expect_gradients_match([](Graph&, const std::vector<Var>& x) { return std::vector{ops::where(x[0], x[1], x[2])}; },
                         {cond, random_tensor({3, 1}, DType::f64, 80), random_tensor({3, 4}, DType::f64, 81)});
}

// ---- errors ----

TEST(BinaryErrors, ShapeMismatchNamesOpAndShapes) {
  Graph g;
  Var a = g.input("a", {2, 3}, DType::f32);
  Var b = g.input("b", {4, 3}, DType::f32);
  try {
    ops::add(a, b);
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(), "[add] shapes (2,3) and (4,3) cannot be broadcast: dim -2 is 2 vs 4");
  }
}

TEST(BinaryErrors, DTypeMismatchInsideGraphNamesOp) {
  Graph g;
  Var a = g.input("a", {2}, DType::f32);
  Var b = g.input("b", {2}, DType::f64);
  try {
    g.apply1(std::make_shared<BinaryOp>(OpKind::Mul), {a, b});
    FAIL() << "expected DTypeError";
  } catch (const DTypeError& e) {
    EXPECT_STREQ(e.what(), "[mul] dtype mismatch: left is f32 but right is f64");
  }
}

TEST(BinaryErrors, BadDTypesForOpAreRejected) {
  Graph g;
  Var f = g.input("f", {2}, DType::f32);
  Var i = g.input("i", {2}, DType::i32);
  EXPECT_THROW(ops::shift_left(f, f), DTypeError);
  EXPECT_THROW(ops::logical_and(f, f), DTypeError);
  EXPECT_THROW(ops::div(i, i), DTypeError);
  EXPECT_THROW(ops::where(f, f, f), DTypeError);
}

}  // namespace
}  // namespace mithril
