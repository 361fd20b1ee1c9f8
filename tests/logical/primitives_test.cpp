// The primitive model library: registry behaviour, port lists, the paths that build formulas
// from ops for computed port values, and the golden conformance cases of single primitives
// (primitives_directed_test.json and the primitive cases of models_directed_test.json).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

#include "mithril/backends/cpu/executor.h"
#include "mithril/core/error.h"
#include "mithril/graph/autodiff.h"
#include "mithril/io/json_tensor.h"
#include "mithril/runtime/conformance.h"
#include "mithril/logical/primitive.h"
#include "support/gradcheck.h"

namespace mithril::logical {
namespace {

using conformance::Comparison;
using conformance::compare_golden;
using conformance::expected_value;
using conformance::from_legacy_primitive_case;
using conformance::is_upstream_skipped;

using testing::expect_close;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

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
    EXPECT_STREQ(e.what(), "unknown model 'Foo'");
  }
}

TEST(PrimitiveRegistry, UnknownArgumentIsAttributeError) {
  try {
    make_primitive("Softmax", {{"foo", 1}});
    FAIL() << "expected AttributeError";
  } catch (const AttributeError& e) {
    EXPECT_STREQ(e.what(), "[Softmax] unknown argument 'foo'");
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
        "ToList", "Eye", "EyeComplement", "Ones", "ScaledDotProduct", "RNNCell", "LSTMCell"})
    EXPECT_TRUE(have.count(n)) << n;
  EXPECT_EQ(names.size(), 71u);
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

// ---------------------------------------------------------------------------------------------
// Conformance: single-primitive golden cases (README sections 1.1 and 9).

std::filesystem::path conformance_dir() { return MITHRIL_CONFORMANCE_DIR; }

json load_json(const std::filesystem::path& p) {
  std::ifstream f(p);
  return json::parse(f);
}

// Composite models of the logical layer: their cases belong to the model runner.
bool is_composite_model(const std::string& name) {
  static const std::set<std::string> names = {
      "model", "linear", "layer", "mlp", "layernorm", "logisticregression", "linearsvm", "kernelizedsvm",
      "polynomialregression", "mds", "tsne", "rnncell", "lstmcell", "l1", "l2", "quadraticformregularizer",
      "elementwiseaffine", "gaussprocessregressioncore"};
  return names.count(lower(name)) > 0;
}

std::string model_name(const json& model) {
  return model.is_string() ? model.get<std::string>() : model.value("name", std::string());
}

// Runs one common-format case whose model is a single primitive; returns "" when it passes
// or the reason it fails.
std::string run_primitive_case(const json& c) {
  const json& model = c.at("model");
  const json args = model.is_object() ? model.value("args", json::object()) : json::object();
  const PrimitiveDef def = make_primitive(model_name(model), args);

  Graph g;
  PortValues ports;
  std::vector<Tensor> feed;
  std::vector<std::string> wrt_names;  // key, or key#i for list entries
  std::vector<Var> wrt;
  const json inputs = c.value("inputs", json::object());
  const bool is_list = inputs.value("is_list", false);
  for (const auto& [key, value] : inputs.items()) {
    if (key == "is_list") continue;
    const PortDef* p = def.port(key);
    if (p == nullptr || p->kind == PortKind::output || p->kind == PortKind::scalar_input)
      return fmt::format("input '{}' is not a tensor input port of {}", key, def.name);
    const bool list = p->kind == PortKind::tensor_list_input;
    if (list != is_list) return fmt::format("input '{}': is_list does not match the port", key);
    const json items = list ? value : json::array({value});
    for (size_t i = 0; i < items.size(); ++i) {
      const Tensor t = io::tensor_from_json(items[i], DType::f64);
      const Var v = g.input(list ? fmt::format("{}#{}", key, i) : key, t.shape(), DType::f64);
      feed.push_back(t);
      wrt.push_back(v);
      wrt_names.push_back(list ? fmt::format("{}#{}", key, i) : key);
      if (list) {
        ports[key].tensors.push_back(v);
      } else {
        ports[key].tensor = v;
      }
    }
  }
  const json statics = c.value("static_keys", json::object());
  for (const auto& [key, value] : statics.items()) {
    const PortDef* p = def.port(key);
    if (p == nullptr || p->kind == PortKind::output) return fmt::format("static key '{}' is not an input port", key);
    if (p->kind == PortKind::tensor_list_input) {
      for (const json& item : value) ports[key].tensors.push_back(g.constant(io::tensor_from_json(item, DType::f64)));
    } else {
      if (p->kind == PortKind::tensor_input) ports[key].tensor = g.constant(io::tensor_from_json(value, DType::f64));
      ports[key].scalar = value;
    }
  }

  std::map<std::string, Var> outputs = def.build(g, ports);
  for (const json& k : c.value("discard_keys", json::array())) outputs.erase(k.get<std::string>());
  const json& results = c.at("results");
  std::set<std::string> expected_keys, actual_keys;
  for (const auto& [k, v] : results.at("eval").items()) expected_keys.insert(k);
  for (const auto& [k, v] : outputs) actual_keys.insert(k);
  if (expected_keys != actual_keys)
    return fmt::format("output keys {} but expected {}", fmt::join(actual_keys, ","), fmt::join(expected_keys, ","));

  std::vector<Var> out_vars;
  std::vector<std::string> out_names;
  for (const auto& [k, v] : outputs) {
    out_vars.push_back(v);
    out_names.push_back(k);
  }
  const bool check_grads = results.contains("grad") && c.contains("output_grads");
  std::vector<std::optional<Var>> grads;
  if (check_grads) {
    std::vector<std::optional<Var>> cts;
    const json& og = c.at("output_grads");
    for (const std::string& k : out_names) {
      if (!og.contains(k)) {
        cts.emplace_back(std::nullopt);
        continue;
      }
      const Tensor t = io::tensor_from_json(og.at(k), DType::f64);
      cts.emplace_back(g.input("cotangent:" + k, t.shape(), DType::f64));
      feed.push_back(t);
    }
    grads = vjp(g, out_vars, cts, wrt);
    std::set<std::string> grad_keys, input_keys;
    for (const auto& [k, v] : results.at("grad").items()) grad_keys.insert(k);
    for (const auto& [k, v] : inputs.items())
      if (k != "is_list") input_keys.insert(k);
    if (grad_keys != input_keys)
      return fmt::format("gradient keys {} but inputs {}", fmt::join(grad_keys, ","), fmt::join(input_keys, ","));
  }

  std::vector<Var> targets = out_vars;
  for (const auto& gv : grads)
    if (gv) targets.push_back(*gv);
  const std::vector<Tensor> values = cpu::run_graph(g, targets, feed);

  for (size_t i = 0; i < out_names.size(); ++i) {
    const Comparison cmp = compare_golden(values[i], results.at("eval").at(out_names[i]));
    if (!cmp.ok) return fmt::format("output '{}': {}", out_names[i], cmp.reason);
  }
  if (!check_grads) return {};
  size_t next = out_vars.size();
  for (size_t i = 0; i < wrt.size(); ++i) {
    const Tensor grad = grads[i] ? values[next++] : Tensor::zeros(wrt[i].shape(), DType::f64);
    const std::string& name = wrt_names[i];
    const auto hash = name.find('#');
    const json& expected_all = results.at("grad").at(name.substr(0, hash));
    const json& expected = hash == std::string::npos
                               ? expected_all
                               : expected_value(expected_all).at(std::stoul(name.substr(hash + 1)));
    const Comparison cmp = compare_golden(grad, expected);
    if (!cmp.ok) return fmt::format("gradient '{}': {}", name, cmp.reason);
  }
  return {};
}

struct Tally {
  int passed = 0, skipped = 0, excluded = 0;
  std::vector<std::string> failures;
};

std::string summary(const std::string& file, const Tally& t) {
  return fmt::format("{}: {} passed, {} failed, {} skipped (upstream), {} not primitive cases", file, t.passed,
                     t.failures.size(), t.skipped, t.excluded);
}

// Runs every case of `file`; `legacy` selects the primitives_directed format.
Tally run_file(const std::string& file, bool legacy) {
  Tally tally;
  const json cases = load_json(conformance_dir() / file);
  for (const auto& [name, raw] : cases.items()) {
    if (is_upstream_skipped(file, name)) {
      ++tally.skipped;
      continue;
    }
    const json& model = raw.at("model");
    const std::string mname = model_name(model);
    if (!legacy && (model.is_object() && model.contains("submodels") || !is_primitive(mname))) {
      // Only composites may be left to the model runner: a primitive missing here is a failure.
      if (is_composite_model(mname)) {
        ++tally.excluded;
      } else {
        tally.failures.push_back(fmt::format("{}: unknown model '{}'", name, mname));
      }
      continue;
    }
    std::string reason;
    try {
      reason = run_primitive_case(legacy ? from_legacy_primitive_case(raw) : raw);
    } catch (const std::exception& e) {
      reason = fmt::format("error: {}", e.what());
    }
    if (reason.empty()) {
      ++tally.passed;
    } else {
      tally.failures.push_back(fmt::format("{}: {}", name, reason));
    }
  }
  return tally;
}

void check_file(const std::string& file, bool legacy) {
  if (!std::filesystem::exists(conformance_dir() / file))
    GTEST_SKIP() << "conformance suite not found at " << conformance_dir();
  const Tally t = run_file(file, legacy);
  std::cout << "[conformance] " << summary(file, t) << "\n";
  ::testing::Test::RecordProperty("summary", summary(file, t));
  for (const std::string& f : t.failures) ADD_FAILURE() << f;
}

TEST(PrimitiveConformance, PrimitivesDirected) { check_file("primitives_directed_test.json", true); }

TEST(PrimitiveConformance, ModelsDirectedPrimitiveCases) { check_file("models_directed_test.json", false); }

}  // namespace
}  // namespace mithril::logical
