// Built-in networks: shapes and parameter keys, the GPT's causality (a position never sees later
// tokens), and the gradient of each training objective against central differences (float64).
#include "mithril/train/models.h"

#include <gtest/gtest.h>

#include <cmath>

#include "mithril/runtime/compile.h"

namespace mithril::train {
namespace {

DataMap with(const TensorMap& params, DataMap in) {
  for (const auto& [k, v] : params) in[k] = v;
  return in;
}

// Directional derivative of final_cost along a random direction vs. the gradient.
void check_objective_gradient(const Network& net, const DataMap& data) {
  const PhysicalModel pm = compile(classification_objective(net.model));
  Rng rng(5);
  const TensorMap params = init_params(net.params, rng, DType::f64);
  EXPECT_EQ(pm.trainable_keys().size(), params.size());
  const auto r = pm.evaluate(with(params, data), {{"final_cost", Tensor::scalar(1.0, DType::f64)}});
  TensorMap plus, minus;
  double analytic = 0;
  const double eps = 1e-6;
  for (const auto& [k, p] : params) {
    std::vector<double> v = p.to_doubles(), d(v.size()), a = v, b = v;
    const std::vector<double> g = r.gradients.at(k).tensor.to_doubles();
    for (size_t i = 0; i < v.size(); ++i) {
      d[i] = rng.normal();
      a[i] += eps * d[i];
      b[i] -= eps * d[i];
      analytic += g[i] * d[i];
    }
    plus[k] = Tensor::from_doubles(a, p.shape(), DType::f64);
    minus[k] = Tensor::from_doubles(b, p.shape(), DType::f64);
  }
  const double lp = pm.evaluate(with(plus, data)).at("final_cost").tensor.item();
  const double lm = pm.evaluate(with(minus, data)).at("final_cost").tensor.item();
  EXPECT_NEAR((lp - lm) / (2 * eps), analytic, 1e-6 * std::max(1.0, std::fabs(analytic)));
}

TEST(Models, MlpKeysAndGradient) {
  const Network net = mlp_classifier(6, {5, 4}, 3);
  EXPECT_EQ(net.params.size(), 6u);
  EXPECT_EQ(net.params.at("w1").shape, (Shape{4, 5}));
  EXPECT_NEAR(net.params.at("w1").scale, 1 / std::sqrt(5.0), 1e-15);
  Rng rng(1);
  std::vector<double> x(12);
  for (double& v : x) v = rng.normal();
  check_objective_gradient(net, {{"input", Tensor::from_doubles(x, {2, 6}, DType::f64)},
                                 {"target", Tensor::from_doubles({2, 0}, {2}, DType::i32)}});
}

TEST(Models, LeNetShapesAndGradient) {
  const Network net = lenet(1, 8, 10, 2, 3, 5);
  const PhysicalModel pm = compile(net.model);
  Rng rng(2);
  std::vector<double> x(2 * 64);
  for (double& v : x) v = rng.normal();
  const Tensor images = Tensor::from_doubles(x, {2, 1, 8, 8}, DType::f64);
  const auto out = pm.evaluate(with(init_params(net.params, rng, DType::f64), {{"input", images}}));
  EXPECT_EQ(out.at("output").tensor.shape(), (Shape{2, 10}));
  check_objective_gradient(net, {{"input", images}, {"target", Tensor::from_doubles({3, 7}, {2}, DType::i32)}});
}

TEST(Models, CharGptIsCausalAndDifferentiable) {
  const GptOptions o{.vocab = 7, .context = 6, .d_model = 8, .heads = 2, .layers = 2, .mlp_ratio = 2};
  const Network net = char_gpt(o);
  CompileOptions co;
  co.inference = true;
  const PhysicalModel pm = compile(net.model, co);
  Rng rng(3);
  const TensorMap params = init_params(net.params, rng, DType::f64);
  const Tensor a = Tensor::from_doubles({1, 2, 3, 4, 5, 6}, {1, 6}, DType::i32);
  const Tensor b = Tensor::from_doubles({1, 2, 3, 0, 0, 0}, {1, 6}, DType::i32);
  const Tensor la = pm.evaluate(with(params, {{"input", a}})).at("output").tensor;
  const Tensor lb = pm.evaluate(with(params, {{"input", b}})).at("output").tensor;
  ASSERT_EQ(la.shape(), (Shape{1, 7, 6}));
  for (int64_t v = 0; v < 7; ++v) {
    for (int64_t t = 0; t < 3; ++t) EXPECT_EQ(la.at({0, v, t}), lb.at({0, v, t})) << "position " << t;
  }
  EXPECT_NE(la.at({0, 0, 3}), lb.at({0, 0, 3}));
  check_objective_gradient(net, {{"input", a}, {"target", Tensor::from_doubles({2, 3, 4, 5, 6, 0}, {1, 6}, DType::i32)}});
}

}  // namespace
}  // namespace mithril::train
