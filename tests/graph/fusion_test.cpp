// The fused linear products of the operator-fusion pass: transposed operands read in place, the
// transpose of a product computed as b^T a^T, and add chains of products accumulated by the GEMM.
// Each graph runs with and without fusion (float64, the unfused graph is the reference) and the
// fused graph must have the expected single fused node.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <random>

#include "mithril/backends/cpu/executor.h"
#include "mithril/core/error.h"
#include "mithril/graph/passes.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/fused.h"
#include "mithril/ops/linalg.h"
#include "mithril/ops/reduce.h"
#include "mithril/ops/shape.h"
#include "mithril/ops/unary.h"

namespace mithril {
namespace {

Tensor random_tensor(std::mt19937& rng, const Shape& shape, DType dtype) {
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> v(static_cast<size_t>(numel(shape)));
  for (double& x : v) x = normal(rng);
  return Tensor::from_doubles(v, shape, dtype);
}

// A graph under construction with its feed: input() adds a graph input and a random value for it.
struct Built {
  Built(uint32_t seed, DType dtype) : rng(seed), dtype(dtype) {}
  Var input(const std::string& name, const Shape& shape) {
    feed.push_back(random_tensor(rng, shape, dtype));
    return program.graph->input(name, shape, dtype);
  }
  GraphProgram program;
  std::vector<Tensor> feed;
  std::mt19937 rng;
  DType dtype;
};

// Builds the graph twice (the passes consume a program), compares fused with unfused results and
// returns the fused program.
GraphProgram check_fused(const std::function<Built()>& build, double tol) {
  Built plain = build();
  const std::vector<Tensor> expected = cpu::Executor(*plain.program.graph, plain.program.outputs).run(plain.feed);
  Built fused = build();
  PassOptions o;
  o.constant_folding = false;
  optimize(fused.program, o, {});
  const std::vector<Tensor> got = cpu::Executor(*fused.program.graph, fused.program.outputs).run(fused.feed);
  EXPECT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size() && i < expected.size(); ++i) {
    EXPECT_EQ(got[i].shape(), expected[i].shape());
    const std::vector<double> x = got[i].to_doubles(), y = expected[i].to_doubles();
    for (size_t j = 0; j < x.size(); ++j) EXPECT_NEAR(x[j], y[j], tol * std::max(1.0, std::abs(y[j]))) << "output " << i << "[" << j << "]";
  }
  return std::move(fused.program);
}

// The fused linear nodes of a graph, in graph order.
std::vector<const FusedOp*> fused_linear_nodes(const GraphProgram& p) {
  std::vector<const FusedOp*> linear;
  for (const Node& n : p.graph->nodes())
    if (n.op->kind() == OpKind::FusedLinear) linear.push_back(static_cast<const FusedOp*>(n.op.get()));
  return linear;
}

TEST(FusedProducts, TransposedLeftOperandIsReadInPlace) {
  for (DType dt : {DType::f64, DType::f32}) {
    const GraphProgram fused = check_fused(
        [dt] {
          Built b(1, dt);
          const Var a = b.input("a", {7, 5}), w = b.input("w", {7, 9});
          b.program.outputs = {ops::relu(ops::matmul(ops::transpose(a), w)).id()};
          return b;
        },
        dt == DType::f64 ? 1e-12 : 1e-5);
    const auto linear = fused_linear_nodes(fused);
    ASSERT_EQ(linear.size(), 1u);
    EXPECT_EQ(linear[0]->products, (std::vector<FusedProduct>{{true, false}}));
  }
}

TEST(FusedProducts, TransposeOfAProductIsComputedAsSwappedProduct) {
  // (a^T g)^T = g^T a: the gradient of a transposed weight, with no transpose materialized.
  const GraphProgram fused = check_fused(
      [] {
        Built b(2, DType::f64);
        const Var a = b.input("a", {6, 4}), gr = b.input("g", {6, 3}), c = b.input("c", {4, 3});
        b.program.outputs = {ops::transpose(ops::matmul(ops::transpose(a), gr)).id(),
                             ops::transpose(ops::matmul(a, c)).id()};  // (a c)^T = c^T a^T
        return b;
      },
      1e-12);
  const auto linear = fused_linear_nodes(fused);
  ASSERT_EQ(linear.size(), 2u);
  EXPECT_EQ(linear[0]->products, (std::vector<FusedProduct>{{true, false}}));
  EXPECT_EQ(linear[1]->products, (std::vector<FusedProduct>{{true, true}}));
}

TEST(FusedProducts, AddChainOfProductsAccumulatesIntoOneNode) {
  // sum_t (x_t^T g_t)^T + sum of batched products, as autodiff builds for a weight shared by
  // the steps of an unrolled recurrence; a step after the chain still runs; a step before an
  // add stops the accumulation (relu(p0) + p1 is not relu(p0 + p1)).
  for (DType dt : {DType::f64, DType::f32}) {
    const GraphProgram fused = check_fused(
        [dt] {
          Built b(3, dt);
          const Var w = b.input("w", {5, 6});
          std::optional<Var> acc, dz;
          for (int t = 0; t < 5; ++t) {
            const Var x = b.input("x" + std::to_string(t), {3, 6}), gr = b.input("g" + std::to_string(t), {3, 5});
            const Var dw = ops::transpose(ops::matmul(ops::transpose(x), gr));
            acc = acc ? *acc + dw : dw;
            const Var p = ops::matmul(ops::reshape(gr, {3, 1, 5}), w);
            dz = dz ? *dz + p : p;
          }
          const Var p0 = ops::matmul(b.input("u", {2, 6}), ops::transpose(w));
          const Var p1 = ops::matmul(b.input("v", {2, 6}), ops::transpose(w));
          b.program.outputs = {ops::tanh(*acc).id(), dz->id(), (ops::relu(p0) + p1).id()};
          return b;
        },
        dt == DType::f64 ? 1e-12 : 1e-5);
    const auto linear = fused_linear_nodes(fused);
    ASSERT_EQ(linear.size(), 4u);
    size_t chains = 0, singles = 0;
    for (const FusedOp* op : linear) {
      if (op->products.size() == 1) {  // relu(p0) + p1: not accumulated
        ++singles;
        continue;
      }
      ++chains;
      ASSERT_EQ(op->products.size(), 5u);
      const bool weight_gradient = op->products[0] == FusedProduct{true, false};
      EXPECT_TRUE(weight_gradient || op->products[0] == (FusedProduct{false, false}));
      EXPECT_EQ(op->steps.size(), weight_gradient ? 1u : 0u);  // the tanh; the adds are accumulations
    }
    EXPECT_EQ(chains, 2u);
    EXPECT_EQ(singles, 2u);
  }
}

TEST(FusedColumns, LayerNormChainIsOneNodeAndPerRowOperandsAreNotBiases) {
  // (x - mean) / sqrt(var + eps) * w + b: the per-row mean and deviation are column operands.
  // A product plus a column (m, 1) with n > m must not be taken for a bias row.
  for (DType dt : {DType::f64, DType::f32}) {
    const GraphProgram fused = check_fused(
        [dt] {
          Built b(4, dt);
          const Var x = b.input("x", {3, 4, 7}), w = b.input("w", {7}), bias = b.input("b", {7});
          const Var a = b.input("a", {3, 5}), m = b.input("m", {5, 6}), col = b.input("c", {3, 1});
          const Var centred = x - ops::mean(x, Axes{-1}, true);
          const Var norm = centred / ops::sqrt(ops::variance(x, Axes{-1}, true) + 1e-5) * w + bias;
          b.program.outputs = {norm.id(), ops::tanh(ops::matmul(a, m) + col).id()};
          return b;
        },
        dt == DType::f64 ? 1e-12 : 1e-5);
    size_t chains = 0;
    for (const Node& n : fused.graph->nodes())
      if (n.op->kind() == OpKind::FusedElementwise && static_cast<const FusedOp&>(*n.op).steps.size() == 4) ++chains;
    EXPECT_EQ(chains, 1u);  // sub, div, mul, add
    const auto linear = fused_linear_nodes(fused);
    ASSERT_EQ(linear.size(), 1u);
    EXPECT_EQ(linear[0]->steps.size(), 2u);  // the column add and the tanh
  }
}

TEST(FusedProducts, ShapeRulesRejectOperandsThatDoNotFit) {
  Graph g;
  const Var x = g.input("x", {4, 3}, DType::f64), w = g.input("w", {4, 5}, DType::f64);
  auto op = [](std::vector<FusedProduct> p) {
    return std::make_shared<FusedOp>(OpKind::FusedLinear, Shape{3, 5}, DType::f64, std::vector<FusedStep>{}, std::move(p));
  };
  EXPECT_EQ(g.apply1(op({{true, false}}), {x, w}).shape(), (Shape{3, 5}));
  EXPECT_THROW(g.apply1(op({{false, false}}), {x, w}), ShapeError);
  EXPECT_THROW(g.apply1(op({{true, false}, {true, false}}), {x, w}), ShapeError);  // a second product without operands
  EXPECT_THROW(op({}), ValueError);
}

}  // namespace
}  // namespace mithril
