// Symbolic shape inference: templates, broadcasting, composition-time conflicts with the exact
// messages users see, set_shapes, and the shapes the recurrent sequence models derive.
#include "mithril/logical/shape_inference.h"

#include <gtest/gtest.h>

#include "mithril/core/error.h"
#include "mithril/logical/library.h"
#include "mithril/runtime/compile.h"
#include "support/error_of.h"

namespace mithril::logical {
namespace {

using mithril::testing::error_of;

std::string shape_of(const Model& m, const std::string& key) {
  const FlatModel flat = flatten(m);
  return SymbolicShapes(flat).str(*flat.find(key));
}

TEST(SymbolicShapes, LinearShowsSymbolsWithoutData) {
  const Model linear = Linear(4);
  EXPECT_EQ(shape_of(linear, "weight"), "[4, d_in]");
  EXPECT_EQ(shape_of(linear, "bias"), "[4]");
  // The input is at least 2-d (MatrixMultiply's template names its last two dims).
  EXPECT_EQ(shape_of(linear, "output"), "[B1..., m, 4]");
  EXPECT_EQ(shape_of(Linear(), "input"), "[B1..., m, d_in]");
}

TEST(SymbolicShapes, GivenInputShapesMakeKeysConcrete) {
  Model m;
  m |= Linear(3).connect({{"input", "input"}, {"weight", "weight"}, {"output", "hidden"}});
  m |= prim("Relu").connect({{"input", "hidden"}, {"output", IOKey{.name = "output", .expose = true}}});
  const FlatModel flat = flatten(m);
  SymbolicShapes s(flat);
  s.constrain(*flat.find("input"), Shape{8, 5}, "the input");
  EXPECT_EQ(s.concrete(*flat.find("weight")), (Shape{3, 5}));
  EXPECT_EQ(s.str(*flat.find("output")), "[8, 3]");
}

TEST(SymbolicShapes, BroadcastingFollowsNumPy) {
  Model m;
  m |= prim("Add").connect({{"left", "a"}, {"right", "b"}, {"output", IOKey{.name = "c", .expose = true}}});
  m.set_shapes({{"a", {"N", 1, 4}}, {"b", {3, 1}}});
  EXPECT_EQ(shape_of(m, "c"), "[N, 3, 4]");
}

TEST(SymbolicShapes, ConflictAtCompositionNamesKeyBlocksAndShapes) {
  Model m;
  m |= Linear(3).connect({{"input", "x"}, {"weight", "w"}, {"output", IOKey{.name = "y", .expose = true}}});
  EXPECT_EQ(error_of<ShapeError>([&] { m.set_shapes({{"w", {5, 2}}}); }),
            "[shapes] key 'w': [3, d_in] from set_shapes of 'm0' (Linear) conflicts with [5, 2] from set_shapes "
            "of Model: dim 0 is 3 vs 5");
}

TEST(SymbolicShapes, ConnectingIncompatibleBlocksFailsWhenAdded) {
  // The conflict is found when the shapes meet, naming both keys and where each shape came from.
  Model n;
  n |= prim("Add").connect({{"left", "a"}, {"right", "b"}, {"output", "c"}});
  n.set_shapes({{"a", {2, 3}}});
  EXPECT_EQ(error_of<ShapeError>([&] { n.set_shapes({{"b", {4, 3}}}); }),
            "[shapes] left and right of 'm0' (Add) cannot be broadcast: a is [2, 3] (from set_shapes of Model) "
            "and b is [4, 3] (from set_shapes of Model): dims 2 and 4 cannot be broadcast");
}

TEST(SymbolicShapes, VariadicTemplatesUnify) {
  Model m;
  m |= prim("Relu").connect({{"input", "x"}, {"output", IOKey{.name = "y", .expose = true}}});
  m.set_shapes({{"x", {"B,...", 7}}});
  m.set_shapes({{"y", {2, "B,..."}}});
  EXPECT_EQ(shape_of(m, "x"), "[2, ..., 7]");
}

TEST(SymbolicShapes, BuilderRulesRejectBadConcreteShapes) {
  Model m;
  m |= prim("MatrixMultiply").connect({{"left", "a"}, {"right", "b"}, {"output", IOKey{.name = "c", .expose = true}}});
  EXPECT_THROW(m.set_shapes({{"a", {2, 3}}, {"b", {4, 5}}}), ShapeError);
}

TEST(SymbolicShapes, RecurrentModelsDeriveTheirWeights) {
  const Model m = ManyToOne(prim("RNNCell"), 2);
  const FlatModel flat = flatten(m);
  const auto shapes = infer_missing_shapes(
      flat, {{"input0", {7, 1, 15}}, {"input1", {6, 1, 15}}, {"initial_hidden", {7, 1, 8}}, {"w_ho", {10, 8}}});
  EXPECT_EQ(shapes.at("w_ih"), (Shape{8, 15}));
  EXPECT_EQ(shapes.at("w_hh"), (Shape{8, 8}));
  EXPECT_EQ(shapes.at("bias_o"), (Shape{10}));
  EXPECT_EQ(shapes.at("hidden_concat"), (Shape{7, 1, 8}));
}

TEST(SymbolicShapes, LossTargetsDefaultToTheirInputsShape) {
  const FlatModel flat = flatten(prim("SquaredError"));
  EXPECT_EQ(infer_missing_shapes(flat, {{"input", {4, 2}}}).at("target"), (Shape{4, 2}));
}

TEST(SymbolicShapes, FlattenKeepsKnownDimsOfAPartlyKnownInput) {
  Model m;
  m |= prim("Flatten", {{"start_dim", 1}}).connect({{"input", "x"}, {"output", IOKey{.name = "y", .expose = true}}});
  Model a = m;
  a.set_shapes({{"x", {"N", 5, 20, 30}}});
  EXPECT_EQ(shape_of(a, "y"), "[N, 3000]");
  Model b = m;
  b.set_shapes({{"x", {8, "C", 20, 30}}});
  EXPECT_EQ(shape_of(b, "y"), "[8, _]");
  Model c = m;
  c.set_shapes({{"x", {8, 3, 2}}});
  c.set_shapes({{"y", {8, 6}}});
  EXPECT_EQ(shape_of(c, "y"), "[8, 6]");
  EXPECT_THROW(c.set_shapes({{"y", {8, 7}}}), ShapeError);
}

TEST(SymbolicShapes, ReductionsDropOrKeepTheirAxes) {
  EXPECT_EQ(shape_of(prim("Mean"), "output"), "[]");  // axis=None: a scalar whatever the input
  Model m;
  m |= prim("Sum", {{"axis", json{1, -1}}, {"keepdim", true}})
           .connect({{"input", "x"}, {"output", IOKey{.name = "y", .expose = true}}});
  m.set_shapes({{"x", {"N", 4, 5}}});
  EXPECT_EQ(shape_of(m, "y"), "[N, 1, 1]");
  Model n;
  n |= prim("Max", {{"axis", 0}}).connect({{"input", "x"}, {"output", IOKey{.name = "y", .expose = true}}});
  n.set_shapes({{"x", {3, "M", 5}}});
  EXPECT_EQ(shape_of(n, "y"), "[M, 5]");
}

TEST(SymbolicShapes, BroadcastingAKeyWithItselfKeepsItsShape) {
  // x + x has x's shape, so the output's shape determines the input's.
  Model m;
  m |= prim("Add").connect({{"left", "x"}, {"right", "x"}, {"output", IOKey{.name = "y", .expose = true}}});
  m.set_shapes({{"y", {3, "N"}}});
  EXPECT_EQ(shape_of(m, "x"), "[3, N]");
}

TEST(LeadingSlice, TakesTheFirstRowsOfTheLikeBatch) {
  const PhysicalModel pm = compile(prim("LeadingSlice"));
  const Tensor x = Tensor::from_doubles({1, 2, 3, 4, 5, 6}, {3, 2}, DType::f64);
  const Tensor like = Tensor::zeros({2, 7}, DType::f64);
  const DataMap out = pm.evaluate({{"input", x}, {"like", like}});
  EXPECT_EQ(out.at("output").tensor.shape(), (Shape{2, 2}));
  EXPECT_EQ(out.at("output").tensor.to_doubles(), (std::vector<double>{1, 2, 3, 4}));
  EXPECT_THROW(pm.evaluate({{"input", like}, {"like", x}}), ShapeError);
}

TEST(RecurrentModels, OneToManyFeedsEachOutputToTheNextStep) {
  const Model m = OneToMany(prim("RNNCell"), 3);
  CompileOptions opt;
  opt.inference = true;
  const PhysicalModel pm = compile(m, opt);
  EXPECT_EQ(pm.output_keys(), (std::vector<std::string>{"output0", "output1", "output2"}));
  EXPECT_EQ(pm.input_keys(), (std::vector<std::string>{"bias_h", "bias_o", "initial_hidden", "input", "target1",
                                                       "target2", "w_hh", "w_ho", "w_ih"}));
  // One step by hand: h = tanh(h0 w_hh^T + x w_ih^T + b_h), y = h w_ho^T + b_o (all 1-d here).
  auto t = [](double v, Shape s) { return Tensor::full(s, v, DType::f64); };
  const DataMap out = pm.evaluate({{"input", t(0.5, {2, 1, 1})}, {"initial_hidden", t(0.1, {2, 1, 1})},
                                   {"target1", t(0, {2, 1, 1})}, {"target2", t(0, {1, 1, 1})},
                                   {"w_ih", t(0.3, {1, 1})}, {"w_hh", t(0.2, {1, 1})}, {"w_ho", t(0.7, {1, 1})},
                                   {"bias_h", t(0.05, {1})}, {"bias_o", t(-0.1, {1})}});
  double h = 0.1, y = 0.5;
  for (int step = 0; step < 3; ++step) {
    h = std::tanh(h * 0.2 + y * 0.3 + 0.05);
    y = h * 0.7 - 0.1;
    EXPECT_NEAR(out.at("output" + std::to_string(step)).tensor.to_doubles()[0], y, 1e-15) << step;
  }
  EXPECT_EQ(out.at("output2").tensor.shape(), (Shape{1, 1, 1}));
}

}  // namespace
}  // namespace mithril::logical
