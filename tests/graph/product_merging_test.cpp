// Horizontal fusion (merge_parallel_products): products of one operand by several weights become
// one product by the concatenated weights, split back. Each graph is built twice, once merged,
// and both run in float64: outputs and the gradients autodiff builds afterwards must agree, and
// the merged graph must hold the expected products and concatenations.
#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <string>

#include "mithril/backends/cpu/executor.h"
#include "mithril/graph/autodiff.h"
#include "mithril/graph/passes.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/linalg.h"
#include "mithril/ops/shape.h"
#include "mithril/ops/unary.h"

namespace mithril {
namespace {

struct Built {
  explicit Built(uint32_t seed) : rng(seed) {}
  Var input(const std::string& name, const Shape& shape) {
    std::normal_distribution<double> normal(0.0, 1.0);
    std::vector<double> v(static_cast<size_t>(numel(shape)));
    for (double& x : v) x = normal(rng);
    feed.push_back(Tensor::from_doubles(v, shape, DType::f64));
    wrt.push_back(static_cast<ValueId>(program.graph->inputs().size()));
    return program.graph->input(name, shape, DType::f64);
  }
  GraphProgram program;
  std::vector<Tensor> feed;
  std::vector<ValueId> wrt;  // input positions, all differentiated
  std::mt19937 rng;
};

size_t count(const GraphProgram& p, OpKind kind) {
  size_t n = 0;
  for (const Node& node : p.graph->nodes()) n += node.op->kind() == kind ? 1 : 0;
  return n;
}

// Appends the gradients of sum(outputs * cotangent 1) with respect to every input.
void add_gradients(GraphProgram& p) {
  Graph& g = *p.graph;
  std::vector<Var> outs, wrt;
  std::vector<std::optional<Var>> cts;
  for (ValueId o : p.outputs) {
    outs.push_back(g.var(o));
    const Shape shape = g.value(o).shape;  // a copy: adding nodes may move the value table
    cts.push_back(ops::broadcast_to(ops::scalar_like(g.var(o), 1.0), shape));
  }
  for (ValueId in : g.inputs()) wrt.push_back(g.var(in));
  for (const auto& grad : vjp(g, outs, cts, wrt)) p.outputs.push_back(grad->id());
}

// Runs the graph plain and merged (forward, then with gradients) and returns the merged forward
// program for inspection.
GraphProgram check_merged(const std::function<Built()>& build) {
  GraphProgram merged_forward;
  for (const bool gradients : {false, true}) {
    Built plain = build();
    if (gradients) add_gradients(plain.program);
    const std::vector<Tensor> expected = cpu::Executor(*plain.program.graph, plain.program.outputs).run(plain.feed);
    Built b = build();
    GraphProgram merged = merge_parallel_products(b.program);
    if (gradients) add_gradients(merged);
    const std::vector<Tensor> got = cpu::Executor(*merged.graph, merged.outputs).run(b.feed);
    EXPECT_EQ(got.size(), expected.size());
    for (size_t i = 0; i < got.size() && i < expected.size(); ++i) {
      EXPECT_EQ(got[i].shape(), expected[i].shape());
      const std::vector<double> x = got[i].to_doubles(), y = expected[i].to_doubles();
      for (size_t j = 0; j < x.size(); ++j)
        EXPECT_NEAR(x[j], y[j], 1e-12 * std::max(1.0, std::abs(y[j]))) << (gradients ? "gradient " : "output ") << i;
    }
    if (!gradients) merged_forward = std::move(merged);
  }
  return merged_forward;
}

TEST(ProductMerging, ProjectionsOfOneInputBecomeOneProduct) {
  // Attention-style: one 3-D input, three transposed weights of different widths, each followed
  // by its own bias and activation; plus two weights read as is, a second group.
  const GraphProgram p = check_merged([] {
    Built b(1);
    const Var x = b.input("x", {3, 10, 8});
    const Var wq = b.input("wq", {5, 8}), wk = b.input("wk", {7, 8}), wv = b.input("wv", {4, 8});
    const Var u1 = b.input("u1", {8, 6}), u2 = b.input("u2", {8, 3}), bias = b.input("bias", {5});
    b.program.outputs = {ops::relu(ops::matmul(x, ops::transpose(wq)) + bias).id(),
                         ops::tanh(ops::matmul(x, ops::transpose(wk))).id(), ops::matmul(x, ops::transpose(wv)).id(),
                         ops::matmul(x, u1).id(), ops::sigmoid(ops::matmul(x, u2)).id()};
    return b;
  });
  EXPECT_EQ(count(p, OpKind::MatMul), 2u);
  EXPECT_EQ(count(p, OpKind::Split), 2u);
  EXPECT_EQ(count(p, OpKind::Concat), 2u);
}

TEST(ProductMerging, WeightsSharedAcrossStepsAreConcatenatedOnce) {
  // An unrolled recurrence: each step multiplies its own state by the same two weights.
  const GraphProgram p = check_merged([] {
    Built b(2);
    const Var w1 = b.input("w1", {6, 6}), w2 = b.input("w2", {6, 6});
    Var h = b.input("h0", {8, 6});
    for (int t = 0; t < 3; ++t) h = ops::tanh(ops::matmul(h, ops::transpose(w1))) * ops::sigmoid(ops::matmul(h, ops::transpose(w2)));
    b.program.outputs = {h.id()};
    return b;
  });
  EXPECT_EQ(count(p, OpKind::MatMul), 3u);
  EXPECT_EQ(count(p, OpKind::Concat), 1u);
}

TEST(ProductMerging, LeavesProductsThatDoNotShareAWeightOperandAlone) {
  const GraphProgram p = check_merged([] {
    Built b(3);
    const Var row = b.input("row", {1, 8}), x = b.input("x", {9, 8});
    const Var w1 = b.input("w1", {8, 4}), w2 = b.input("w2", {8, 5});
    // Too few rows to pay for the weight copy; a computed right operand is not a weight.
    b.program.outputs = {ops::matmul(row, w1).id(), ops::matmul(row, w2).id(), ops::matmul(x, w1).id(),
                         ops::matmul(x, ops::relu(w2)).id()};
    return b;
  });
  EXPECT_EQ(count(p, OpKind::MatMul), 4u);
  EXPECT_EQ(count(p, OpKind::Concat), 0u);
}

}  // namespace
}  // namespace mithril
