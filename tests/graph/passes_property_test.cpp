// Property test of the graph passes: random graphs (ops from every elementwise, reduction,
// matmul and layout family, random shapes with NumPy broadcasting, constant sub-graphs, repeated
// sub-expressions, x * 1, double transposes), forward plus autodiff gradient graph, run with every
// combination of passes. Without fusion the results must be bitwise those of no passes; with
// fusion (which reads transposed weights in place, changing BLAS summation order) within 1e-12
// relative in float64.
#include <gtest/gtest.h>

#include <cstring>
#include <iostream>
#include <map>
#include <random>

#include "mithril/backends/cpu/executor.h"
#include "mithril/core/error.h"
#include "mithril/graph/autodiff.h"
#include "mithril/graph/passes.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/linalg.h"
#include "mithril/ops/reduce.h"
#include "mithril/ops/shape.h"
#include "mithril/ops/unary.h"

namespace mithril {
namespace {

struct RandomGraph {
  GraphProgram program;
  std::vector<Tensor> feed;
};

Tensor random_tensor(std::mt19937& rng, const Shape& shape) {
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> v(static_cast<size_t>(numel(shape)));
  for (double& x : v) x = normal(rng);
  return Tensor::from_doubles(v, shape, DType::f64);
}

RandomGraph random_graph(uint32_t seed) {
  std::mt19937 rng(seed);
  auto pick = [&](size_t n) { return static_cast<size_t>(std::uniform_int_distribution<size_t>(0, n - 1)(rng)); };
  RandomGraph r;
  Graph& g = *r.program.graph;
  const int64_t a = 1 + static_cast<int64_t>(pick(4)), b = 1 + static_cast<int64_t>(pick(4));
  const std::vector<Shape> shapes = {{a, b}, {b}, {1, b}, {a, 1}, {}, {b, a}, {a, b}};
  std::vector<Var> pool, wrt;
  for (int i = 0; i < 3; ++i) {
    const Shape& s = shapes[pick(shapes.size())];
    pool.push_back(g.input("in" + std::to_string(i), s, DType::f64));
    r.feed.push_back(random_tensor(rng, s));
    wrt.push_back(pool.back());
  }
  pool.push_back(g.constant(random_tensor(rng, shapes[pick(shapes.size())])));
  pool.push_back(g.constant(Tensor::full({}, 1.0, DType::f64)));
  pool.push_back(g.constant(random_tensor(rng, {a, b})));
  const OpKind unary[] = {OpKind::Neg, OpKind::Abs, OpKind::Square, OpKind::Tanh, OpKind::Sigmoid, OpKind::Relu,
                          OpKind::Sin, OpKind::Cos, OpKind::Softplus, OpKind::Identity};
  const OpKind binary[] = {OpKind::Add, OpKind::Sub, OpKind::Mul, OpKind::Maximum, OpKind::Minimum};
  const int steps = 4 + static_cast<int>(pick(10));
  for (int s = 0; s < steps; ++s) {
    const Var x = pool[pick(pool.size())];
    const Var y = pool[pick(pool.size())];
    try {
      switch (pick(9)) {
        case 0:
        case 1: pool.push_back(ops::unary(unary[pick(std::size(unary))], x)); break;
        case 2:
        case 3: pool.push_back(ops::binary(binary[pick(std::size(binary))], x, y)); break;
        case 4:  // the same expression twice: CSE merges it
          pool.push_back(ops::tanh(x) * ops::tanh(x));
          break;
        case 5:
          if (x.ndim() == 0) continue;
          pool.push_back(pick(2) ? ops::sum(x, Axes{static_cast<int64_t>(pick(static_cast<size_t>(x.ndim())))}, pick(2) == 1)
                                 : ops::mean(x, std::nullopt, pick(2) == 1));
          break;
        case 6:
          if (x.ndim() != 2 || y.ndim() != 2) continue;
          if (x.dim(1) == y.dim(0)) pool.push_back(ops::matmul(x, y));
          else if (x.dim(1) == y.dim(1)) pool.push_back(ops::matmul(x, ops::transpose(y)));  // the Linear layer's form
          else continue;
          break;
        case 7:
          if (x.ndim() != 2) continue;
          pool.push_back(pick(2) ? ops::transpose(ops::transpose(x)) : ops::reshape(ops::reshape(x, {-1}), x.shape()));
          break;
        case 8:  // x * 1 and a relu(x + bias) tail
          pool.push_back(pick(2) ? x * pool[4] : ops::relu(x + y));
          break;
      }
    } catch (const Error&) {  // incompatible shapes: draw again
    }
  }
  // Fetch the last two values; cotangents for both; gradients for every input.
  std::vector<Var> outs = {pool.back(), pool[pool.size() - 2]};
  std::vector<std::optional<Var>> cts;
  for (size_t i = 0; i < outs.size(); ++i) {
    cts.push_back(g.input("ct" + std::to_string(i), outs[i].shape(), DType::f64));
    r.feed.push_back(random_tensor(rng, outs[i].shape()));
  }
  const auto grads = vjp(g, outs, cts, wrt);
  for (const Var& o : outs) r.program.outputs.push_back(o.id());
  for (const auto& gr : grads)
    if (gr) r.program.outputs.push_back(gr->id());
  return r;
}

std::vector<Tensor> run(const GraphProgram& p, const std::vector<Tensor>& feed) {
  return cpu::Executor(*p.graph, p.outputs).run(feed);
}

// Layout folding, directed: chains of permutes and reshapes become one node (none where they
// cancel), with the same values.
TEST(PassesProperty, AlgebraicSimplificationFoldsPermutesAndReshapes) {
  std::mt19937 rng(7);
  GraphProgram p;
  Graph& g = *p.graph;
  const Var x = g.input("x", {2, 3, 4}, DType::f64);
  const Var twice = ops::permute(ops::permute(x, {1, 0, 2}), {2, 0, 1});  // one permute, axes (2,1,0)
  const Var cancel = ops::transpose(ops::transpose(x));                  // x itself
  const Var reshaped = ops::reshape(ops::reshape(x, {6, 4}), {4, 6});     // one reshape
  const Var back = ops::reshape(ops::reshape(x, {24}), {2, 3, 4});        // x itself
  const Var negneg = ops::neg(ops::neg(twice));                           // the permute
  for (const Var& v : {twice, cancel, reshaped, back, negneg}) p.outputs.push_back(v.id());
  const std::vector<Tensor> feed = {random_tensor(rng, {2, 3, 4})};
  const std::vector<Tensor> expected = run(p, feed);

  const GraphProgram s = dead_code_elimination(algebraic_simplification(p));
  std::map<OpKind, int> kinds;
  for (const Node& n : s.graph->nodes()) ++kinds[n.op->kind()];
  EXPECT_EQ(s.graph->nodes().size(), 2u) << s.graph->to_string();
  EXPECT_EQ(kinds[OpKind::Permute], 1) << s.graph->to_string();
  EXPECT_EQ(kinds[OpKind::Reshape], 1) << s.graph->to_string();
  EXPECT_EQ(s.outputs[1], s.graph->inputs()[0]);  // transpose of transpose: the input
  EXPECT_EQ(s.outputs[3], s.graph->inputs()[0]);  // reshape there and back: the input
  EXPECT_EQ(s.outputs[4], s.outputs[0]);          // neg of neg: the permute
  const std::vector<Tensor> got = run(s, feed);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].shape(), expected[i].shape()) << i;
    EXPECT_EQ(got[i].to_doubles(), expected[i].to_doubles()) << i;
  }
}

TEST(PassesProperty, EveryCombinationMatchesNoPassesOn500RandomGraphs) {
  int fused_graphs = 0, shrunk = 0;
  for (uint32_t seed = 0; seed < 500; ++seed) {
    const RandomGraph base = random_graph(seed);
    const std::vector<Tensor> expected = run(base.program, base.feed);
    for (int mask = 1; mask < 32; ++mask) {
      PassOptions o{(mask & 1) != 0, (mask & 2) != 0, (mask & 4) != 0, (mask & 8) != 0, (mask & 16) != 0};
      RandomGraph r = random_graph(seed);
      const std::vector<PassStat> stats = optimize(r.program, o, cpu::run_node);
      if (mask == 31 && r.program.graph->nodes().size() < base.program.graph->nodes().size()) ++shrunk;
      bool fused = false;
      for (const Node& n : r.program.graph->nodes()) fused = fused || op_info(n.op->kind()).family == "fused";
      if (mask == 31 && fused) ++fused_graphs;
      const std::vector<Tensor> got = run(r.program, r.feed);
      ASSERT_EQ(got.size(), expected.size());
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(got[i].shape(), expected[i].shape()) << "seed " << seed << " mask " << mask << " output " << i;
        const std::vector<double> x = got[i].to_doubles(), y = expected[i].to_doubles();
        for (size_t j = 0; j < x.size(); ++j) {
          if (fused) {
            const bool close = std::abs(x[j] - y[j]) <= 1e-12 * std::max(1.0, std::abs(y[j])) || (std::isnan(x[j]) && std::isnan(y[j]));
            ASSERT_TRUE(close) << "seed " << seed << " mask " << mask << " output " << i << "[" << j << "]: " << x[j]
                               << " vs " << y[j] << "\n" << base.program.graph->to_string();
          } else {
            ASSERT_EQ(std::memcmp(&x[j], &y[j], sizeof(double)), 0)
                << "seed " << seed << " mask " << mask << " output " << i << "[" << j << "]: " << x[j] << " vs " << y[j]
                << "\n" << base.program.graph->to_string();
          }
        }
      }
    }
  }
  // The generator must exercise the passes, not just pass through them.
  std::cout << shrunk << " of 500 graphs shrank, " << fused_graphs << " had fused nodes\n";
  EXPECT_GT(shrunk, 250);
  EXPECT_GT(fused_graphs, 100);
}

}  // namespace
}  // namespace mithril
