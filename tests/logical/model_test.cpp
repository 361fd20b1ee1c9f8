// Composition, flattening (Mithril key naming), compile/evaluate, and model-dict round trips.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "mithril/core/error.h"
#include "mithril/io/json_tensor.h"
#include "mithril/logical/flatten.h"
#include "mithril/logical/library.h"
#include "mithril/logical/model_dict.h"
#include "mithril/runtime/compile.h"
#include "support/gradcheck.h"

namespace mithril {
namespace {

using logical::Connection;
using logical::IOKey;
using logical::json;
using logical::Model;
using testing::expect_close;

std::vector<std::string> sorted_keys(const logical::FlatModel& flat) {
  std::vector<std::string> keys;
  for (const auto& [k, e] : flat.keys) keys.push_back(k);
  return keys;
}

TEST(Flatten, LinearUsesMithrilKeyNames) {
  const logical::FlatModel flat = logical::flatten(logical::Linear(3));
  EXPECT_EQ(sorted_keys(flat), (std::vector<std::string>{"axes", "bias", "input", "output", "output_0", "output_1", "weight"}));
  ASSERT_EQ(flat.calls.size(), 3u);
  EXPECT_EQ(flat.calls[0].def.name, "Transpose");
  EXPECT_EQ(flat.calls[2].def.name, "Add");
  ASSERT_EQ(flat.outputs.size(), 1u);
  EXPECT_EQ(flat.name(flat.outputs[0]), "output");
  EXPECT_TRUE(flat.is_differentiable(*flat.find("weight")));
  EXPECT_FALSE(flat.is_differentiable(*flat.find("input")));
}

TEST(Compose, PlusEqualsWiresCanonicalOutputToInput) {
  Model m;
  m += logical::Linear(4).connect({{"input", "x"}, {"weight", "w0"}, {"bias", "b0"}});
  m += Model::primitive("Relu");
  m += logical::Linear(2).connect({{"weight", "w1"}, {"bias", "b1"}, {"output", IOKey{.name = "y", .expose = true}}});
  const PhysicalModel pm = compile(m);
  EXPECT_EQ(pm.output_keys(), (std::vector<std::string>{"y"}));
  EXPECT_EQ(pm.input_keys(), (std::vector<std::string>{"b0", "b1", "w0", "w1", "x"}));
  EXPECT_EQ(pm.trainable_keys(), (std::vector<std::string>{"b0", "b1", "w0", "w1"}));
  DataMap in;
  in["x"] = Tensor::from_doubles({1, -2}, {1, 2}, DType::f64);
  in["w0"] = Tensor::from_doubles({1, 0, 0, 1, 1, 1, -1, -1}, {4, 2}, DType::f64);
  in["b0"] = Tensor::from_doubles({0, 0, 0, 0}, {4}, DType::f64);
  in["w1"] = Tensor::from_doubles({1, 1, 1, 1, 0, 1, 0, 1}, {2, 4}, DType::f64);
  in["b1"] = Tensor::from_doubles({0.5, 0}, {2}, DType::f64);
  // hidden = relu([1, -2, -1, 1]) = [1, 0, 0, 1]; y = [1+0+0+1 + 0.5, 0+0+0+1] = [2.5, 1]
  expect_close(pm.evaluate(in).at("y").tensor, {2.5, 1});
}

TEST(Compose, UnknownPortIsAnErrorNamingModelAndKey) {
  Model m;
  m |= Model::primitive("Relu").connect({{"inputt", "x"}});
  try {
    logical::flatten(m);
    FAIL();
  } catch (const KeyError& e) {
    EXPECT_STREQ(e.what(), "[Model] submodel 'm0' (Relu) has no key 'inputt'");
  }
}

TEST(Compose, ConflictingFixedValuesAreAnError) {
  Model m;
  m |= Model::primitive("Add").connect({{"left", IOKey{.name = "a", .value = json(1.0)}}, {"right", "b"}});
  m |= Model::primitive("Add").connect({{"left", IOKey{.name = "a", .value = json(2.0)}}, {"right", "b"}});
  try {
    logical::flatten(m);
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_STREQ(e.what(), "Possible values mismatch!");
  }
}

TEST(Compile, ModelWithoutOutputsIsRejected) {
  try {
    compile(Model());
    FAIL();
  } catch (const KeyError& e) {
    EXPECT_STREQ(e.what(), "Models with no output keys can not be compiled.");
  }
}

TEST(Compile, MissingAndUnknownInputsAreNamed) {
  const PhysicalModel pm = compile(Model::primitive("Add"));
  try {
    pm.evaluate({{"left", Tensor::scalar(1, DType::f64)}});
    FAIL();
  } catch (const KeyError& e) {
    EXPECT_STREQ(e.what(), "[evaluate] missing input 'right'");
  }
  try {
    pm.evaluate({{"left", Tensor::scalar(1, DType::f64)}, {"right", Tensor::scalar(1, DType::f64)},
                 {"lefty", Tensor::scalar(1, DType::f64)}});
    FAIL();
  } catch (const KeyError& e) {
    EXPECT_STREQ(e.what(), "[evaluate] 'lefty' is not a key of the model");
  }
}

TEST(Compile, InputOfTheWrongKindIsAnError) {
  const Tensor x = Tensor::from_doubles({1, 2}, {2}, DType::f64);
  // A tensor key fed a list (empty or not), and a list key fed a tensor.
  const PhysicalModel add = compile(Model::primitive("Add"));
  for (const std::vector<Tensor>& list : {std::vector<Tensor>{}, std::vector<Tensor>{x, x}}) {
    try {
      add.evaluate({{"left", Data(list)}, {"right", x}});
      FAIL();
    } catch (const ValueError& e) {
      EXPECT_STREQ(e.what(), "[evaluate] input 'left' must be a tensor, not a list");
    }
  }
  const PhysicalModel concat = compile(Model::primitive("Concat"));
  try {
    concat.evaluate({{"input", x}});
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_STREQ(e.what(), "[evaluate] input 'input' must be a list of tensors");
  }
  expect_close(concat.evaluate({{"input", Data(std::vector<Tensor>{x, x})}}).at("output").tensor,
               Tensor::from_doubles({1, 2, 1, 2}, {4}, DType::f64));
}

TEST(Compile, InputContradictingAConstantKeyIsAnError) {
  CompileOptions opt;
  opt.constant_keys["right"] = json::array({1.0, 2.0});
  const PhysicalModel pm = compile(Model::primitive("Add"), opt);
  const Tensor left = Tensor::from_doubles({1, 1}, {2}, DType::f64);
  expect_close(pm.evaluate({{"left", left}, {"right", Tensor::from_doubles({1, 2}, {2}, DType::f64)}}).at("output").tensor,
               {2, 3});
  try {
    pm.evaluate({{"left", left}, {"right", Tensor::from_doubles({1, 5}, {2}, DType::f64)}});
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_STREQ(e.what(), "Possible values mismatch!");
  }
}

TEST(Compile, DiscardKeysPruneWhatOnlyFedThem) {
  Model m;
  m |= Model::primitive("Multiply").connect({{"left", "a"}, {"right", "b"}, {"output", IOKey{.name = "p", .expose = true}}});
  m |= Model::primitive("Add").connect({{"left", "c"}, {"right", "d"}, {"output", IOKey{.name = "s", .expose = true}}});
  CompileOptions opt;
  opt.discard_keys = {"s"};
  const PhysicalModel pm = compile(m, opt);
  EXPECT_EQ(pm.output_keys(), (std::vector<std::string>{"p"}));
  EXPECT_EQ(pm.input_keys(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(pm.discarded_keys(), (std::vector<std::string>{"c", "d", "s"}));
}

TEST(Compile, DiscardedOutputReadByAnotherCallStaysInternal) {
  // `p` is an output that also feeds `q`: discarding both drops them from the outputs, but `p`
  // only becomes internal (Mithril's non-leaf rule), so it and its inputs are not discarded.
  Model m;
  m |= Model::primitive("Multiply").connect({{"left", "a"}, {"right", "b"}, {"output", IOKey{.name = "p", .expose = true}}});
  m |= Model::primitive("Add").connect({{"left", "p"}, {"right", "c"}, {"output", IOKey{.name = "q", .expose = true}}});
  CompileOptions opt;
  opt.discard_keys = {"p", "q"};
  const PhysicalModel pm = compile(m, opt);
  EXPECT_TRUE(pm.output_keys().empty());
  EXPECT_EQ(pm.discarded_keys(), (std::vector<std::string>{"c", "q"}));
  opt.discard_keys = {"p"};
  const PhysicalModel kept = compile(m, opt);
  EXPECT_EQ(kept.output_keys(), (std::vector<std::string>{"q"}));
  EXPECT_TRUE(kept.discarded_keys().empty());
}

TEST(Compile, GradientsMatchFiniteDifferencesThroughALibraryModel) {
  CompileOptions opt;
  const PhysicalModel pm = compile(logical::MLP({Model::primitive("Tanh"), Model::primitive("Sigmoid")}, {3, 2}), opt);
  DataMap in;
  in["input"] = testing::random_tensor({4, 2}, DType::f64, 1);
  in["weight0"] = testing::random_tensor({3, 2}, DType::f64, 2);
  in["bias0"] = testing::random_tensor({3}, DType::f64, 3);
  in["weight1"] = testing::random_tensor({2, 3}, DType::f64, 4);
  in["bias1"] = testing::random_tensor({2}, DType::f64, 5);
  const Tensor ct = testing::random_tensor({4, 2}, DType::f64, 6);
  const auto r = pm.evaluate(in, {{"output", ct}});
  for (const std::string key : {"weight0", "bias1"}) {
    const Tensor g = r.gradients.at(key).tensor;
    Tensor x = in.at(key).tensor.clone();
    for (int64_t j = 0; j < x.numel(); ++j) {
      auto objective = [&](double delta) {
        DataMap moved = in;
        Tensor xm = x.clone();
        xm.data<double>()[j] += delta;
        moved[key] = xm;
        const std::vector<double> o = pm.evaluate(moved).at("output").tensor.to_doubles(), c = ct.to_doubles();
        double s = 0;
        for (size_t i = 0; i < o.size(); ++i) s += o[i] * c[i];
        return s;
      };
      const double numeric = (objective(1e-6) - objective(-1e-6)) / 2e-6;
      EXPECT_NEAR(g.to_doubles()[static_cast<size_t>(j)], numeric, 1e-8) << key << "[" << j << "]";
    }
  }
}

TEST(ModelDict, CppModelAndJsonModelAgree) {
  // The model dict shown in README.md.
  const Model from_json = logical::load_model_dict(std::string(MITHRIL_SOURCE_DIR) + "/examples/linear_relu.json");
  Model cpp;
  cpp |= logical::Linear(2).connect({{"input", "x"}, {"weight", "w"}, {"bias", "b"}});
  cpp += Model::primitive("Relu").connect({{"output", IOKey{.name = "y", .expose = true}}});
  DataMap in;
  in["x"] = Tensor::from_doubles({1, 2}, {1, 2}, DType::f64);
  in["w"] = Tensor::from_doubles({1, 1, -1, -1}, {2, 2}, DType::f64);
  in["b"] = Tensor::from_doubles({0.5, 0.5}, {2}, DType::f64);
  const Tensor a = compile(from_json).evaluate(in).at("y").tensor;
  const Tensor b = compile(cpp).evaluate(in).at("y").tensor;
  expect_close(a, {3.5, 0});
  expect_close(b, a.to_doubles(), 0, 0);
}

TEST(ModelDict, ErrorsNameTheFieldAndPath) {
  try {
    logical::model_from_dict(json::parse(R"({"name": "Model", "submodels": {"m1": {"name": "Linear", "args": {"dimensoin": 2}}}})"));
    FAIL();
  } catch (const AttributeError& e) {
    EXPECT_STREQ(e.what(), "[model dict] model.submodels.m1: [Linear] unknown argument 'dimensoin' (valid: dimension, use_bias)");
  }
  try {
    logical::model_from_dict(json::parse(R"({"name": "Model", "submodelz": {}})"));
    FAIL();
  } catch (const KeyError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("[model dict] model: unknown field 'submodelz' (valid: args, ", 0), 0u) << e.what();
  }
  EXPECT_THROW(logical::load_model_dict("/nonexistent/model.json"), ValueError);
}

// save -> load -> save is a fixed point for every model of the conformance files.
TEST(ModelDict, SaveLoadSaveIsAFixedPoint) {
  const std::filesystem::path dir = MITHRIL_CONFORMANCE_DIR;
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "conformance files not found at " << dir;
  int checked = 0;
  for (const char* file : {"models_directed_test.json", "integration_directed_test.json", "no_grad_inference_test.json",
                           "discard_keys_directed_test.json"}) {
    std::ifstream in(dir / file);
    const json cases = json::parse(in);
    for (const auto& [name, c] : cases.items()) {
      if (!c.contains("model")) continue;
      Model m;
      try {
        m = logical::model_from_dict(c.at("model"));
      } catch (const Error&) {
        continue;  // models outside the library are reported by the conformance runner
      }
      const json first = logical::model_to_dict(m);
      const json second = logical::model_to_dict(logical::model_from_dict(first));
      EXPECT_EQ(first, second) << file << " " << name;
      ++checked;
    }
  }
  EXPECT_GT(checked, 250);
}

}  // namespace
}  // namespace mithril
