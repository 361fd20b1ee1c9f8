// Forward tests against naive references and hand-computed values, gradient checks, the
// gradient conventions at non-differentiable points, and error messages for the loss family.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "mithril/backends/cpu/executor.h"
#include "mithril/core/error.h"
#include "mithril/graph/autodiff.h"
#include "mithril/ops/loss.h"
#include "mithril/ops/shape.h"
#include "support/gradcheck.h"
#include "support/reference.h"

namespace mithril {
namespace {

using testing::evaluate;
using testing::expect_close;
using testing::reference_binary;
using testing::expect_gradients_match;
using testing::random_tensor;
using testing::random_tensor_away_from_zero;

const double kThr = kMinPositiveNormal;

// ---- naive references ----

double rlog(double x) {
  const double a = std::abs(x);
  return a >= kThr ? std::log(a) : std::log(kThr) + a / kThr - 1.0;
}

struct ElementwiseCase {
  OpKind kind;
  std::function<Var(const Var&, const Var&)> build;
  std::function<double(double, double)> ref;  // (input, target)
};

std::vector<ElementwiseCase> elementwise_cases() {
  return {
      {OpKind::SquaredError, ops::squared_error, [](double x, double t) { return (x - t) * (x - t); }},
      {OpKind::AbsoluteError, ops::absolute_error, [](double x, double t) { return std::abs(x - t); }},
      {OpKind::HingeLoss, ops::hinge_loss, [](double x, double t) { return std::max(0.0, 1.0 - t * x); }},
      {OpKind::QuadHingeLoss, ops::quad_hinge_loss,
       [](double x, double t) { return std::pow(std::max(0.0, 1.0 - t * x), 2); }},
      {OpKind::QuantileLoss, [](const Var& x, const Var& t) { return ops::quantile_loss(x, t, 0.8); },
       [](double x, double t) { return t > x ? 0.8 * (t - x) : 0.2 * (x - t); }},
      {OpKind::KLDivergence, [](const Var& x, const Var& t) { return ops::kl_divergence(x, t); },
       [](double x, double t) { return t * (std::log(t) - std::log(x)); }},
  };
}

// Cross entropy over axis 1 of x [N, C, K] computed with plain loops and unshifted exps.
// Categorical targets are class indices [N, K]; otherwise a distribution [N, C, K].
std::vector<double> reference_cross_entropy(const Tensor& x, const Tensor& t, const std::string& type, bool categorical,
                                            const std::vector<double>& weights) {
  const int64_t n = x.dim(0), c = x.dim(1), k = x.dim(2);
  auto w = [&](int64_t cls) { return weights.empty() ? 1.0 : weights[static_cast<size_t>(cls)]; };
  auto log_prob = [&](int64_t i, int64_t cls, int64_t j) {
    if (type == "probs") return std::log(x.at({i, cls, j}));
    if (type == "log_probs") return x.at({i, cls, j});
    double s = 0;
    for (int64_t q = 0; q < c; ++q) s += std::exp(x.at({i, q, j}));
    return x.at({i, cls, j}) - std::log(s);
  };
  std::vector<double> r;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j) {
      if (categorical) {
        const auto cls = static_cast<int64_t>(t.at({i, j}));
        r.push_back(-log_prob(i, cls, j) * w(cls));
        continue;
      }
      double s = 0;
      for (int64_t q = 0; q < c; ++q) s += t.at({i, q, j}) * log_prob(i, q, j) * w(q);
      r.push_back(-s);
    }
  return r;
}

double reference_bce(double x, double t, const std::string& type, double pw) {
  if (type == "probs") return -pw * t * std::log(x) - (1 - t) * std::log(1 - x);
  const double p = 1.0 / (1.0 + std::exp(-x));
  return -pw * t * std::log(p) - (1 - t) * std::log(1 - p);
}

Tensor class_indices(const std::vector<int64_t>& v, const Shape& shape, DType dtype) {
  std::vector<double> d(v.begin(), v.end());
  return Tensor::from_doubles(d, shape, dtype);
}

// Gradients of sum(cotangent * fn(inputs)) with respect to inputs `wrt`, through autodiff.
std::vector<Tensor> gradients(const testing::GraphFn& fn, const std::vector<Tensor>& inputs,
                              const std::vector<size_t>& wrt) {
  Graph g;
  std::vector<Var> in;
  for (size_t i = 0; i < inputs.size(); ++i)
    in.push_back(g.input("in" + std::to_string(i), inputs[i].shape(), inputs[i].dtype()));
  const Var out = fn(g, in)[0];
  const Var ones = ops::broadcast_to(ops::scalar_like(out, 1.0), out.shape());
  std::vector<Var> wrt_vars;
  for (size_t i : wrt) wrt_vars.push_back(in[i]);
  std::vector<Var> grads;
  for (const auto& gv : vjp(g, {out}, {ones}, wrt_vars)) grads.push_back(*gv);
  return cpu::run_graph(g, grads, inputs);
}

// ---- forward ----

TEST(Loss, ElementwiseForwardMatchesReferenceWithBroadcasting) {
  for (DType dt : {DType::f64, DType::f32}) {
    for (const auto& c : elementwise_cases()) {
      const bool positive = c.kind == OpKind::KLDivergence;
      const Tensor x = random_tensor({2, 1, 4}, dt, 1, positive ? 0.05 : -2.0, 2.0);
      const Tensor t = random_tensor({3, 1}, dt, 2, positive ? 0.05 : -2.0, 2.0);
      const Tensor out =
          evaluate([&](Graph&, const std::vector<Var>& v) { return std::vector{c.build(v[0], v[1])}; }, {x, t})[0];
      EXPECT_EQ(out.shape(), (Shape{2, 3, 4})) << op_name(c.kind);
      EXPECT_EQ(out.dtype(), dt);
      const double tol = dt == DType::f64 ? 1e-14 : 1e-5;
      expect_close(out, reference_binary(x, t, c.ref), tol, tol);
    }
  }
}

TEST(Loss, ElementwiseHandComputedValues) {
  const Tensor x = Tensor::from_doubles({3, 0.5, 2, 1, 3}, {5}, DType::f64);
  const Tensor t = Tensor::from_doubles({1, 1, 1, 3, 1}, {5}, DType::f64);
  auto run = [&](const std::function<Var(const Var&, const Var&)>& f) {
    return evaluate([&](Graph&, const std::vector<Var>& v) { return std::vector{f(v[0], v[1])}; }, {x, t})[0];
  };
  expect_close(run(ops::squared_error), {4, 0.25, 1, 4, 4});
  expect_close(run(ops::absolute_error), {2, 0.5, 1, 2, 2});
  expect_close(run(ops::hinge_loss), {0, 0.5, 0, 0, 0});
  expect_close(run([](const Var& a, const Var& b) { return ops::quad_hinge_loss(a, -b); }), {16, 2.25, 9, 16, 16});
  // q = 0.9: e = t - x = (-2, .5, -1, 2, -2) -> max(0.9e, -0.1e)
  expect_close(run([](const Var& a, const Var& b) { return ops::quantile_loss(a, b, 0.9); }),
               {0.2, 0.45, 0.1, 1.8, 0.2});
}

TEST(Loss, KLDivergenceUsesRobustLog) {
  const Tensor x = Tensor::from_doubles({0.25, 0.5, 0.0, 1e-310}, {4}, DType::f64);
  const Tensor t = Tensor::from_doubles({0.5, 0.0, 0.5, 0.5}, {4}, DType::f64);
  const Tensor out = evaluate([](Graph&, const std::vector<Var>& v) { return std::vector{ops::kl_divergence(v[0], v[1])}; },
                              {x, t})[0];
  // target 0 gives 0; inputs below the threshold use log(thr) + a/thr - 1.
  expect_close(out, {0.5 * std::log(2.0), 0.0, 0.5 * (std::log(0.5) - (std::log(kThr) - 1.0)),
                     0.5 * (std::log(0.5) - (std::log(kThr) + 1e-310 / kThr - 1.0))},
               1e-15, 1e-15);
  for (double v : out.to_doubles()) EXPECT_TRUE(std::isfinite(v));
}

struct CrossEntropyCase {
  std::string type;
  bool categorical;
  std::vector<double> weights;
};

const CrossEntropyCase kCrossEntropyCases[] = {
    {"logits", true, {}},           {"probs", true, {}},           {"log_probs", true, {}},
    {"logits", true, {0.5, 2, 1}},  {"probs", true, {3, 1, 0.25}}, {"log_probs", true, {1, 2, 3}},
    {"logits", false, {}},          {"probs", false, {}},          {"log_probs", false, {}},
    {"logits", false, {0.5, 2, 1}}, {"probs", false, {2, 1, 3}},   {"log_probs", false, {1, 0, 2}},
};

TEST(Loss, CrossEntropyForwardMatchesReference) {
  const Tensor indices = class_indices({0, 2, 1, 1, 2, 0, 0, 1}, {4, 2}, DType::i64);
  for (DType dt : {DType::f64, DType::f32}) {
    for (const auto& c : kCrossEntropyCases) {
      const double lo = c.type == "probs" ? 0.05 : -3.0, hi = c.type == "probs" ? 1.0 : 3.0;
      const Tensor x = random_tensor({4, 3, 2}, dt, 11, lo, hi);
      const Tensor t = c.categorical ? indices : random_tensor({4, 3, 2}, dt, 12, 0.0, 1.0);
      const ops::CrossEntropyOptions o{.input_type = c.type, .categorical = c.categorical, .weights = c.weights};
      const Tensor out =
          evaluate([&](Graph&, const std::vector<Var>& v) { return std::vector{ops::cross_entropy(v[0], v[1], o)}; },
                   {x, t})[0];
      EXPECT_EQ(out.shape(), (Shape{4, 2})) << c.type;
      EXPECT_EQ(out.dtype(), dt);
      const double tol = dt == DType::f64 ? 1e-13 : 1e-5;
      SCOPED_TRACE(c.type + (c.categorical ? " categorical" : " distribution"));
      expect_close(out, reference_cross_entropy(x, t, c.type, c.categorical, c.weights), tol, tol);
    }
  }
}

TEST(Loss, CrossEntropyHandComputedValuesAndInt32Targets) {
  // logits [ln 1, ln 3] -> softmax (1/4, 3/4); probs and log_probs read the picked entry.
  const Tensor x = Tensor::from_doubles({0.0, std::log(3.0), 0.0, std::log(3.0)}, {2, 2}, DType::f64);
  const Tensor t = Tensor::from_vector<int32_t>({0, 1}, {2});
  auto run = [&](const ops::CrossEntropyOptions& o, const Tensor& xv) {
    return evaluate([&](Graph&, const std::vector<Var>& v) { return std::vector{ops::cross_entropy(v[0], v[1], o)}; },
                    {xv, t})[0];
  };
  expect_close(run({}, x), {std::log(4.0), std::log(4.0 / 3.0)}, 1e-15, 1e-15);
  expect_close(run({.weights = {2.0, 0.5}}, x), {2 * std::log(4.0), 0.5 * std::log(4.0 / 3.0)}, 1e-15, 1e-15);
  const Tensor p = Tensor::from_doubles({0.25, 0.75, 0.5, 0.5}, {2, 2}, DType::f64);
  expect_close(run({.input_type = "probs"}, p), {std::log(4.0), std::log(2.0)}, 1e-15, 1e-15);
  expect_close(run({.input_type = "log_probs"}, p), {-0.25, -0.5}, 1e-15, 1e-15);
}

TEST(Loss, CrossEntropyLogitsAreStableForLargeValues) {
  for (DType dt : {DType::f64, DType::f32}) {
    const Tensor x = Tensor::from_doubles({1000, 0, -1000, 1000}, {2, 2}, dt);
    const Tensor t = Tensor::from_vector<int64_t>({0, 0}, {2});
    const Tensor out =
        evaluate([](Graph&, const std::vector<Var>& v) { return std::vector{ops::cross_entropy(v[0], v[1])}; }, {x, t})[0];
    expect_close(out, {0.0, 2000.0}, 1e-7, 1e-7);
  }
}

TEST(Loss, CrossEntropyLargeTensorSpansThreadChunks) {
  // 12000 rows of 5 classes: more rows than one chunk of the parallel loop.
  const Tensor x = random_tensor({300, 5, 40}, DType::f64, 31, -4, 4);
  std::vector<int64_t> idx(300 * 40);
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int64_t>((i * 7) % 5);
  const Tensor t = Tensor::from_vector<int64_t>(idx, {300, 40});
  const Tensor out =
      evaluate([](Graph&, const std::vector<Var>& v) { return std::vector{ops::cross_entropy(v[0], v[1])}; }, {x, t})[0];
  expect_close(out, reference_cross_entropy(x, t, "logits", true, {}), 1e-13, 1e-13);
}

TEST(Loss, CrossEntropyRobustProbsUseRobustLog) {
  const Tensor p = Tensor::from_doubles({0.0, 1.0, 0.5, 0.5}, {2, 2}, DType::f64);
  const Tensor t = Tensor::from_vector<int64_t>({0, 1}, {2});
  const ops::CrossEntropyOptions o{.input_type = "probs", .robust = true};
  const Tensor out =
      evaluate([&](Graph&, const std::vector<Var>& v) { return std::vector{ops::cross_entropy(v[0], v[1], o)}; },
               {p, t})[0];
  expect_close(out, {-(std::log(kThr) - 1.0), std::log(2.0)}, 1e-15, 1e-15);
}

TEST(Loss, BinaryCrossEntropyForwardMatchesReference) {
  for (DType dt : {DType::f64, DType::f32}) {
    for (const std::string type : {"logits", "probs"}) {
      for (double pw : {1.0, 2.5}) {
        const Tensor x = type == "probs" ? random_tensor({3, 4}, dt, 21, 0.02, 0.98) : random_tensor({3, 4}, dt, 21, -6, 6);
        const Tensor t = random_tensor({4}, dt, 22, 0.0, 1.0);
        const ops::BinaryCrossEntropyOptions o{.input_type = type, .pos_weight = pw};
        const Tensor out = evaluate(
            [&](Graph&, const std::vector<Var>& v) { return std::vector{ops::binary_cross_entropy(v[0], v[1], o)}; },
            {x, t})[0];
        EXPECT_EQ(out.shape(), (Shape{3, 4}));
        const double tol = dt == DType::f64 ? 1e-13 : 1e-5;
        SCOPED_TRACE(type + " pos_weight=" + std::to_string(pw));
        expect_close(out, reference_binary(x, t, [&](double a, double b) { return reference_bce(a, b, type, pw); }), tol,
                     tol);
      }
    }
  }
}

TEST(Loss, BinaryCrossEntropyLogitsAreStableForLargeValues) {
  for (DType dt : {DType::f64, DType::f32}) {
    const Tensor x = Tensor::from_doubles({800, -800, 800, -800}, {4}, dt);
    const Tensor t = Tensor::from_doubles({1, 1, 0, 0}, {4}, dt);
    const Tensor out = evaluate(
        [](Graph&, const std::vector<Var>& v) { return std::vector{ops::binary_cross_entropy(v[0], v[1])}; }, {x, t})[0];
    expect_close(out, {0.0, 800.0, 800.0, 0.0}, 1e-7, 1e-7);
  }
}

TEST(Loss, BinaryCrossEntropyRobustProbsAtZeroAndOne) {
  const Tensor p = Tensor::from_doubles({0.0, 1.0}, {2}, DType::f64);
  const Tensor t = Tensor::from_doubles({1.0, 0.0}, {2}, DType::f64);
  const ops::BinaryCrossEntropyOptions o{.input_type = "probs", .pos_weight = 2.0, .robust = true};
  const Tensor out = evaluate(
      [&](Graph&, const std::vector<Var>& v) { return std::vector{ops::binary_cross_entropy(v[0], v[1], o)}; }, {p, t})[0];
  expect_close(out, {-2.0 * (std::log(kThr) - 1.0), -(std::log(kThr) - 1.0)}, 1e-15, 1e-15);
}

TEST(Loss, AttributesArePrinted) {
  Graph g;
  const Var x = g.input("x", {2, 3}, DType::f64);
  const Var t = g.input("t", {2}, DType::i64);
  auto op_of = [&](const Var& v) { return g.nodes()[static_cast<size_t>(g.value(v.id()).producer)].op->to_string(); };
  EXPECT_EQ(op_of(ops::quantile_loss(x, x, 0.9)), "quantile_loss(quantile=0.9)");
  EXPECT_EQ(op_of(ops::squared_error(x, x)), "squared_error");
  EXPECT_EQ(op_of(ops::cross_entropy(x, t, {.input_type = "probs", .robust = true, .weights = {1, 2, 0.5}})),
            "cross_entropy(input_type=probs, categorical=true, robust=true, threshold=2.2250738585072014e-308, "
            "weights=(1,2,0.5))");
  EXPECT_EQ(op_of(ops::binary_cross_entropy(x, x, {.pos_weight = 3})),
            "binary_cross_entropy(input_type=logits, pos_weight=3, robust=false, threshold=2.2250738585072014e-308)");
}

// ---- gradient checks (float64, central differences) ----

testing::GraphFn loss_fn(const std::function<Var(const Var&, const Var&)>& f) {
  return [f](Graph&, const std::vector<Var>& v) { return std::vector{f(v[0], v[1])}; };
}

// Values with |value| >= 1.2 against targets in [-1, 1]: input - target stays >= 0.2 away from 0.
std::vector<Tensor> separated_pair(uint64_t seed) {
  return {random_tensor_away_from_zero({3, 1, 4}, DType::f64, seed, -2.5, 2.5, 1.2),
          random_tensor({2, 4}, DType::f64, seed + 1, -1.0, 1.0)};
}

// Hinge data with targets +-1 and |input| kept at least 0.1 away from 1, so the margin
// 1 - t*x = 1 -+ x stays away from the kink in every broadcast element.
std::vector<Tensor> hinge_pair(uint64_t seed) {
  std::vector<double> xv = random_tensor({3, 1, 4}, DType::f64, seed, -2.0, 2.0).to_doubles();
  for (double& v : xv)
    if (std::abs(std::abs(v) - 1.0) < 0.1) v += v > 0 ? 0.3 : -0.3;
  return {Tensor::from_doubles(xv, {3, 1, 4}, DType::f64),
          Tensor::from_doubles({1, -1, 1, 1, -1, -1, 1, -1}, {2, 4}, DType::f64)};
}

TEST(GradCheck, SquaredError) {
  expect_gradients_match(loss_fn(ops::squared_error),
                         {random_tensor({3, 1, 4}, DType::f64, 100), random_tensor({2, 4}, DType::f64, 101)});
}
TEST(GradCheck, AbsoluteError) { expect_gradients_match(loss_fn(ops::absolute_error), separated_pair(110)); }
TEST(GradCheck, HingeLoss) { expect_gradients_match(loss_fn(ops::hinge_loss), hinge_pair(120)); }
TEST(GradCheck, QuadHingeLoss) { expect_gradients_match(loss_fn(ops::quad_hinge_loss), hinge_pair(130)); }
TEST(GradCheck, QuantileLoss) {
  expect_gradients_match(loss_fn([](const Var& x, const Var& t) { return ops::quantile_loss(x, t, 0.3); }),
                         separated_pair(140));
}
TEST(GradCheck, KLDivergence) {
  expect_gradients_match(loss_fn([](const Var& x, const Var& t) { return ops::kl_divergence(x, t); }),
                         {random_tensor({3, 1, 4}, DType::f64, 150, 0.2, 1.0), random_tensor({2, 4}, DType::f64, 151, 0.1, 1.0)});
}

testing::GraphFn ce_fn(const ops::CrossEntropyOptions& o) {
  return [o](Graph&, const std::vector<Var>& v) { return std::vector{ops::cross_entropy(v[0], v[1], o)}; };
}
const Tensor& ce_indices() {
  static const Tensor t = class_indices({0, 3, 1, 2, 3, 3}, {3, 2}, DType::i64);
  return t;
}

TEST(GradCheck, CrossEntropy) {
  expect_gradients_match(ce_fn({}), {random_tensor({3, 4, 2}, DType::f64, 160, -2, 2), ce_indices()});
}
TEST(GradCheck, CrossEntropyProbs) {
  expect_gradients_match(ce_fn({.input_type = "probs"}), {random_tensor({3, 4, 2}, DType::f64, 161, 0.1, 1), ce_indices()});
  expect_gradients_match(ce_fn({.input_type = "probs", .robust = true}),
                         {random_tensor({3, 4, 2}, DType::f64, 162, 0.1, 1), ce_indices()});
}
TEST(GradCheck, CrossEntropyLogProbs) {
  expect_gradients_match(ce_fn({.input_type = "log_probs"}), {random_tensor({3, 4, 2}, DType::f64, 163, -3, 0), ce_indices()});
}
TEST(GradCheck, CrossEntropyNonCategorical) {
  for (const std::string type : {"logits", "probs", "log_probs"}) {
    SCOPED_TRACE(type);
    const double lo = type == "probs" ? 0.1 : -2.0;
    expect_gradients_match(ce_fn({.input_type = type, .categorical = false}),
                           {random_tensor({3, 4, 2}, DType::f64, 164, lo, 1.0), random_tensor({3, 4, 2}, DType::f64, 165, 0, 1)});
  }
}
TEST(GradCheck, CrossEntropyWeighted) {
  const std::vector<double> w = {0.5, 2.0, 1.0, 3.0};
  for (const std::string type : {"logits", "probs", "log_probs"}) {
    SCOPED_TRACE(type);
    const double lo = type == "probs" ? 0.1 : -2.0;
    expect_gradients_match(ce_fn({.input_type = type, .weights = w}),
                           {random_tensor({3, 4, 2}, DType::f64, 166, lo, 1.0), ce_indices()});
    expect_gradients_match(ce_fn({.input_type = type, .categorical = false, .weights = w}),
                           {random_tensor({3, 4, 2}, DType::f64, 167, lo, 1.0), random_tensor({3, 4, 2}, DType::f64, 168, 0, 1)});
  }
}

testing::GraphFn bce_fn(const ops::BinaryCrossEntropyOptions& o) {
  return [o](Graph&, const std::vector<Var>& v) { return std::vector{ops::binary_cross_entropy(v[0], v[1], o)}; };
}

TEST(GradCheck, BinaryCrossEntropy) {
  expect_gradients_match(bce_fn({}), {random_tensor({3, 4}, DType::f64, 170, -4, 4), random_tensor({4}, DType::f64, 171, 0, 1)});
}
TEST(GradCheck, BinaryCrossEntropyProbs) {
  expect_gradients_match(bce_fn({.input_type = "probs"}),
                         {random_tensor({3, 4}, DType::f64, 172, 0.05, 0.95), random_tensor({3, 1}, DType::f64, 173, 0, 1)});
  expect_gradients_match(bce_fn({.input_type = "probs", .robust = true}),
                         {random_tensor({3, 4}, DType::f64, 174, 0.05, 0.95), random_tensor({3, 4}, DType::f64, 175, 0, 1)});
}
TEST(GradCheck, BinaryCrossEntropyPosWeight) {
  expect_gradients_match(bce_fn({.pos_weight = 2.5}),
                         {random_tensor({3, 4}, DType::f64, 176, -4, 4), random_tensor({4}, DType::f64, 177, 0, 1)});
  expect_gradients_match(bce_fn({.input_type = "probs", .pos_weight = 0.7}),
                         {random_tensor({3, 4}, DType::f64, 178, 0.05, 0.95), random_tensor({3, 4}, DType::f64, 179, 0, 1)});
}

// ---- gradients at non-differentiable points (Mithril's NumPy conventions) ----

TEST(LossGradient, AbsoluteErrorIsZeroAtEquality) {
  const Tensor x = Tensor::from_doubles({1, 2, 3}, {3}, DType::f64);
  const Tensor t = Tensor::from_doubles({1, 0, 4}, {3}, DType::f64);
  const auto g = gradients(loss_fn(ops::absolute_error), {x, t}, {0, 1});
  expect_close(g[0], {0, 1, -1});
  expect_close(g[1], {0, -1, 1});
}

TEST(LossGradient, QuantileIsHalfMinusQAtZeroError) {
  const Tensor x = Tensor::from_doubles({1, 1, 1}, {3}, DType::f64);
  const Tensor t = Tensor::from_doubles({1, 2, 0}, {3}, DType::f64);
  const auto g = gradients(loss_fn([](const Var& a, const Var& b) { return ops::quantile_loss(a, b, 0.3); }), {x, t}, {0, 1});
  expect_close(g[0], {0.2, -0.3, 0.7}, 1e-15, 1e-15);
  expect_close(g[1], {-0.2, 0.3, -0.7}, 1e-15, 1e-15);
}

TEST(LossGradient, HingeSplitsTheSlopeAtTheKink) {
  // Margins 1 - t*x: 0, 0.5, -1, 0 -> slope shares 0.5, 1, 0, 0.5 (Mithril's golden gradients).
  const Tensor x = Tensor::from_doubles({1, 0.5, 2, -1}, {4}, DType::f64);
  const Tensor t = Tensor::from_doubles({1, 1, 1, -1}, {4}, DType::f64);
  const auto g = gradients(loss_fn(ops::hinge_loss), {x, t}, {0, 1});
  expect_close(g[0], {-0.5, -1, 0, 0.5});
  expect_close(g[1], {-0.5, -0.5, 0, 0.5});
  const auto q = gradients(loss_fn(ops::quad_hinge_loss), {x, t}, {0});
  expect_close(q[0], {0, -1, 0, 0});  // -2 * hinge * target
}

TEST(LossGradient, CrossEntropyLogitsGradientIsStableForLargeValues) {
  const Tensor x = Tensor::from_doubles({1000, 0, 0, 1000}, {2, 2}, DType::f64);
  const Tensor t = Tensor::from_vector<int64_t>({0, 0}, {2});
  const auto g = gradients(ce_fn({}), {x, t}, {0});
  expect_close(g[0], {0, 0, -1, 1});
}

TEST(LossGradient, RobustLogGradientBelowThreshold) {
  // CE on probs with robust=true: d/dp of -log(p) at p = 0 is -1/threshold.
  const Tensor p = Tensor::from_doubles({0.0, 1.0, 0.5, 0.5}, {2, 2}, DType::f64);
  const Tensor t = Tensor::from_vector<int64_t>({0, 1}, {2});
  const auto g = gradients(ce_fn({.input_type = "probs", .robust = true}), {p, t}, {0});
  expect_close(g[0], {-1.0 / kThr, 0.0, 0.0, -2.0}, 1e-15, 0);
  // KL: zero targets give no input gradient even at input 0.
  const Tensor x = Tensor::from_doubles({0.0, 0.5}, {2}, DType::f64);
  const Tensor tk = Tensor::from_doubles({0.0, 0.25}, {2}, DType::f64);
  const auto gk = gradients(loss_fn([](const Var& a, const Var& b) { return ops::kl_divergence(a, b); }), {x, tk}, {0});
  expect_close(gk[0], {0.0, -0.5}, 1e-15, 1e-15);
}

// ---- errors ----

template <typename E>
void expect_error(const std::function<void()>& f, const char* message) {
  try {
    f();
    ADD_FAILURE() << "expected an error: " << message;
  } catch (const E& e) {
    EXPECT_STREQ(e.what(), message);
  }
}

TEST(LossErrors, CrossEntropyTargetShapeMismatch) {
  Graph g;
  const Var x = g.input("x", {2, 3, 4}, DType::f64);
  expect_error<ShapeError>([&] { ops::cross_entropy(x, g.input("t", {2, 3}, DType::i64)); },
                           "[cross_entropy] target shape (2,3) does not match input shape (2,3,4): class indices need (2,4)");
  expect_error<ShapeError>(
      [&] { ops::cross_entropy(x, g.input("d", {2, 3}, DType::f64), {.categorical = false}); },
      "[cross_entropy] target shape (2,3) does not match input shape (2,3,4): a target distribution needs (2,3,4)");
  expect_error<ShapeError>([&] { ops::cross_entropy(g.input("v", {3}, DType::f64), g.input("i", {3}, DType::i64)); },
                           "[cross_entropy] input must have shape (N, C, ...), got (3,)");
  expect_error<ShapeError>(
      [&] { ops::cross_entropy(x, g.input("k", {2, 4}, DType::i32), {.weights = {1, 2}}); },
      "[cross_entropy] 2 class weights given for 3 classes (input shape (2,3,4))");
}

TEST(LossErrors, CrossEntropyNeedsIntegerClassIndices) {
  Graph g;
  const Var x = g.input("x", {2, 3}, DType::f64);
  expect_error<DTypeError>([&] { ops::cross_entropy(x, g.input("t", {2}, DType::f64)); },
                           "[cross_entropy] class indices must be integers (i32 or i64), got f64");
  expect_error<DTypeError>([&] { ops::cross_entropy(g.input("i", {2, 3}, DType::i32), g.input("u", {2}, DType::i32)); },
                           "[cross_entropy] input must be floating-point, got i32");
}

TEST(LossErrors, UnknownInputType) {
  Graph g;
  const Var x = g.input("x", {2, 3}, DType::f64);
  const Var t = g.input("t", {2}, DType::i64);
  expect_error<AttributeError>([&] { ops::cross_entropy(x, t, {.input_type = "foo"}); },
                               "[cross_entropy] unknown input_type 'foo': expected logits, probs or log_probs");
  expect_error<AttributeError>([&] { ops::binary_cross_entropy(x, x, {.input_type = "log_probs"}); },
                               "[binary_cross_entropy] unknown input_type 'log_probs': expected logits or probs");
}

TEST(LossErrors, ClassIndexOutOfRangeAtRunTime) {
  const Tensor x = random_tensor({2, 3}, DType::f64, 1);
  auto run = [&](std::vector<int64_t> idx) {
    evaluate([](Graph&, const std::vector<Var>& v) { return std::vector{ops::cross_entropy(v[0], v[1])}; },
             {x, Tensor::from_vector<int64_t>(idx, {2})});
  };
  expect_error<ValueError>([&] { run({0, 3}); }, "[cross_entropy] class index 3 out of range for 3 classes");
  expect_error<ValueError>([&] { run({-1, 0}); }, "[cross_entropy] class index -1 out of range for 3 classes");
}

TEST(LossErrors, ElementwiseShapeAndDTypeRules) {
  Graph g;
  const Var a = g.input("a", {2, 3}, DType::f32);
  expect_error<ShapeError>([&] { ops::hinge_loss(a, g.input("b", {4, 3}, DType::f32)); },
                           "[hinge_loss] shapes (2,3) and (4,3) cannot be broadcast: dim -2 is 2 vs 4");
  expect_error<DTypeError>(
      [&] { g.apply1(std::make_shared<ElementwiseLossOp>(OpKind::SquaredError), {a, g.input("c", {2, 3}, DType::f64)}); },
      "[squared_error] dtype mismatch: input is f32 but target is f64");
  const Var i = g.input("i", {2, 3}, DType::i32);
  expect_error<DTypeError>([&] { ops::absolute_error(i, i); }, "[absolute_error] needs floating-point inputs, got i32");
  expect_error<ShapeError>([&] { ops::binary_cross_entropy(g.input("p", {3}, DType::f32), a); },
                           "[binary_cross_entropy] target shape (2,3) does not broadcast to input shape (3,)");
}

}  // namespace
}  // namespace mithril
