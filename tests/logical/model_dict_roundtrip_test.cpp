// Model-dict round trips of models built in C++: library models save as {"name", "args"} with
// their constructor arguments, and C++ -> dict -> load gives a model that saves the same and
// computes the same outputs and gradients.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "mithril/core/error.h"
#include "mithril/logical/flatten.h"
#include "mithril/logical/library.h"
#include "mithril/logical/model_dict.h"
#include "mithril/logical/shape_inference.h"
#include "mithril/runtime/compile.h"
#include "support/error_of.h"

namespace mithril {
namespace {

using logical::IOKey;
using logical::json;
using logical::Model;
using logical::prim;

// A model and the shapes of the inputs that fix the others (weights are derived from them).
struct Case {
  std::string name;
  Model model;
  std::map<std::string, Shape> shapes;
  std::map<std::string, Tensor> constants = {};  // static keys (EncoderDecoder's indices)
};

std::vector<Case> library_cases() {
  const Tensor indices = Tensor::from_doubles({2, 0, 3, 1}, {4}, DType::f64);
  return {
      {"Linear", logical::Linear(3), {{"input", {4, 2}}}},
      {"Linear", logical::Linear(std::nullopt, false), {{"input", {4, 2}}, {"weight", {5, 2}}}},
      {"Layer", logical::Layer(prim("Tanh"), 3), {{"input", {4, 2}}}},
      {"MLP", logical::MLP({prim("Sigmoid"), prim("Relu"), prim("Softplus")}, {3, 4, 2}), {{"input", {5, 2}}}},
      {"LayerNorm", logical::LayerNorm(), {{"input", {4, 3}}}},
      {"LayerNorm", logical::LayerNorm(false, true, 1e-3), {{"input", {4, 3}}}},
      {"ElementWiseAffine", logical::ElementWiseAffine(), {{"input", {4, 3}}, {"weight", {3}}, {"bias", {3}}}},
      {"LogisticRegression", logical::LogisticRegression(), {{"input", {4, 2}}}},
      {"LinearSVM", logical::LinearSVM(), {{"input", {4, 2}}}},
      {"KernelizedSVM",
       logical::KernelizedSVM(prim("RBFKernel")),
       {{"input1", {4, 2}}, {"input2", {5, 2}}, {"l_scale", {1}}, {"sigma", {1}}}},
      {"PolynomialRegression", logical::PolynomialRegression(2, 1), {{"input", {4, 2}}}},
      {"L1", logical::L1(), {{"input", {3, 2}}}},
      {"L2", logical::L2(), {{"input", {3, 2}}}},
      {"QuadraticFormRegularizer", logical::QuadraticFormRegularizer(), {{"input", {1, 3}}, {"kernel", {3, 3}}}},
      {"MDS", logical::MDS(2), {{"input", {4, 4}}, {"coords", {4, 2}}, {"norm", {}}}},
      {"MDS", logical::MDS(3, "points"), {{"input", {4, 2}}, {"coords", {4, 3}}, {"norm", {}}}},
      {"ManyToOne",
       logical::ManyToOne(prim("RNNCell"), 3),
       {{"input0", {4, 1, 3}}, {"input1", {3, 1, 3}}, {"input2", {1, 1, 3}}, {"initial_hidden", {4, 1, 5}}}},
      {"OneToMany",
       logical::OneToMany(prim("LSTMCell"), 3),
       {{"input", {4, 1, 2}},
        {"initial_hidden", {4, 1, 3}},
        {"target1", {3, 1, 2}},
        {"target2", {2, 1, 2}},
        {"w_f", {3, 5}},
        {"w_i", {3, 5}},
        {"w_c", {3, 5}},
        {"w_o", {3, 5}},
        {"w_out", {2, 3}}}},
      {"OneToMany",
       logical::OneToMany(prim("RNNCell"), 3, true),
       {{"input", {4, 1, 2}},
        {"initial_hidden", {4, 1, 3}},
        {"target0", {4, 1, 2}},
        {"target1", {3, 1, 2}},
        {"target2", {2, 1, 2}}}},
      {"EncoderDecoder",
       logical::EncoderDecoder(prim("RNNCell"), 2, 3),
       {{"input0", {4, 1, 3}},
        {"input1", {2, 1, 3}},
        {"initial_hidden", {4, 1, 5}},
        {"decoder_input", {4, 1, 3}},
        {"target1", {3, 1, 3}},
        {"target2", {1, 1, 3}}},
       {{"indices", indices}}},
  };
}

bool same_values(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  const std::vector<double> x = a.to_doubles(), y = b.to_doubles();
  for (size_t i = 0; i < x.size(); ++i)
    if (!(x[i] == y[i] || (std::isnan(x[i]) && std::isnan(y[i])))) return false;
  return true;
}

void expect_same_data(const DataMap& a, const DataMap& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (const auto& [k, v] : a) {
    ASSERT_TRUE(b.count(k)) << what << ": missing '" << k << "'";
    EXPECT_TRUE(same_values(v.tensor, b.at(k).tensor))
        << what << " '" << k << "': " << v.tensor.to_string() << " vs " << b.at(k).tensor.to_string();
  }
}

// C++ -> dict -> load -> dict is a fixed point, and both models compute the same outputs and
// gradients (cotangent 1 on every output) on random float64 inputs.
void expect_round_trip(const Model& cpp, const std::map<std::string, Shape>& shapes,
                       const std::map<std::string, Tensor>& constants, const std::string& what) {
  const json d = logical::model_to_dict(cpp);
  const Model loaded = logical::model_from_dict(d);
  EXPECT_EQ(logical::model_to_dict(loaded), d) << what;

  CompileOptions opt;
  for (const auto& [k, t] : constants) opt.constant_tensors[k] = Data(t);
  const PhysicalModel a = compile(cpp, opt), b = compile(loaded, opt);
  EXPECT_EQ(a.input_keys(), b.input_keys()) << what;
  EXPECT_EQ(a.trainable_keys(), b.trainable_keys()) << what;
  EXPECT_EQ(a.output_keys(), b.output_keys()) << what;

  std::map<std::string, Shape> known = shapes;
  for (const auto& [k, t] : constants) known[k] = t.shape();
  const std::map<std::string, Shape> derived = logical::infer_missing_shapes(a.flat_model(), known, [] { return 3; });
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal;
  DataMap inputs;
  for (const std::string& k : a.input_keys()) {
    const auto s = known.count(k) ? known.find(k) : derived.find(k);
    ASSERT_NE(s, derived.end()) << what << ": no shape for input '" << k << "'";
    std::vector<double> v(static_cast<size_t>(numel(s->second)));
    for (double& x : v) x = std::fabs(normal(rng)) + 0.1;  // positive: distances, norms, scales
    inputs[k] = Data(Tensor::from_doubles(v, s->second, DType::f64));
  }
  const DataMap outputs = a.evaluate(inputs);
  expect_same_data(outputs, b.evaluate(inputs), what + " outputs");
  DataMap cotangents;
  for (const auto& [k, v] : outputs) cotangents[k] = Data(Tensor::full(v.tensor.shape(), 1.0, DType::f64));
  const PhysicalModel::Result ra = a.evaluate(inputs, cotangents), rb = b.evaluate(inputs, cotangents);
  expect_same_data(ra.gradients, rb.gradients, what + " gradients");
}

TEST(ModelDictRoundTrip, EveryLibraryModelSavesItsConstructorArguments) {
  for (const Case& c : library_cases()) {
    const json d = logical::model_to_dict(c.model);
    const std::string what = c.name + " " + d.dump();
    EXPECT_EQ(d.at("name"), c.name) << what;
    EXPECT_FALSE(d.contains("submodels")) << what;
    expect_round_trip(c.model, c.shapes, c.constants, what);
  }
}

TEST(ModelDictRoundTrip, ArgumentsAreWrittenAsMithrilWritesThem) {
  EXPECT_EQ(logical::model_to_dict(logical::Linear(3)),
            json::parse(R"({"name": "Linear", "args": {"dimension": 3, "use_bias": true}})"));
  EXPECT_EQ(logical::model_to_dict(logical::Linear()),
            json::parse(R"({"name": "Linear", "args": {"dimension": null, "use_bias": true}})"));
  EXPECT_EQ(logical::model_to_dict(logical::MLP({prim("Tanh"), prim("Softmax", {{"axis", 0}})}, {3, 2})),
            json::parse(R"({"name": "MLP", "args": {"activations": [{"name": "Tanh"},
                              {"name": "Softmax", "args": {"axis": 0}}], "dimensions": [3, 2]}})"));
  EXPECT_EQ(logical::model_to_dict(logical::EncoderDecoder(prim("LSTMCell"), 2, 3, true)),
            json::parse(R"({"name": "EncoderDecoder", "args": {"cell_type": {"name": "LSTMCell"},
                              "max_input_sequence_length": 2, "max_target_sequence_length": 3,
                              "teacher_forcing": true}})"));
  EXPECT_EQ(logical::model_to_dict(logical::L2()), json::parse(R"({"name": "L2"})"));
  // A dict loaded from JSON saves the same as the model built in C++.
  const json from_json = json::parse(R"({"name": "linear", "args": {"dimension": 3}})");
  EXPECT_EQ(logical::model_to_dict(logical::model_from_dict(from_json)), logical::model_to_dict(logical::Linear(3)));
}

TEST(ModelDictRoundTrip, ModelValuedArgumentsKeepTheirOwnStructure) {
  // A hand-composed activation is an argument saved as a composite model dict.
  Model act;
  act += prim("Relu");
  act += prim("Tanh");
  const Model layer = logical::Layer(act, 2);
  const json d = logical::model_to_dict(layer);
  EXPECT_EQ(d.at("args").at("activation").at("name"), "Model");
  EXPECT_EQ(d.at("args").at("activation").at("submodels").size(), 2u);
  expect_round_trip(layer, {{"input", {3, 4}}}, {}, "Layer of a composite");
  // Arguments are written when saving: an activation that cannot be saved still builds a
  // Layer, and saving names what it cannot write.
  Model unsaveable;
  unsaveable |= logical::Linear(2).connect({{"input", "x"}});
  unsaveable.set_differentiability(logical::SubPort{"m0", "input"}, true);
  const Model built = logical::Layer(unsaveable, 2);
  EXPECT_EQ(testing::error_of<ValueError>([&] { logical::model_to_dict(built); }),
            "[model dict] cannot save the differentiability of 'm0.input': not a primitive port");
  expect_round_trip(logical::KernelizedSVM(prim("PolynomialKernel")),
                    {{"input1", {4, 2}}, {"input2", {5, 2}}, {"poly_coef", {}}, {"degree", {}}}, {},
                    "KernelizedSVM(PolynomialKernel)");
}

TEST(ModelDictRoundTrip, NestedCompositeOfLibraryModels) {
  Model block;
  block += logical::Linear(4).connect({{"input", "x"}, {"weight", "w0"}, {"bias", "b0"}});
  block += prim("Relu");
  block += logical::LayerNorm().connect({{"weight", "ln_w"}, {"bias", "ln_b"}});
  Model m;
  m |= block.connect({{"x", "input"}, {"w0", "w0"}});
  m += logical::MLP({prim("Sigmoid"), prim("Tanh")}, {3, 2}).connect({{"output", IOKey{.name = "y", .expose = true}}});
  m |= logical::L2().connect({{"input", "w0"}, {"output", IOKey{.name = "reg", .expose = true}}});
  const json d = logical::model_to_dict(m);
  EXPECT_EQ(d.at("submodels").at("m0").at("name"), "Model");
  EXPECT_EQ(d.at("submodels").at("m0").at("submodels").at("m0"),
            json::parse(R"({"name": "Linear", "args": {"dimension": 4, "use_bias": true}})"));
  EXPECT_EQ(d.at("submodels").at("m1").at("name"), "MLP");
  expect_round_trip(m, {{"input", {5, 3}}}, {}, "nested composite");
}

TEST(ModelDictRoundTrip, AssignedShapesAndDifferentiabilitiesSurvive) {
  Model lin = logical::Linear(3);
  lin.set_shapes({{"input", {8, 2}}});
  lin.set_differentiability("input", true);
  lin.set_differentiability(logical::SubPort{"matmul", "left"}, true);
  const json d = logical::model_to_dict(lin);
  EXPECT_EQ(d, json::parse(R"({"name": "Linear", "args": {"dimension": 3, "use_bias": true},
                               "assigned_shapes": [[["input", [8, 2]]]],
                               "assigned_differentiabilities": [["input", true], [["matmul", 0], true]]})"));
  const Model loaded = logical::model_from_dict(d);
  const PhysicalModel pm = compile(loaded);
  EXPECT_EQ(pm.trainable_keys(), (std::vector<std::string>{"bias", "input", "weight"}));
  EXPECT_EQ(pm.infer_shapes({{"input", {8, 2}}, {"weight", {3, 2}}, {"bias", {3}}}).at("output").shape, (Shape{8, 3}));
  // An assigned shape is checked against the constructor's own again when loading.
  const json conflict = json::parse(R"({"name": "Linear", "args": {"dimension": 3},
                                         "assigned_shapes": [[["weight", [4, 2]]]]})");
  EXPECT_THROW(logical::model_from_dict(conflict), ShapeError);
  expect_round_trip(lin, {{"input", {8, 2}}}, {}, "Linear with assigned shape and differentiability");

  // In a composite: a library submodel's own assignments and the parent's.
  Model m;
  m |= lin.connect({{"input", "x"}, {"weight", "w"}, {"bias", "b"}, {"output", IOKey{.name = "y", .expose = true}}});
  m |= logical::LogisticRegression().connect({{"input", "y"}, {"weight", "w2"}, {"bias", "b2"}, {"probs_output", "p"}});
  m.set_differentiability("w2", false);
  m.expose({"p"});
  const json md = logical::model_to_dict(m);
  EXPECT_EQ(md.at("submodels").at("m0"), d);
  EXPECT_EQ(md.at("assigned_differentiabilities"), json::parse(R"([["w2", false]])"));
  expect_round_trip(m, {{"x", {8, 2}}}, {}, "composite with assignments");
  EXPECT_EQ(compile(logical::model_from_dict(md)).trainable_keys(), (std::vector<std::string>{"b", "b2", "w", "x"}));
}

TEST(ModelDictRoundTrip, ChangedLibraryModelIsSavedAsItsInternals) {
  // Adding to a library model makes it a composite that its arguments no longer describe.
  Model m = logical::Linear(2);
  m += prim("Relu").connect({{"output", IOKey{.name = "y", .expose = true}}});
  const json d = logical::model_to_dict(m);
  EXPECT_EQ(d.at("name"), "Model");
  EXPECT_FALSE(d.contains("args"));
  EXPECT_EQ(d.at("submodels").size(), 4u);
  expect_round_trip(m, {{"input", {3, 4}}}, {}, "Linear += Relu");
  // A renamed one too: its name no longer says which constructor the arguments are for.
  Model renamed = logical::Linear(2);
  renamed.set_name("Projection");
  EXPECT_EQ(logical::model_to_dict(renamed).at("name"), "Model");
  expect_round_trip(renamed, {{"input", {3, 4}}}, {}, "renamed Linear");
  Model relu = prim("Relu");
  relu.set_name("Activation");
  EXPECT_EQ(logical::model_to_dict(relu), json::parse(R"({"name": "Relu"})"));
}

}  // namespace
}  // namespace mithril
