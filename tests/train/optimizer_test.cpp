// Optimizers, learning-rate schedules and gradient clipping against independent scalar
// implementations of the textbook update equations (float64, several steps).
#include "mithril/train/optimizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "mithril/core/error.h"
#include "mithril/train/grad_clip.h"
#include "mithril/train/lr_schedule.h"

namespace mithril::train {
namespace {

// Gradients that change from step to step: g_t[i] = sin(0.7 * t + i) + 0.3 * p[i].
double grad_at(int t, size_t i, double p) { return std::sin(0.7 * t + static_cast<double>(i)) + 0.3 * p; }

// Runs `steps` updates of a 4-element parameter with the optimizer and with `scalar`, which
// updates one element given (p, g, t, state) with t starting at 1.
using ScalarRule = std::function<void(double& p, double g, int t, std::vector<double>& state)>;

void compare(const OptimizerConfig& config, const ScalarRule& scalar, int steps = 6, double lr = 0.05) {
  const std::vector<double> init = {0.5, -1.25, 2.0, 0.0};
  TensorMap params = {{"w", Tensor::from_doubles(init, {4}, DType::f64)}};
  Optimizer opt(config);
  std::vector<double> ref = init;
  std::vector<std::vector<double>> state(4, std::vector<double>(2, 0.0));
  for (int t = 1; t <= steps; ++t) {
    const std::vector<double> cur = params.at("w").to_doubles();
    std::vector<double> g(4);
    for (size_t i = 0; i < 4; ++i) g[i] = grad_at(t, i, cur[i]);
    opt.step(params, {{"w", Tensor::from_doubles(g, {4}, DType::f64)}}, lr);
    for (size_t i = 0; i < 4; ++i) scalar(ref[i], grad_at(t, i, ref[i]), t, state[i]);
    const std::vector<double> got = params.at("w").to_doubles();
    for (size_t i = 0; i < 4; ++i)
      ASSERT_NEAR(got[i], ref[i], 1e-13 * std::max(1.0, std::fabs(ref[i]))) << config.name << " step " << t << " elem " << i;
  }
  EXPECT_EQ(opt.steps(), steps);
}

TEST(Optimizer, PlainSgd) {
  OptimizerConfig c;
  c.name = "sgd";
  compare(c, [](double& p, double g, int, std::vector<double>&) { p = p - 0.05 * g; });
}

TEST(Optimizer, SgdMomentumDampeningWeightDecay) {
  OptimizerConfig c;
  c.name = "sgd";
  c.momentum = 0.9;
  c.dampening = 0.1;
  c.weight_decay = 0.01;
  compare(c, [](double& p, double g, int t, std::vector<double>& s) {
    const double d = g + 0.01 * p;
    s[0] = t == 1 ? d : 0.9 * s[0] + 0.9 * d;  // first step: buffer = gradient
    p = p - 0.05 * s[0];
  });
}

TEST(Optimizer, SgdNesterov) {
  OptimizerConfig c;
  c.name = "sgd";
  c.momentum = 0.8;
  c.nesterov = true;
  compare(c, [](double& p, double g, int t, std::vector<double>& s) {
    s[0] = t == 1 ? g : 0.8 * s[0] + g;
    p = p - 0.05 * (g + 0.8 * s[0]);
  });
}

TEST(Optimizer, AdamWithL2) {
  OptimizerConfig c;
  c.name = "adam";
  c.beta1 = 0.8;
  c.beta2 = 0.95;
  c.eps = 1e-6;
  c.weight_decay = 0.1;
  compare(c, [](double& p, double g, int t, std::vector<double>& s) {
    g = g + 0.1 * p;
    s[0] = 0.8 * s[0] + 0.2 * g;
    s[1] = 0.95 * s[1] + 0.05 * g * g;
    const double m_hat = s[0] / (1 - std::pow(0.8, t)), v_hat = s[1] / (1 - std::pow(0.95, t));
    p = p - 0.05 * m_hat / (std::sqrt(v_hat) + 1e-6);
  });
}

TEST(Optimizer, AdamWDecoupledDecay) {
  OptimizerConfig c;
  c.name = "adamw";
  c.weight_decay = 0.2;
  compare(c, [](double& p, double g, int t, std::vector<double>& s) {
    p = p * (1 - 0.05 * 0.2);
    s[0] = 0.9 * s[0] + 0.1 * g;
    s[1] = 0.999 * s[1] + 0.001 * g * g;
    p = p - 0.05 * (s[0] / (1 - std::pow(0.9, t))) / (std::sqrt(s[1] / (1 - std::pow(0.999, t))) + 1e-8);
  });
}

TEST(Optimizer, RmsPropPlainAndMomentum) {
  OptimizerConfig c;
  c.name = "rmsprop";
  c.alpha = 0.9;
  compare(c, [](double& p, double g, int, std::vector<double>& s) {
    s[0] = 0.9 * s[0] + 0.1 * g * g;
    p = p - 0.05 * g / (std::sqrt(s[0]) + 1e-8);
  });
  c.momentum = 0.5;
  c.weight_decay = 0.05;
  compare(c, [](double& p, double g, int, std::vector<double>& s) {
    g = g + 0.05 * p;
    s[0] = 0.9 * s[0] + 0.1 * g * g;
    s[1] = 0.5 * s[1] + g / (std::sqrt(s[0]) + 1e-8);
    p = p - 0.05 * s[1];
  });
}

TEST(Optimizer, Float32ParametersKeepTheirDtype) {
  OptimizerConfig c;
  c.name = "adam";
  Optimizer opt(c);
  TensorMap p = {{"w", Tensor::from_doubles({1, 2}, {2}, DType::f32)}};
  opt.step(p, {{"w", Tensor::from_doubles({0.5, -0.5}, {2}, DType::f64)}}, 0.1);
  EXPECT_EQ(p.at("w").dtype(), DType::f32);
  EXPECT_NEAR(p.at("w").to_doubles()[0], 0.9, 1e-6);  // Adam's first step moves by lr * sign(g)
  EXPECT_EQ(opt.state().at("exp_avg/w").dtype(), DType::f32);
}

TEST(Optimizer, StateRoundTripContinuesIdentically) {
  OptimizerConfig c;
  c.name = "adam";
  Optimizer a(c), b(c);
  TensorMap pa = {{"w", Tensor::from_doubles({1, 2, 3}, {3}, DType::f64)}};
  const TensorMap g = {{"w", Tensor::from_doubles({0.1, -0.2, 0.3}, {3}, DType::f64)}};
  a.step(pa, g, 0.01);
  TensorMap pb = {{"w", pa.at("w").clone()}};
  b.load_state(a.state(), a.steps());
  a.step(pa, g, 0.01);
  b.step(pb, g, 0.01);
  EXPECT_EQ(pa.at("w").to_doubles(), pb.at("w").to_doubles());
}

TEST(Optimizer, Errors) {
  OptimizerConfig c;
  c.name = "lion";
  EXPECT_THROW(Optimizer{c}, ValueError);
  EXPECT_THROW(OptimizerConfig::from_json({{"name", "sgd"}, {"lr", "fast"}}), ValueError);
  EXPECT_THROW(OptimizerConfig::from_json({{"name", "sgd"}, {"momentun", 0.9}}), ValueError);
  c.name = "sgd";
  c.nesterov = true;
  EXPECT_THROW(Optimizer{c}, ValueError);  // Nesterov without momentum
  Optimizer sgd(OptimizerConfig{});
  TensorMap p = {{"w", Tensor::zeros({2}, DType::f64)}};
  EXPECT_THROW(sgd.step(p, {}, 0.1), KeyError);
  EXPECT_THROW(sgd.step(p, {{"w", Tensor::zeros({3}, DType::f64)}}, 0.1), ShapeError);
  const OptimizerConfig j = OptimizerConfig::from_json({{"name", "adamw"}, {"lr", 0.01}, {"betas", {0.8, 0.9}}});
  EXPECT_EQ(j.name, "adamw");
  EXPECT_DOUBLE_EQ(j.beta2, 0.9);
}

TEST(LrSchedule, WarmupStepAndCosine) {
  LrSchedule s;
  s.base_lr = 0.1;
  s.warmup_steps = 4;
  EXPECT_DOUBLE_EQ(s.at(0), 0.025);
  EXPECT_DOUBLE_EQ(s.at(3), 0.1);
  EXPECT_DOUBLE_EQ(s.at(100), 0.1);
  s.kind = "step";
  s.step_size = 10;
  s.gamma = 0.5;
  EXPECT_DOUBLE_EQ(s.at(13), 0.1);
  EXPECT_DOUBLE_EQ(s.at(14), 0.05);
  EXPECT_NEAR(s.at(34), 0.0125, 1e-15);  // (34 - 4) / 10 = 3 decays
  const LrSchedule c = LrSchedule::from_json({{"kind", "cosine"}, {"warmup_steps", 2}, {"min_lr", 0.01}}, 0.1, 12);
  EXPECT_DOUBLE_EQ(c.at(1), 0.1);
  EXPECT_DOUBLE_EQ(c.at(2), 0.1);
  EXPECT_NEAR(c.at(7), 0.01 + 0.09 * 0.5 * (1 + std::cos(M_PI * 0.5)), 1e-15);
  EXPECT_DOUBLE_EQ(c.at(12), 0.01);
  EXPECT_DOUBLE_EQ(c.at(50), 0.01);
  EXPECT_THROW(LrSchedule::from_json({{"kind", "exp"}}, 0.1, 1), ValueError);
}

TEST(GradClip, NormAndValue) {
  TensorMap g = {{"a", Tensor::from_doubles({3, 0}, {2}, DType::f64)}, {"b", Tensor::from_doubles({4}, {1}, DType::f64)}};
  EXPECT_DOUBLE_EQ(clip_grad_norm(g, 10.0), 5.0);  // below the limit: unchanged
  EXPECT_EQ(g.at("a").to_doubles(), (std::vector<double>{3, 0}));
  EXPECT_DOUBLE_EQ(clip_grad_norm(g, 1.0), 5.0);
  EXPECT_NEAR(grad_norm(g), 1.0, 1e-6);
  EXPECT_NEAR(g.at("b").to_doubles()[0], 4.0 / (5.0 + 1e-6), 1e-15);
  TensorMap v = {{"a", Tensor::from_doubles({-3, 0.5, 2}, {3}, DType::f32)}};
  clip_grad_value(v, 1.0);
  EXPECT_EQ(v.at("a").to_doubles(), (std::vector<double>{-1, 0.5, 1}));
  TensorMap bad = {{"a", Tensor::from_doubles({NAN}, {1}, DType::f64)}};
  EXPECT_THROW(clip_grad_norm(bad, 1.0), ValueError);
}

}  // namespace
}  // namespace mithril::train
