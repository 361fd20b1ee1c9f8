#include "support/gradcheck.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "mithril/backends/cpu/executor.h"
#include "mithril/graph/autodiff.h"

namespace mithril::testing {

Tensor random_tensor(const Shape& shape, DType dtype, uint64_t seed, double lo, double hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(static_cast<size_t>(numel(shape)));
  for (double& x : v) x = dist(rng);
  return Tensor::from_doubles(v, shape, dtype);
}

Tensor random_tensor_away_from_zero(const Shape& shape, DType dtype, uint64_t seed, double lo, double hi,
                                    double min_abs) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(static_cast<size_t>(numel(shape)));
  for (double& x : v) {
    do x = dist(rng);
    while (std::abs(x) < min_abs);
  }
  return Tensor::from_doubles(v, shape, dtype);
}

namespace {
struct Built {
  std::vector<Var> inputs;
  std::vector<Var> outputs;
};
Built build(Graph& g, const GraphFn& fn, const std::vector<Tensor>& inputs) {
  Built b;
  for (size_t i = 0; i < inputs.size(); ++i)
    b.inputs.push_back(g.input("in" + std::to_string(i), inputs[i].shape(), inputs[i].dtype()));
  b.outputs = fn(g, b.inputs);
  return b;
}
}  // namespace

std::vector<Tensor> evaluate(const GraphFn& fn, const std::vector<Tensor>& inputs) {
  Graph g;
  Built b = build(g, fn, inputs);
  return cpu::run_graph(g, b.outputs, inputs);
}

void expect_gradients_match(const GraphFn& fn, const std::vector<Tensor>& inputs, const GradCheckOptions& options) {
  std::vector<size_t> wrt = options.wrt;
  if (wrt.empty())
    for (size_t i = 0; i < inputs.size(); ++i)
      if (is_float(inputs[i].dtype())) wrt.push_back(i);
  for (size_t i : wrt) ASSERT_EQ(inputs[i].dtype(), DType::f64) << "gradient checks run in float64 (input " << i << ")";

  // Forward graph plus cotangent inputs and the autodiff gradient graph.
  Graph g;
  Built b = build(g, fn, inputs);
  std::vector<Tensor> cotangents;
  std::vector<std::optional<Var>> ct_vars;
  std::vector<Tensor> all_inputs = inputs;
  for (size_t k = 0; k < b.outputs.size(); ++k) {
    const Var& o = b.outputs[k];
    ASSERT_EQ(o.dtype(), DType::f64) << "output " << k << " must be float64 for a gradient check";
    Tensor ct = random_tensor(o.shape(), DType::f64, options.seed + k, -1.0, 1.0);
    cotangents.push_back(ct);
    all_inputs.push_back(ct);
    ct_vars.push_back(g.input("cotangent" + std::to_string(k), o.shape(), DType::f64));
  }
  std::vector<Var> wrt_vars;
  for (size_t i : wrt) wrt_vars.push_back(b.inputs[i]);
  const std::vector<std::optional<Var>> grads = vjp(g, b.outputs, ct_vars, wrt_vars);
  std::vector<Var> grad_outputs;
  for (size_t k = 0; k < grads.size(); ++k) {
    ASSERT_TRUE(grads[k].has_value()) << "autodiff produced no gradient for input " << wrt[k];
    ASSERT_EQ(grads[k]->shape(), inputs[wrt[k]].shape()) << "gradient shape of input " << wrt[k];
    grad_outputs.push_back(*grads[k]);
  }
  const std::vector<Tensor> analytic = cpu::run_graph(g, grad_outputs, all_inputs);

  // Numeric: d/dx_j of sum_k <cotangent_k, output_k(x)> by central differences.
  Graph fg;
  Built fb = build(fg, fn, inputs);
  cpu::Executor forward(fg, [&] {
    std::vector<ValueId> ids;
    for (const Var& v : fb.outputs) ids.push_back(v.id());
    return ids;
  }());
  auto objective = [&](const std::vector<Tensor>& xs) {
    const std::vector<Tensor> outs = forward.run(xs);
    double s = 0;
    for (size_t k = 0; k < outs.size(); ++k) {
      const std::vector<double> o = outs[k].to_doubles(), c = cotangents[k].to_doubles();
      for (size_t j = 0; j < o.size(); ++j) s += o[j] * c[j];
    }
    return s;
  };
  for (size_t k = 0; k < wrt.size(); ++k) {
    const size_t i = wrt[k];
    std::vector<Tensor> xs = inputs;
    xs[i] = inputs[i].clone();
    double* p = xs[i].data<double>();
    const std::vector<double> a = analytic[k].to_doubles();
    double worst = 0;
    int64_t worst_j = -1;
    double worst_a = 0, worst_n = 0;
    for (int64_t j = 0; j < xs[i].numel(); ++j) {
      const double orig = p[j];
      p[j] = orig + options.eps;
      const double up = objective(xs);
      p[j] = orig - options.eps;
      const double down = objective(xs);
      p[j] = orig;
      const double numeric = (up - down) / (2 * options.eps);
      const double aj = a[static_cast<size_t>(j)];
      const double err = std::abs(aj - numeric) / std::max({1.0, std::abs(aj), std::abs(numeric)});
      if (!(err <= worst) || std::isnan(err)) {
        worst = std::isnan(err) ? INFINITY : err;
        worst_j = j;
        worst_a = aj;
        worst_n = numeric;
      }
    }
    EXPECT_LE(worst, options.tolerance) << "input " << i << " element " << worst_j << ": analytic " << worst_a
                                        << " vs numeric " << worst_n;
  }
}

void expect_close(const Tensor& actual, const std::vector<double>& expected, double rtol, double atol) {
  const std::vector<double> a = actual.to_doubles();
  ASSERT_EQ(a.size(), expected.size()) << "element count";
  for (size_t i = 0; i < a.size(); ++i) {
    const double e = expected[i];
    if (std::isnan(e)) {
      EXPECT_TRUE(std::isnan(a[i])) << "element " << i << ": expected nan, got " << a[i];
      continue;
    }
    if (std::isinf(e)) {
      EXPECT_EQ(a[i], e) << "element " << i;
      continue;
    }
    ASSERT_LE(std::abs(a[i] - e), atol + rtol * std::abs(e)) << "element " << i << ": got " << a[i] << ", expected " << e;
  }
}

void expect_close(const Tensor& actual, const Tensor& expected, double rtol, double atol) {
  ASSERT_EQ(actual.shape(), expected.shape()) << "shape " << shape_str(actual.shape()) << " vs " << shape_str(expected.shape());
  expect_close(actual, expected.to_doubles(), rtol, atol);
}

}  // namespace mithril::testing
