#include <gtest/gtest.h>

#include "mithril/backends/cpu/executor.h"
#include "mithril/core/error.h"
#include "mithril/graph/autodiff.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/linalg.h"
#include "mithril/ops/reduce.h"
#include "mithril/ops/shape.h"
#include "support/gradcheck.h"

namespace mithril {
namespace {

using testing::expect_close;

TEST(Autodiff, MultipleUsesAccumulate) {
  Graph g;
  Var x = g.input("x", {3}, DType::f64);
  Var y = x * x + x;  // dy/dx = 2x + 1
  Var ct = g.input("ct", {3}, DType::f64);
  auto grads = vjp(g, {y}, {ct}, {x});
  ASSERT_TRUE(grads[0].has_value());
  const auto out = cpu::run_graph(g, {*grads[0]}, {Tensor::from_doubles({1, 2, 3}, {3}, DType::f64),
                                                  Tensor::from_doubles({1, 1, 0.5}, {3}, DType::f64)});
  expect_close(out[0], {3, 5, 3.5});
}

TEST(Autodiff, BroadcastGradientsAreSummedBackToInputShape) {
  Graph g;
  Var a = g.input("a", {3, 1}, DType::f64);
  Var b = g.input("b", {4}, DType::f64);
  Var s = ops::sum(a * b);
  Var one = ops::scalar_like(s, 1.0);
  auto grads = vjp(g, {s}, {one}, {a, b});
  ASSERT_EQ(grads[0]->shape(), (Shape{3, 1}));
  ASSERT_EQ(grads[1]->shape(), (Shape{4}));
  const auto out = cpu::run_graph(g, {*grads[0], *grads[1]}, {Tensor::from_doubles({1, 2, 3}, {3, 1}, DType::f64),
                                                             Tensor::from_doubles({1, 1, 1, 2}, {4}, DType::f64)});
  expect_close(out[0], {5, 5, 5});
  expect_close(out[1], {6, 6, 6, 6});
}

TEST(Autodiff, UnreachableAndNonDifferentiablePathsGiveNoGradient) {
  Graph g;
  Var x = g.input("x", {2}, DType::f64);
  Var unused = g.input("unused", {2}, DType::f64);
  Var y = ops::floor_div(x, ops::scalar_like(x, 2.0));  // gradient zero almost everywhere
  Var ct = ops::scalar_like(y, 1.0);
  auto grads = vjp(g, {y}, {ops::broadcast_to(ct, {2})}, {x, unused});
  EXPECT_FALSE(grads[0].has_value());
  EXPECT_FALSE(grads[1].has_value());
}

TEST(Autodiff, OutputsWithoutCotangentContributeNothing) {
  Graph g;
  Var x = g.input("x", {2}, DType::f64);
  Var y1 = x * 3.0;
  Var y2 = x * 5.0;
  auto grads = vjp(g, {y1, y2}, {std::nullopt, g.input("ct", {2}, DType::f64)}, {x});
  const auto out = cpu::run_graph(g, {*grads[0]}, {Tensor::from_doubles({1, 2}, {2}, DType::f64),
                                                  Tensor::from_doubles({1, 2}, {2}, DType::f64)});
  expect_close(out[0], {5, 10});
}

TEST(Autodiff, CotangentShapeMismatchIsAnError) {
  Graph g;
  Var x = g.input("x", {2}, DType::f64);
  try {
    vjp(g, {x * 2.0}, {g.input("ct", {3}, DType::f64)}, {x});
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(), "[vjp] cotangent 0 has shape (3,) but output has shape (2,)");
  }
}

TEST(Executor, ChecksInputsAndNamesThem) {
  Graph g;
  Var x = g.input("x", {2, 3}, DType::f32);
  Var y = x + 1.0;
  cpu::Executor ex(g, {y.id()});
  try {
    ex.run({Tensor::zeros({3, 2}, DType::f32)});
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(), "[executor] input 'x' has shape (3,2) but the graph expects (2,3)");
  }
  try {
    ex.run({Tensor::zeros({2, 3}, DType::f64)});
    FAIL();
  } catch (const DTypeError& e) {
    EXPECT_STREQ(e.what(), "[executor] input 'x' has dtype f64 but the graph expects f32");
  }
  EXPECT_THROW(ex.run({}), ValueError);
}

TEST(Executor, MissingKernelNamesOpDTypeAndBackend) {
  Graph g;
  Var x = g.input("x", {2, 2}, DType::i8);
  Var y = ops::matmul(x, x);
  try {
    cpu::Executor ex(g, {y.id()});
    FAIL();
  } catch (const KernelError& e) {
    EXPECT_STREQ(e.what(), "[matmul] no kernel for dtype i8 on backend cpu");
  }
}

TEST(Executor, RunsOnlyWhatOutputsNeed) {
  Graph g;
  Var x = g.input("x", {2}, DType::f64);
  Var needed = x * 2.0;
  Var unneeded = x + 1.0;
  (void)unneeded;
  cpu::Executor ex(g, {needed.id()});
  EXPECT_EQ(ex.num_steps(), 1u);
  expect_close(ex.run({Tensor::from_doubles({1, 2}, {2}, DType::f64)})[0], {2, 4});
}

TEST(Graph, PrintsNodesWithShapes) {
  Graph g;
  Var x = g.input("x", {2}, DType::f32);
  Var y = ops::sum(x, Axes{0}, true);
  (void)y;
  EXPECT_EQ(g.to_string(), "input %0'x':f32(2,)\n%1:f32(1,) = sum(axes=(0), keepdim=true)(%0)\n");
}

}  // namespace
}  // namespace mithril
