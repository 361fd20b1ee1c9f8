// TrainModel: hand-computed training objectives (losses, reduce steps, combiner, regularizers with
// the size normalisation of conformance README section 3), gradients of final_cost against finite
// differences and errors. The integration_directed_test.json cases run through `mithril
// conformance` (ctest conformance.integration_directed_test).
#include "mithril/logical/train_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

#include "mithril/core/error.h"
#include "mithril/io/json_tensor.h"
#include "mithril/logical/flatten.h"
#include "mithril/logical/library.h"
#include "mithril/runtime/compile.h"

namespace mithril::logical {
namespace {

Tensor f64(const std::vector<double>& values, const Shape& shape) {
  return Tensor::from_doubles(values, shape, DType::f64);
}

json tensor_json(const Tensor& t) { return io::tensor_to_json(t); }

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// The README's worked check (integration test_linear_10_two_reg_groups).
TrainModel linear_two_reg_groups() {
  TrainModel tm(Linear());
  tm.add_loss({prim("SquaredError"), "output", "target", {prim("Mean")}});
  tm.add_regularization({L2(), json{{"tensor", 0.1}}, "weight"});
  tm.add_regularization({L1(), 0.1, "weight"});
  return tm;
}

CompileOptions linear_data() {
  CompileOptions o;
  o.constant_keys = {{"input", json{{0.1, 0.1}, {0.2, 0.2}, {0.3, 0.2}}}, {"target", json{{1.0}, {2.0}, {3.0}}}};
  return o;
}

TEST(TrainModel, WorkedCheckTwoRegularizationGroups) {
  const PhysicalModel pm = compile(linear_two_reg_groups().build(), linear_data());
  EXPECT_EQ(sorted(pm.output_keys()), (std::vector<std::string>{"final_cost", "output"}));
  EXPECT_EQ(pm.trainable_keys(), (std::vector<std::string>{"bias", "weight"}));
  const auto r = pm.evaluate({{"weight", f64({2, 1}, {1, 2})}, {"bias", f64({0.2}, {1})}},
                             {{"final_cost", Tensor::scalar(1.0, DType::f64)}});
  const Tensor& cost = r.outputs.at("final_cost").tensor;
  EXPECT_EQ(cost.shape(), Shape{});
  // MSE = (0.25 + 1.44 + 4) / 3; L2(w) = 2.5, L1(w) = 3, D = 3 (the Mean reduces 3 elements).
  EXPECT_NEAR(cost.item(), 5.69 / 3 + 0.1 * (2.5 + 3) / 3, 1e-14);
  EXPECT_NEAR(cost.item(), 2.08, 1e-14);
  const std::vector<double> out = r.outputs.at("output").tensor.to_doubles();
  EXPECT_NEAR(out[0], 0.5, 1e-15);
  EXPECT_NEAR(out[1], 0.8, 1e-15);
  EXPECT_NEAR(out[2], 1.0, 1e-15);
  // d/dw = 2/3 * sum(r_i x_i) + 0.1/3 * (w + sign(w)), residuals r = (-0.5, -1.2, -2.0).
  const std::vector<double> gw = r.gradients.at("weight").tensor.to_doubles();
  EXPECT_NEAR(gw[0], 2.0 / 3 * -0.89 + 0.1 / 3 * 3, 1e-14);
  EXPECT_NEAR(gw[1], 2.0 / 3 * -0.69 + 0.1 / 3 * 2, 1e-14);
  EXPECT_NEAR(r.gradients.at("bias").tensor.item(), 2.0 / 3 * -3.7, 1e-14);
}

TEST(TrainModel, SingleLossWithoutRegularizationIsTheReducedLoss) {
  TrainModel tm(Linear());
  tm.add_loss({prim("SquaredError"), "output", "target", {}});  // no steps: Mean
  const PhysicalModel pm = compile(tm.build(), linear_data());
  const DataMap out = pm.evaluate({{"weight", f64({2, 1}, {1, 2})}, {"bias", f64({0.2}, {1})}});
  EXPECT_NEAR(out.at("final_cost").tensor.item(), 5.69 / 3, 1e-15);
}

TEST(TrainModel, SumStepsDoNotNormaliseRegularizers) {
  TrainModel tm(Linear());
  tm.add_loss({prim("SquaredError"), "output", "target", {prim("Sum")}});
  tm.add_regularization({L2(), 0.1, "weight"});
  const PhysicalModel pm = compile(tm.build(), linear_data());
  const DataMap out = pm.evaluate({{"weight", f64({2, 1}, {1, 2})}, {"bias", f64({0.2}, {1})}});
  EXPECT_NEAR(out.at("final_cost").tensor.item(), 5.69 + 0.1 * 2.5, 1e-14);
}

// Two outputs with two losses (combiner Mean): an axis-0 Mean then Sum on `out` [N,2] and a full
// Mean on `hidden` [N,H]; regularizers by regex on w0, w1 and by name on b1. D(w0) is the geometric
// mean sqrt(N * N*H) over both losses; D(w1) = D(b1) = N: only the first loss depends on them, and
// its Mean reduces axis 0 only.
Model two_layer_model() {
  Model m;
  m.add(Layer(prim("Tanh")), {{"input", "input"}, {"weight", "w0"}, {"bias", "b0"}, {"output", "hidden"}}, "l0");
  m.add(Linear(), {{"input", "hidden"}, {"weight", "w1"}, {"bias", "b1"}, {"output", "out"}}, "l1");
  m.expose({"hidden", "out"});
  return m;
}

TrainModel two_loss_training() {
  TrainModel tm(two_layer_model());
  tm.add_loss({prim("SquaredError"), "out", "y", {prim("Mean", {{"axis", 0}}), prim("Sum")}});
  tm.add_loss({prim("Buffer"), "hidden", std::nullopt, {}});
  tm.add_regularization({L2(), 0.1, "w\\d", true});
  tm.add_regularization({L1(), 0.2, "b1"});
  tm.set_loss_combiner(prim("Mean"));
  return tm;
}

const int64_t kN = 4, kIn = 2, kHidden = 3;

DataMap two_loss_params() {
  return {{"w0", f64({0.3, -0.2, 0.5, 0.1, -0.4, 0.25}, {kHidden, kIn})},
          {"b0", f64({0.1, -0.2, 0.05}, {kHidden})},
          {"w1", f64({0.7, -0.3, 0.2, -0.1, 0.6, 0.35}, {2, kHidden})},
          {"b1", f64({0.15, -0.05}, {2})}};
}

CompileOptions two_loss_data() {
  CompileOptions o;
  o.constant_keys = {{"input", json{{0.5, -1.0}, {1.5, 0.2}, {-0.3, 0.8}, {0.9, 0.4}}},
                     {"y", json{{0.2, 0.1}, {-0.1, 0.3}, {0.4, -0.2}, {0.3, 0.0}}}};
  return o;
}

double sum_of(const Tensor& t, double (*f)(double)) {
  double s = 0;
  for (double v : t.to_doubles()) s += f(v);
  return s;
}

TEST(TrainModel, CombinerAndGeometricMeanNormalisation) {
  const PhysicalModel pm = compile(two_loss_training().build(), two_loss_data());
  EXPECT_EQ(sorted(pm.output_keys()), (std::vector<std::string>{"final_cost", "hidden", "out"}));
  EXPECT_EQ(pm.trainable_keys(), (std::vector<std::string>{"b0", "b1", "w0", "w1"}));
  const DataMap params = two_loss_params();
  const DataMap out = pm.evaluate(params);
  const std::vector<double> o = out.at("out").tensor.to_doubles();
  const std::vector<double> y = {0.2, 0.1, -0.1, 0.3, 0.4, -0.2, 0.3, 0.0};
  double l1 = 0;  // Mean(axis 0) of [N,2], then Sum
  for (size_t i = 0; i < y.size(); ++i) l1 += (o[i] - y[i]) * (o[i] - y[i]) / kN;
  const double l2 = sum_of(out.at("hidden").tensor, [](double v) { return v; }) / (kN * kHidden);
  const double sq_w0 = sum_of(params.at("w0").tensor, [](double v) { return v * v; });
  const double sq_w1 = sum_of(params.at("w1").tensor, [](double v) { return v * v; });
  const double expected = (l1 + l2) / 2 + 0.1 * 0.5 * sq_w0 / std::sqrt(double(kN) * double(kN * kHidden)) +
                          0.1 * 0.5 * sq_w1 / kN + 0.2 * (0.15 + 0.05) / kN;
  EXPECT_NEAR(out.at("final_cost").tensor.item(), expected, 1e-14);
}

TEST(TrainModel, GradientOfFinalCostMatchesFiniteDifferences) {
  const PhysicalModel pm = compile(two_loss_training().build(), two_loss_data());
  const DataMap params = two_loss_params();
  const auto r = pm.evaluate(params, {{"final_cost", Tensor::scalar(1.0, DType::f64)}});
  ASSERT_EQ(r.gradients.size(), params.size());
  const double eps = 1e-6;
  for (const auto& [key, data] : params) {
    const std::vector<double> grad = r.gradients.at(key).tensor.to_doubles();
    const std::vector<double> base = data.tensor.to_doubles();
    for (size_t i = 0; i < base.size(); ++i) {
      auto cost_at = [&](double delta) {
        DataMap shifted = params;
        std::vector<double> v = base;
        v[i] += delta;
        shifted[key] = f64(v, data.tensor.shape());
        return pm.evaluate(shifted).at("final_cost").tensor.item();
      };
      const double numeric = (cost_at(eps) - cost_at(-eps)) / (2 * eps);
      EXPECT_NEAR(grad[i], numeric, 1e-6 * std::max(1.0, std::abs(numeric))) << key << "[" << i << "]";
    }
  }
}

TEST(TrainModel, DiscardedOutputStillFeedsTheLoss) {
  TrainModel tm(LogisticRegression());
  tm.add_loss({prim("BinaryCrossEntropy", {{"input_type", "probs"}}), "probs_output", "target", {}});
  CompileOptions o = linear_data();
  o.constant_keys["target"] = json{{1.0}, {0.0}, {1.0}};
  o.discard_keys = {"probs_output"};
  const PhysicalModel pm = compile(tm.build(), o);
  EXPECT_EQ(sorted(pm.output_keys()), (std::vector<std::string>{"final_cost", "output"}));
  const DataMap out = pm.evaluate({{"weight", f64({2, 1}, {1, 2})}, {"bias", f64({0.2}, {1})}});
  const std::vector<double> logits = out.at("output").tensor.to_doubles(), t = {1, 0, 1};
  double bce = 0;
  for (size_t i = 0; i < 3; ++i) {
    const double p = 1 / (1 + std::exp(-logits[i]));
    bce -= (t[i] * std::log(p) + (1 - t[i]) * std::log(1 - p)) / 3;
  }
  EXPECT_NEAR(out.at("final_cost").tensor.item(), bce, 1e-14);
}

TEST(TrainModel, LossOnUnknownOutputIsKeyError) {
  TrainModel tm(Linear());
  tm.add_loss({prim("SquaredError"), "prediction", "target", {}});
  try {
    tm.build();
    FAIL() << "expected KeyError";
  } catch (const KeyError& e) {
    EXPECT_STREQ(e.what(), "[TrainModel] the model has no output 'prediction' to attach a loss to");
  }
}

TEST(TrainModel, LossOnAnInternalKeyReadsANewInput) {
  // Mithril (error_test test_Composite_assertion_error): a user composite exposing nothing has no
  // output keys; its internal keys are not keys of the training model, so a loss on `output`
  // reads a new input `output`, which evaluation then lacks.
  Model m;
  m.add(Linear(), {{"input", "input"}, {"output", "output"}}, "linear");
  TrainModel tm(m);
  tm.add_loss({prim("SquaredError"), "output", "target", {}});
  const PhysicalModel pm = compile(tm.build(), linear_data());
  EXPECT_EQ(pm.output_keys(), (std::vector<std::string>{"final_cost"}));
  try {
    pm.evaluate({});
    FAIL() << "expected KeyError";
  } catch (const KeyError& e) {
    EXPECT_STREQ(e.what(), "[evaluate] missing input 'output'");
  }
  m.expose({"output"});
  TrainModel exposed(m);
  exposed.add_loss({prim("SquaredError"), "output", "target", {}});
  EXPECT_EQ(sorted(compile(exposed.build(), linear_data()).output_keys()),
            (std::vector<std::string>{"final_cost", "output"}));
}

TEST(TrainModel, RegularizationOfUnknownKeyIsKeyError) {
  TrainModel tm(Linear());
  tm.add_loss({prim("SquaredError"), "output", "target", {}});
  tm.add_regularization({L1(), 0.1, "kernel"});
  try {
    tm.build();
    FAIL() << "expected KeyError";
  } catch (const KeyError& e) {
    EXPECT_STREQ(e.what(), "[TrainModel] the model has no key 'kernel' to regularize");
  }
}

TEST(TrainModel, MissingTargetIsAMissingInput) {
  CompileOptions o;
  o.constant_keys = {{"input", json{{0.1, 0.1}}}};
  const PhysicalModel pm = compile(linear_two_reg_groups().build(), o);
  try {
    pm.evaluate({{"weight", f64({2, 1}, {1, 2})}, {"bias", f64({0.2}, {1})}});
    FAIL() << "expected KeyError";
  } catch (const KeyError& e) {
    EXPECT_STREQ(e.what(), "[evaluate] missing input 'target'");
  }
}

TEST(Flatten, SetDifferentiabilityMarksPorts) {
  Model add = prim("Add");
  add.set_differentiability("left", true);
  const FlatModel flat = flatten(add);
  EXPECT_TRUE(flat.is_differentiable(*flat.find("left")));
  EXPECT_FALSE(flat.is_differentiable(*flat.find("right")));
}

TEST(Flatten, ParentNamesReplaceSubmodelNames) {
  // Linear names its Add output `output`; the parent's name `y` is the key, and the Linear inside
  // Layer keeps no name of its own (its output is anonymous in the parent: named by origin).
  Model m;
  m.add(Layer(prim("Relu")), {{"input", "x"}, {"weight", "w"}, {"bias", "b"}, {"output", "y"}}, "layer");
  const FlatModel flat = flatten(m);
  ASSERT_EQ(flat.outputs.size(), 1u);
  EXPECT_EQ(flat.name(flat.outputs[0]), "y");
  std::vector<std::string> names;
  for (const PrimCall& c : flat.calls)
    for (const auto& [port, e] : c.ports) names.push_back(flat.name(e));
  EXPECT_EQ(std::count(names.begin(), names.end(), "output"), 0);
  EXPECT_EQ(std::count(names.begin(), names.end(), "weight"), 0);
}

TEST(Flatten, AnonymousKeysAreNamedAfterTheirProducer) {
  // README section 5: a fully discarded Linear has keys axes, bias, input, output, output_0,
  // output_1, weight: the Transpose and MatrixMultiply outputs keep the origin `output` although
  // they were connected into consumer ports (`right`, `left`).
  const FlatModel flat = flatten(Linear());
  std::vector<std::string> keys;
  for (const auto& [name, e] : flat.keys) keys.push_back(name);
  EXPECT_EQ(keys, (std::vector<std::string>{"axes", "bias", "input", "output", "output_0", "output_1", "weight"}));
}

}  // namespace
}  // namespace mithril::logical
