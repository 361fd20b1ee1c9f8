// The primitive model library: registry behaviour, port lists, the paths that build formulas
// from ops for computed port values, and the golden conformance cases of single primitives
// (primitives_directed_test.json and the primitive cases of models_directed_test.json).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cctype>
#include <set>

#include "mithril/backends/cpu/executor.h"
#include "mithril/core/error.h"
#include "mithril/graph/autodiff.h"
#include "mithril/io/json_tensor.h"
#include "mithril/logical/primitive.h"
#include "support/gradcheck.h"

namespace mithril::logical {
namespace {


using testing::expect_close;

std::vector<std::string> port_names(const PrimitiveDef& def) {
  std::vector<std::string> names;
  for (const PortDef& p : def.ports) names.push_back(p.name);
  return names;
}

// Builds `def` with the given tensors on its ports and evaluates its output.
Tensor evaluate(const PrimitiveDef& def, const std::map<std::string, Tensor>& tensors) {
  Graph g;
  PortValues in;
  std::vector<Tensor> feed;
  for (const auto& [name, t] : tensors) {
    in[name].tensor = g.input(name, t.shape(), t.dtype());
    feed.push_back(t);
  }
  const Var out = def.build(g, in).at("output");
  return cpu::run_graph(g, {out}, feed)[0];
}

// ---------------------------------------------------------------------------------------------
// Registry

TEST(PrimitiveRegistry, LookupIsCaseInsensitive) {
  EXPECT_EQ(make_primitive("sigmoid").name, "Sigmoid");
  EXPECT_EQ(make_primitive("BUFFER").name, "Buffer");
  EXPECT_TRUE(is_primitive("softmax"));
  EXPECT_TRUE(is_primitive("Convolution2D"));
  EXPECT_FALSE(is_primitive("Linear"));  // a composite model, built elsewhere
  EXPECT_FALSE(is_primitive("Foo"));
}

TEST(PrimitiveRegistry, UnknownModelIsKeyError) {
  try {
    make_primitive("Foo");
    FAIL() << "expected KeyError";
  } catch (const KeyError& e) {
    EXPECT_STREQ(e.what(), "unknown model 'Foo' (closest: Floor)");
  }
}

TEST(PrimitiveRegistry, UnknownArgumentIsAttributeError) {
  try {
    make_primitive("Softmax", {{"foo", 1}});
    FAIL() << "expected AttributeError";
  } catch (const AttributeError& e) {
    EXPECT_STREQ(e.what(), "[Softmax] unknown argument 'foo' (valid: input, axis)");
  }
  // `threshold` is a port of Sqrt only when robust.
  EXPECT_THROW(make_primitive("Sqrt", {{"threshold", 1e-20}}), AttributeError);
  EXPECT_NO_THROW(make_primitive("Sqrt", {{"robust", true}, {"threshold", 1e-20}}));
}

TEST(PrimitiveRegistry, ListsEveryPrimitiveAndNoComposite) {
  const std::vector<std::string> names = primitive_names();
  const std::set<std::string> have(names.begin(), names.end());
  for (const char* n :
       {"Add", "Subtract", "Multiply", "Divide", "FloorDivide", "ShiftLeft", "ShiftRight", "Power", "MatrixMultiply",
        "Exponential", "Sine", "Cosine", "Tanh", "Sigmoid", "Absolute", "Sign", "Square", "Negate", "Relu", "Softplus",
        "Buffer", "StopGradient", "Sqrt", "Log", "StableReciprocal", "LeakyRelu", "Gelu", "Softmax", "Where",
        "Transpose", "PermuteTensor", "SwapAxes", "Squeeze", "TransposedDiagonal", "Concat", "Flatten", "Sum", "Mean",
        "Max", "Min", "Prod", "Variance", "SquaredError", "AbsoluteError", "HingeLoss", "QuadHingeLoss",
        "QuantileLoss", "KLDivergence", "CrossEntropy", "BinaryCrossEntropy", "Embedding", "Convolution1D",
        "Convolution2D", "MaxPool1D", "MaxPool2D", "AvgPool2D", "DistanceMatrix", "NormModifier",
        "PolynomialFeatures", "EncoderDistanceMatrix", "MDSCore", "TSNECore", "RBFKernel", "PolynomialKernel",
        "ToList", "Eye", "EyeComplement", "Ones", "ScaledDotProduct", "RNNCell", "LSTMCell", "LeadingSlice",
        "Minimum", "Maximum", "Equal", "NotEqual", "Less", "LessEqual", "Greater", "GreaterEqual", "LogicalAnd",
        "LogicalOr", "LogicalXOr", "LogicalNot", "Floor", "Shape", "Size", "Indexer", "Reshape", "BroadcastTo",
        "ToTuple", "Cast", "Arange", "ZerosLike", "OnesLike", "AtLeast1D", "ArgMax", "ArgMin", "IsNan", "NanToNum",
        "Clamp", "SiLU"})
    EXPECT_TRUE(have.count(n)) << n;
  EXPECT_EQ(names.size(), 102u);
  for (const char* n : {"Linear", "Layer", "MLP", "LayerNorm", "LogisticRegression", "MDS", "TSNE", "L1", "L2"})
    EXPECT_FALSE(have.count(n)) << n;
}

TEST(PrimitiveRegistry, PortsFollowMithrilOrder) {
  using V = std::vector<std::string>;
  EXPECT_EQ(port_names(make_primitive("Add")), (V{"left", "right", "output"}));
  EXPECT_EQ(port_names(make_primitive("Divide")), (V{"numerator", "denominator", "output"}));
  EXPECT_EQ(port_names(make_primitive("Power")), (V{"base", "exponent", "output"}));
  EXPECT_EQ(port_names(make_primitive("Power", {{"robust", true}})), (V{"base", "exponent", "threshold", "output"}));
  EXPECT_EQ(port_names(make_primitive("Sum")), (V{"input", "axis", "keepdim", "output"}));
  EXPECT_EQ(port_names(make_primitive("Variance")), (V{"input", "axis", "keepdim", "correction", "output"}));
  EXPECT_EQ(port_names(make_primitive("CrossEntropy")),
            (V{"input", "target", "weights", "categorical", "threshold", "robust", "output"}));
  EXPECT_EQ(port_names(make_primitive("BinaryCrossEntropy")),
            (V{"input", "target", "pos_weight", "threshold", "robust", "output"}));
  EXPECT_EQ(port_names(make_primitive("Where")), (V{"cond", "input1", "input2", "output"}));
  EXPECT_EQ(port_names(make_primitive("Convolution2D", {{"kernel_size", 3}, {"out_channels", 2}})),
            (V{"input", "weight", "stride", "padding", "dilation", "bias", "output"}));
  EXPECT_EQ(port_names(make_primitive("Convolution1D", {{"kernel_size", 3}, {"use_bias", false}})),
            (V{"input", "weight", "stride", "padding", "dilation", "output"}));
  EXPECT_EQ(port_names(make_primitive("TSNECore")), (V{"distances", "pred_distances", "p_joint", "output"}));

  const PrimitiveDef ce = make_primitive("CrossEntropy");
  EXPECT_EQ(ce.input_names(), (V{"input", "target", "weights", "categorical", "threshold", "robust"}));
  EXPECT_EQ(ce.output_names(), (V{"output"}));
  EXPECT_EQ(ce.port("target")->elem, PortDef::Elem::integer);
  EXPECT_EQ(ce.port("weights")->kind, PortKind::scalar_input);
  EXPECT_EQ(ce.port("nope"), nullptr);
  EXPECT_TRUE(make_primitive("Embedding").port("weight")->differentiable);
  EXPECT_EQ(make_primitive("Concat").port("input")->kind, PortKind::tensor_list_input);
}

TEST(PrimitiveRegistry, ArgumentsNamingPortsSetTheirDefaults) {
  const PrimitiveDef softmax = make_primitive("Softmax", {{"axis", 0}});
  EXPECT_EQ(*softmax.port("axis")->default_value, json(0));
  EXPECT_EQ(*make_primitive("Softmax").port("axis")->default_value, json(-1));
  EXPECT_EQ(*make_primitive("LeakyRelu").port("slope")->default_value, json(0.01));
  EXPECT_EQ(*make_primitive("LeakyRelu", {{"slope", 0.2}}).port("slope")->default_value, json(0.2));
  EXPECT_TRUE(make_primitive("Sum").port("axis")->default_value->is_null());
}

TEST(PrimitiveRegistry, BuildErrorsNameTheModelAndPort) {
  Graph g;
  PortValues in;
  in["left"].tensor = g.input("left", {2}, DType::f64);
  try {
    make_primitive("Add").build(g, in);
    FAIL() << "expected KeyError";
  } catch (const KeyError& e) {
    EXPECT_STREQ(e.what(), "[Add] port 'right' is not connected");
  }
  PortValues sq;
  sq["input"].tensor = g.input("x", {2}, DType::f64);
  sq["threshold"].tensor = g.input("thr", {}, DType::f64);
  try {
    make_primitive("Sqrt", {{"robust", true}}).build(g, sq);
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    EXPECT_STREQ(e.what(), "[Sqrt] port 'threshold' must be a constant");
  }
  PortValues bad = in;
  bad["right"].tensor = g.input("right", {2}, DType::f64);
  bad["middle"].tensor = g.input("middle", {2}, DType::f64);
  EXPECT_THROW(make_primitive("Add").build(g, bad), KeyError);
  try {
    make_primitive("TSNECore", {{"calculate_p_joint", true}});
    FAIL() << "expected AttributeError";
  } catch (const AttributeError& e) {
    EXPECT_STREQ(e.what(), "[TSNECore] calculate_p_joint=True is not supported yet: give p_joint");
  }
  try {
    make_primitive("CrossEntropy", {{"input_type", "odds"}});
    FAIL() << "expected AttributeError";
  } catch (const AttributeError& e) {
    EXPECT_STREQ(e.what(), "[CrossEntropy] input_type must be 'logits', 'probs' or 'log_probs', got 'odds'");
  }
}

// ---------------------------------------------------------------------------------------------
// Port values known only as graph values: formulas built from ops instead of op attributes.

TEST(PrimitiveValues, ComputedSlopeMatchesConstantSlope) {
  const Tensor x = Tensor::from_doubles({-2.0, 0.0, 3.0}, {3}, DType::f64);
  const Tensor slope = Tensor::scalar(0.2, DType::f64);
  expect_close(evaluate(make_primitive("LeakyRelu"), {{"input", x}, {"slope", slope}}), {-0.4, 0.0, 3.0});
  // The gradient is the slope at 0, as with the leaky_relu op.
  testing::expect_gradients_match(
      [](Graph& g, const std::vector<Var>& v) {
        PortValues in;
        in["input"].tensor = v[0];
        in["slope"].tensor = v[1];
        return std::vector<Var>{make_primitive("LeakyRelu").build(g, in).at("output")};
      },
      {Tensor::from_doubles({-2.0, -0.5, 3.0}, {3}, DType::f64), slope});
}

TEST(PrimitiveValues, ComputedQuantileMatchesConstantQuantile) {
  const Tensor x = Tensor::from_doubles({1.0, 2.0, 0.0, 1.0}, {2, 2}, DType::f64);
  const Tensor t = Tensor::from_doubles({1.0, 0.0, 2.0, -1.0}, {2, 2}, DType::f64);
  const Tensor constant = evaluate(make_primitive("QuantileLoss", {{"quantile", 0.4}}), {{"input", x}, {"target", t}});
  const Tensor computed = evaluate(make_primitive("QuantileLoss"),
                                   {{"input", x}, {"target", t}, {"quantile", Tensor::scalar(0.4, DType::f64)}});
  expect_close(computed, constant, 1e-15, 1e-15);
}

// "auto" weights from a constant target (computed while building) and from a graph input agree.
TEST(PrimitiveValues, AutoWeightsFromConstantAndComputedTargetsAgree) {
  const Tensor x = Tensor::from_doubles({0.5, -1.0, 2.0, 0.1, 0.3, 0.7, -0.2, 1.5, 0.0}, {3, 3}, DType::f64);
  const Tensor t = Tensor::from_doubles({0, 2, 2}, {3}, DType::f64);
  const PrimitiveDef ce = make_primitive("CrossEntropy", {{"weights", "auto"}});
  Graph g;
  PortValues in;
  in["input"].tensor = g.input("input", x.shape(), DType::f64);
  in["target"].tensor = g.constant(t);
  const Var from_constant = ce.build(g, in).at("output");
  in["target"].tensor = g.input("target", t.shape(), DType::f64);
  const Var from_input = ce.build(g, in).at("output");
  const auto out = cpu::run_graph(g, {from_constant, from_input}, {x, t});
  expect_close(out[1], out[0], 1e-15, 1e-15);
  // Class 0 occurs once in three targets (weight 3), class 2 twice (weight 1.5).
  const Tensor plain = evaluate(make_primitive("CrossEntropy"), {{"input", x}, {"target", t}});
  expect_close(out[0], {3.0 * plain.at({0}), 1.5 * plain.at({1}), 1.5 * plain.at({2})}, 1e-15, 1e-15);
}

TEST(PrimitiveValues, AutoPosWeightFromConstantAndComputedTargetsAgree) {
  for (const char* type : {"logits", "probs"}) {
    const Tensor x = Tensor::from_doubles({0.2, 0.7, 0.4, 0.9}, {1, 4}, DType::f64);
    const Tensor t = Tensor::from_doubles({0, 1, 0, 0}, {1, 4}, DType::f64);
    const PrimitiveDef bce = make_primitive("BinaryCrossEntropy", {{"input_type", type}, {"pos_weight", "auto"}});
    Graph g;
    PortValues in;
    in["input"].tensor = g.input("input", x.shape(), DType::f64);
    in["target"].tensor = g.constant(t);
    const Var from_constant = bce.build(g, in).at("output");
    in["target"].tensor = g.input("target", t.shape(), DType::f64);
    const Var from_input = bce.build(g, in).at("output");
    const Var explicit_weight = make_primitive("BinaryCrossEntropy", {{"input_type", type}, {"pos_weight", 3.0}})
                                    .build(g, in)
                                    .at("output");  // mean(t) = 1/4 -> (1 - 1/4) / (1/4) = 3
    const auto out = cpu::run_graph(g, {from_constant, from_input, explicit_weight}, {x, t});
    expect_close(out[0], out[2], 1e-15, 1e-15);
    expect_close(out[1], out[2], 1e-14, 1e-15);
  }
}

TEST(PrimitiveValues, IndexAndConditionPortsConvertFloatData) {
  const Tensor x = Tensor::from_doubles({1, 2, 3, 4, 5, 6}, {3, 2}, DType::f64);
  // A computed (non-constant) float index tensor is rounded too.
  expect_close(evaluate(make_primitive("PermuteTensor"),
                        {{"input", x}, {"indices", Tensor::from_doubles({2.0, 0.0, 1.0}, {3}, DType::f64)}}),
               {5, 6, 1, 2, 3, 4});
  expect_close(evaluate(make_primitive("Where"), {{"cond", Tensor::from_doubles({1.0, 0.0}, {2}, DType::f64)},
                                                  {"input1", Tensor::from_doubles({1, 2}, {2}, DType::f64)},
                                                  {"input2", Tensor::from_doubles({3, 4}, {2}, DType::f64)}}),
               {1, 4});
}

TEST(PrimitiveValues, PolynomialFeaturesEnumerateMonomials) {
  const Tensor x = Tensor::from_doubles({2, 3}, {1, 2}, DType::f64);
  const PrimitiveDef def = make_primitive("PolynomialFeatures", {{"degree", 3}});
  // 1, x1, x2 with replacement, size 3, minus the all-ones term:
  // x1, x2, x1^2, x1 x2, x2^2, x1^3, x1^2 x2, x1 x2^2, x2^3
  expect_close(evaluate(def, {{"input", x}}), {2, 3, 4, 6, 9, 8, 12, 18, 27});
}

TEST(PrimitiveValues, NormModifierIsPeriodicTriangle) {
  const Tensor n = Tensor::from_doubles({1, 2, 3, 5, 6, 9, -1}, {7}, DType::f64);
  expect_close(evaluate(make_primitive("NormModifier"), {{"input", n}}), {1, 2, 3, 5, 4, 1, 3});
}

// Primitives the golden files do not exercise, against hand-computed NumPy results.
TEST(PrimitiveValues, PrimitivesOutsideTheGoldenFiles) {
  const Tensor m = Tensor::from_doubles({1, -2, 0, 4}, {2, 2}, DType::f64);
  expect_close(evaluate(make_primitive("Sign"), {{"input", m}}), {1, -1, 0, 1});
  expect_close(evaluate(make_primitive("Square"), {{"input", m}}), {1, 4, 0, 16});
  expect_close(evaluate(make_primitive("Negate"), {{"input", m}}), {-1, 2, 0, -4});
  const Tensor diag = evaluate(make_primitive("TransposedDiagonal"), {{"input", m}});
  EXPECT_EQ(diag.shape(), (Shape{2, 1}));
  expect_close(diag, {1, 4});

  const Tensor x = Tensor::from_doubles({0, 1, 2, 3, 4, 5}, {1, 2, 1, 3}, DType::f64);
  const Tensor squeezed = evaluate(make_primitive("Squeeze"), {{"input", x}});
  EXPECT_EQ(squeezed.shape(), (Shape{2, 3}));
  const Tensor swapped = evaluate(make_primitive("SwapAxes", {{"axis1", 1}, {"axis2", 3}}), {{"input", x}});
  EXPECT_EQ(swapped.shape(), (Shape{1, 3, 1, 2}));
  expect_close(swapped, {0, 3, 1, 4, 2, 5});

  // |l - r|^p summed over features; NormModifier maps 2 to 2, so the encoder gives sqrt of it.
  const Tensor left = Tensor::from_doubles({0, 0, 1, 2}, {2, 2}, DType::f64);
  const Tensor right = Tensor::from_doubles({3, 4}, {1, 2}, DType::f64);
  const Tensor two = Tensor::scalar(2.0, DType::f64);
  expect_close(evaluate(make_primitive("DistanceMatrix"), {{"left", left}, {"right", right}, {"norm", two}}), {25, 8});
  expect_close(evaluate(make_primitive("EncoderDistanceMatrix"), {{"input1", left}, {"input2", right}, {"norm", two}}),
               {5, std::sqrt(8.0)});

  // Average pooling divides by the window size; stride defaults to the kernel size.
  const Tensor img = Tensor::from_doubles({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, {1, 4, 4}, DType::f64);
  expect_close(evaluate(make_primitive("AvgPool2D", {{"kernel_size", 2}}), {{"input", img}}), {3.5, 5.5, 11.5, 13.5});
  expect_close(evaluate(make_primitive("MaxPool2D", {{"kernel_size", 2}}), {{"input", img}}), {6, 8, 14, 16});
}

TEST(PrimitiveValues, ConvolutionPaddingForms) {
  const Tensor x = testing::random_tensor({1, 1, 5, 5}, DType::f64, 3);
  const Tensor w = testing::random_tensor({1, 1, 3, 3}, DType::f64, 4);
  const auto conv = [&](json padding) {
    return evaluate(make_primitive("Convolution2D", {{"kernel_size", 3}, {"use_bias", false}, {"padding", padding}}),
                    {{"input", x}, {"weight", w}});
  };
  const Tensor same = conv("SAME");
  expect_close(conv(1), same);
  expect_close(conv(json::array({1, 1})), same);
  expect_close(conv(json::array({json::array({1, 1}), json::array({1, 1})})), same);
  EXPECT_EQ(conv("VALID").shape(), (Shape{1, 1, 3, 3}));
  EXPECT_EQ(conv(json::array({json::array({0, 1}), json::array({1, 1})})).shape(), (Shape{1, 1, 4, 5}));
}

}  // namespace
}  // namespace mithril::logical
