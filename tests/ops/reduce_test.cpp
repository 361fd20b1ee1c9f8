// Forward tests against naive references, gradient checks, determinism and error messages for
// the reduction family (reductions over axes and ops along one axis).
#include "mithril/ops/reduce.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>

#include "mithril/backends/cpu/executor.h"
#include "mithril/core/error.h"
#include "mithril/core/thread_pool.h"
#include "mithril/graph/autodiff.h"
#include "mithril/ops/binary.h"
#include "support/gradcheck.h"

namespace mithril {
namespace {

using testing::evaluate;
using testing::expect_close;
using testing::expect_gradients_match;
using testing::random_tensor;

using Block = std::vector<double>;
using BlockFn = std::function<double(const Block&)>;

// Naive reduction: gathers each output's block (in row-major order of the reduced axes) by
// walking every input index, then applies f. Returns the output shape and values.
std::pair<Shape, std::vector<double>> reference_reduce(const Tensor& x, const std::optional<Axes>& axes_in,
                                                       bool keepdim, const BlockFn& f) {
  const Shape& s = x.shape();
  const auto nd = static_cast<int64_t>(s.size());
  std::vector<bool> reduced(s.size(), !axes_in.has_value());
  if (axes_in)
    for (int64_t a : *axes_in) reduced[static_cast<size_t>(a < 0 ? a + nd : a)] = true;
  Shape out_shape, kept_shape;
  for (size_t d = 0; d < s.size(); ++d) {
    if (!reduced[d]) kept_shape.push_back(s[d]);
    if (!reduced[d] || keepdim) out_shape.push_back(reduced[d] ? 1 : s[d]);
  }
  std::vector<Block> blocks(static_cast<size_t>(numel(kept_shape)));
  const std::vector<double> v = x.to_doubles();
  for (int64_t flat = 0; flat < x.numel(); ++flat) {
    int64_t rem = flat, out = 0, scale = 1;
    for (size_t d = s.size(); d-- > 0;) {
      const int64_t idx = rem % s[d];
      rem /= s[d];
      if (!reduced[d]) {
        out += idx * scale;
        scale *= s[d];
      }
    }
    blocks[static_cast<size_t>(out)].push_back(v[static_cast<size_t>(flat)]);
  }
  std::vector<double> r;
  for (const Block& b : blocks) r.push_back(f(b));
  return {out_shape, r};
}

// Naive op along one axis: applies f to every line along `axis` and writes the result back.
std::vector<double> reference_along(const Tensor& x, int64_t axis, const std::function<Block(const Block&)>& f) {
  const Shape& s = x.shape();
  if (axis < 0) axis += static_cast<int64_t>(s.size());
  int64_t outer = 1, inner = 1;
  const int64_t n = s[static_cast<size_t>(axis)];
  for (int64_t d = 0; d < axis; ++d) outer *= s[static_cast<size_t>(d)];
  for (size_t d = static_cast<size_t>(axis) + 1; d < s.size(); ++d) inner *= s[d];
  const std::vector<double> v = x.to_doubles();
  std::vector<double> r(v.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      Block line;
      for (int64_t k = 0; k < n; ++k) line.push_back(v[static_cast<size_t>((o * n + k) * inner + i)]);
      const Block y = f(line);
      for (int64_t k = 0; k < n; ++k) r[static_cast<size_t>((o * n + k) * inner + i)] = y[static_cast<size_t>(k)];
    }
  return r;
}

double ref_sum(const Block& b) {
  double s = 0;
  for (double v : b) s += v;
  return s;
}
double ref_mean(const Block& b) { return ref_sum(b) / static_cast<double>(b.size()); }
double ref_max(const Block& b) { return *std::max_element(b.begin(), b.end()); }
double ref_min(const Block& b) { return *std::min_element(b.begin(), b.end()); }
double ref_prod(const Block& b) {
  double p = 1;
  for (double v : b) p *= v;
  return p;
}
double ref_variance(const Block& b, double correction) {
  const double m = ref_mean(b);
  double s = 0;
  for (double v : b) s += (v - m) * (v - m);
  return s / (static_cast<double>(b.size()) - correction);
}
double ref_logsumexp(const Block& b) {
  double s = 0;
  for (double v : b) s += std::exp(v);
  return std::log(s);
}
double ref_argmax(const Block& b) { return static_cast<double>(std::max_element(b.begin(), b.end()) - b.begin()); }
double ref_argmin(const Block& b) { return static_cast<double>(std::min_element(b.begin(), b.end()) - b.begin()); }

Block ref_cumsum(const Block& b) {
  Block r;
  double s = 0;
  for (double v : b) r.push_back(s += v);
  return r;
}
Block ref_softmax(const Block& b) {
  Block r;
  double s = 0;
  for (double v : b) s += std::exp(v);
  for (double v : b) r.push_back(std::exp(v) / s);
  return r;
}
Block ref_log_softmax(const Block& b) {
  Block r;
  const double lse = ref_logsumexp(b);
  for (double v : b) r.push_back(v - lse);
  return r;
}

Var reduce_by_kind(OpKind kind, const Var& x, const std::optional<Axes>& axes, bool keepdim) {
  switch (kind) {
    case OpKind::Sum:
      return ops::sum(x, axes, keepdim);
    case OpKind::Mean:
      return ops::mean(x, axes, keepdim);
    case OpKind::Max:
      return ops::max(x, axes, keepdim);
    case OpKind::Min:
      return ops::min(x, axes, keepdim);
    case OpKind::Prod:
      return ops::prod(x, axes, keepdim);
    case OpKind::Variance:
      return ops::variance(x, axes, keepdim);
    case OpKind::LogSumExp:
      return ops::logsumexp(x, axes, keepdim);
    default:
      throw std::logic_error("not a reduction over axes");
  }
}

struct ReduceCase {
  OpKind kind;
  BlockFn ref;
};

const std::vector<ReduceCase>& reduce_cases() {
  static const std::vector<ReduceCase> cases = {
      {OpKind::Sum, ref_sum},
      {OpKind::Mean, ref_mean},
      {OpKind::Max, ref_max},
      {OpKind::Min, ref_min},
      {OpKind::Prod, ref_prod},
      {OpKind::Variance, [](const Block& b) { return ref_variance(b, 0.0); }},
      {OpKind::LogSumExp, ref_logsumexp},
  };
  return cases;
}

// Axis sets covering leading, trailing, middle, negative, non-adjacent and all axes of a rank-3 tensor.
const std::vector<std::optional<Axes>> kAxisSets = {
    std::nullopt, Axes{0}, Axes{1}, Axes{2}, Axes{-1}, Axes{0, 2}, Axes{-3, -2}, Axes{1, 2}, Axes{0, 1, 2}, Axes{},
};

void check_reductions(const Tensor& x, double tol) {
  for (const auto& c : reduce_cases()) {
    for (const auto& axes : kAxisSets) {
      for (bool keepdim : {false, true}) {
        const Tensor out = evaluate(
            [&](Graph&, const std::vector<Var>& in) {
              return std::vector{reduce_by_kind(c.kind, in[0], axes, keepdim)};
            },
            {x})[0];
        const auto [shape, expected] = reference_reduce(x, axes, keepdim, c.ref);
        SCOPED_TRACE(fmt::format("{} {} axes={} keepdim={}", op_name(c.kind), dtype_name(x.dtype()),
                                 axes ? fmt::format("{}", fmt::join(*axes, ",")) : "all", keepdim));
        EXPECT_EQ(out.shape(), shape);
        EXPECT_EQ(out.dtype(), x.dtype());
        expect_close(out, expected, tol, tol);
      }
    }
  }
}

TEST(Reduce, ForwardMatchesReferenceF64) { check_reductions(random_tensor({2, 3, 4}, DType::f64, 1, 0.5, 1.5), 1e-12); }
TEST(Reduce, ForwardMatchesReferenceF32) { check_reductions(random_tensor({2, 3, 4}, DType::f32, 2, 0.5, 1.5), 1e-5); }
TEST(Reduce, ForwardMatchesReferenceWithSizeOneDims) {
  check_reductions(random_tensor({3, 1, 5}, DType::f64, 3, -1.5, 1.5), 1e-12);
  check_reductions(random_tensor({1, 4, 1}, DType::f32, 4, -1.5, 1.5), 1e-5);
}

TEST(Reduce, LeadingAxesOfWideTensorsUseTiledRows) {
  // inner = 150 spans several tiles of neighbouring outputs; 3 x 70 x 150 also crosses thread chunks.
  const Tensor x = random_tensor({3, 70, 150}, DType::f32, 5, -1.0, 1.0);
  for (const auto& c : reduce_cases()) {
    for (const Axes& axes : {Axes{0}, Axes{1}, Axes{0, 1}}) {
      const Tensor out = evaluate(
          [&](Graph&, const std::vector<Var>& in) { return std::vector{reduce_by_kind(c.kind, in[0], axes, false)}; },
          {x})[0];
      SCOPED_TRACE(fmt::format("{} axes={}", op_name(c.kind), fmt::join(axes, ",")));
      const double tol = c.kind == OpKind::Prod ? 1e-4 : 1e-5;
      expect_close(out, reference_reduce(x, axes, false, c.ref).second, tol, tol);
    }
  }
}

TEST(Reduce, VarianceCorrection) {
  const Tensor x = random_tensor({4, 5}, DType::f64, 6);
  for (double correction : {0.0, 1.0, 0.5}) {
    const Tensor out = evaluate(
        [&](Graph&, const std::vector<Var>& in) {
          return std::vector{ops::variance(in[0], Axes{-1}, false, correction)};
        },
        {x})[0];
    expect_close(
        out, reference_reduce(x, Axes{1}, false, [&](const Block& b) { return ref_variance(b, correction); }).second,
        1e-12, 1e-12);
  }
}

TEST(Reduce, VarianceIsTwoPassAccurate) {
  // A large offset would cancel catastrophically in E[x^2] - E[x]^2.
  const Tensor x = Tensor::from_doubles({1e8 + 1, 1e8 + 2, 1e8 + 3, 1e8 + 4}, {4}, DType::f64);
  const Tensor out =
      evaluate([](Graph&, const std::vector<Var>& in) { return std::vector{ops::variance(in[0])}; }, {x})[0];
  expect_close(out, {1.25}, 1e-12, 1e-12);
}

TEST(Reduce, IntegerReductions) {
  for (DType dt : {DType::i32, DType::i64}) {
    const Tensor x = Tensor::from_doubles({3, -1, 4, 1, -5, 9, 2, 6, -5, 3, 5, 0}, {2, 2, 3}, dt);
    auto run = [&](auto f) {
      return evaluate([&](Graph&, const std::vector<Var>& in) { return std::vector{f(in[0])}; }, {x})[0];
    };
    const Tensor s = run([](const Var& v) { return ops::sum(v, Axes{-1}); });
    EXPECT_EQ(s.dtype(), dt);
    expect_close(s, {6, 5, 3, 8});
    expect_close(run([](const Var& v) { return ops::sum(v); }), {22});
    expect_close(run([](const Var& v) { return ops::max(v, Axes{0, 2}); }), {6, 9});
    expect_close(run([](const Var& v) { return ops::min(v, Axes{1}, true); }), {1, -5, 4, 2, 5, -5});
    expect_close(run([](const Var& v) { return ops::prod(v, Axes{0}); }), {6, -6, -20, 3, -25, 0});
    expect_close(run([](const Var& v) { return ops::argmax(v, -1); }), {2, 2, 1, 1});
    expect_close(run([](const Var& v) { return ops::argmin(v, 1); }), {1, 1, 0, 0, 1, 0});
    expect_close(run([](const Var& v) { return ops::cumsum(v, -1); }), {3, 2, 6, 1, -4, 5, 2, 8, 3, 3, 8, 8});
  }
}

TEST(Reduce, ArgMaxArgMinAgreeWithReferenceOnEveryAxis) {
  for (DType dt : {DType::f64, DType::f32}) {
    const Tensor x = random_tensor({3, 4, 5}, dt, 7);
    for (int64_t axis : {0, 1, 2, -1, -3}) {
      for (bool keepdim : {false, true}) {
        const auto outs = evaluate(
            [&](Graph&, const std::vector<Var>& in) {
              return std::vector{ops::argmax(in[0], axis, keepdim), ops::argmin(in[0], axis, keepdim)};
            },
            {x});
        const auto [shape, expected_max] = reference_reduce(x, Axes{axis}, keepdim, ref_argmax);
        EXPECT_EQ(outs[0].dtype(), DType::i64);
        EXPECT_EQ(outs[0].shape(), shape);
        expect_close(outs[0], expected_max);
        expect_close(outs[1], reference_reduce(x, Axes{axis}, keepdim, ref_argmin).second);
      }
    }
  }
}

TEST(Reduce, TiesGiveFirstIndexAndExtremeValue) {
  const Tensor x = Tensor::from_doubles({1, 3, 3, 0, 2, 0, 2, 2, 5, 5, -1, -1}, {3, 4}, DType::f64);
  const auto outs = evaluate(
      [](Graph&, const std::vector<Var>& in) {
        return std::vector{ops::argmax(in[0], 1), ops::argmin(in[0], 1), ops::max(in[0], Axes{1}),
                           ops::min(in[0], Axes{1}), ops::argmax(in[0], 0)};
      },
      {x});
  expect_close(outs[0], {1, 0, 0});
  expect_close(outs[1], {3, 1, 2});
  expect_close(outs[2], {3, 2, 5});
  expect_close(outs[3], {0, 0, -1});
  expect_close(outs[4], {2, 2, 0, 1});
}

TEST(Reduce, NaNPropagatesLikeNumPy) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor x = Tensor::from_doubles({1, nan, 3, nan, 2, 0}, {2, 3}, DType::f64);
  const auto outs = evaluate(
      [](Graph&, const std::vector<Var>& in) {
        return std::vector{ops::max(in[0], Axes{1}), ops::min(in[0], Axes{1}), ops::argmax(in[0], 1),
                           ops::argmin(in[0], 0)};
      },
      {x});
  expect_close(outs[0], {nan, nan});
  expect_close(outs[1], {nan, nan});
  expect_close(outs[2], {1, 0});
  expect_close(outs[3], {1, 0, 1});
}

TEST(Reduce, EmptyAxesGiveIdentityValues) {
  const Tensor x = Tensor::zeros({2, 0}, DType::f64);
  const auto outs = evaluate(
      [](Graph&, const std::vector<Var>& in) {
        return std::vector{ops::sum(in[0], Axes{1}), ops::prod(in[0], Axes{1}), ops::mean(in[0], Axes{1}),
                           ops::logsumexp(in[0], Axes{1}), ops::sum(in[0], Axes{0})};
      },
      {x});
  expect_close(outs[0], {0, 0});
  expect_close(outs[1], {1, 1});
  expect_close(outs[2], {NAN, NAN});
  expect_close(outs[3], {-INFINITY, -INFINITY});
  EXPECT_EQ(outs[4].shape(), (Shape{0}));
}

TEST(Reduce, LogSumExpIsStable) {
  const Tensor x = Tensor::from_doubles({1000, 1000, -1000, -1000, -INFINITY, -INFINITY}, {3, 2}, DType::f64);
  const Tensor out =
      evaluate([](Graph&, const std::vector<Var>& in) { return std::vector{ops::logsumexp(in[0], Axes{1})}; }, {x})[0];
  expect_close(out, {1000 + std::log(2.0), -1000 + std::log(2.0), -INFINITY});
}

TEST(Reduce, DeterministicWithTwoThreads) {
  const Tensor x = random_tensor({64, 300, 40}, DType::f32, 8, -1.0, 1.0);
  auto run = [&](int threads) {
    const int saved = num_threads();
    set_num_threads(threads);
    const auto outs = evaluate(
        [](Graph&, const std::vector<Var>& in) {
          return std::vector{ops::sum(in[0], Axes{1}),
                             ops::sum(in[0], Axes{0}),
                             ops::sum(in[0]),
                             ops::variance(in[0], Axes{0, 2}),
                             ops::logsumexp(in[0], Axes{2}),
                             ops::softmax(in[0], 1),
                             ops::cumsum(in[0], 0)};
        },
        {x});
    set_num_threads(saved);
    return outs;
  };
  auto expect_bitwise_equal = [](const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_EQ(a[i].nbytes(), b[i].nbytes());
      EXPECT_EQ(std::memcmp(a[i].raw_data(), b[i].raw_data(), a[i].nbytes()), 0) << "output " << i;
    }
  };
  const auto two = run(2);
  expect_bitwise_equal(two, run(2));
  // Each output is folded by a single thread in a fixed order, so the thread count does not matter either.
  expect_bitwise_equal(two, run(1));
}

TEST(Reduce, SumOverLeadingAxisOfLargeMatrix) {
  const Tensor x = random_tensor({4096, 512}, DType::f32, 9, -1.0, 1.0);
  const Tensor out =
      evaluate([](Graph&, const std::vector<Var>& in) { return std::vector{ops::sum(in[0], Axes{0})}; }, {x})[0];
  const float* p = x.data<float>();
  std::vector<double> expected(512, 0.0);
  for (int64_t r = 0; r < 4096; ++r)
    for (size_t c = 0; c < 512; ++c) expected[c] += p[r * 512 + static_cast<int64_t>(c)];
  expect_close(out, expected, 1e-6, 1e-5);
}

// ---- ops along one axis ----

TEST(AxisOps, ForwardMatchesReference) {
  struct Case {
    OpKind kind;
    Block (*ref)(const Block&);
    Var (*build)(const Var&, int64_t);
  };
  const Case cases[] = {{OpKind::CumSum, ref_cumsum, ops::cumsum},
                        {OpKind::Softmax, ref_softmax, ops::softmax},
                        {OpKind::LogSoftmax, ref_log_softmax, ops::log_softmax}};
  for (DType dt : {DType::f64, DType::f32}) {
    const double tol = dt == DType::f64 ? 1e-12 : 1e-5;
    for (const Shape& shape : {Shape{2, 3, 4}, Shape{3, 1, 70}, Shape{2, 90, 3}}) {
      const Tensor x = random_tensor(shape, dt, 10, -2.0, 2.0);
      for (const auto& c : cases) {
        for (int64_t axis : {0, 1, 2, -1, -2}) {
          const Tensor out =
              evaluate([&](Graph&, const std::vector<Var>& in) { return std::vector{c.build(in[0], axis)}; }, {x})[0];
          SCOPED_TRACE(fmt::format("{} {} shape={} axis={}", op_name(c.kind), dtype_name(dt), shape_str(shape), axis));
          EXPECT_EQ(out.shape(), shape);
          expect_close(out, reference_along(x, axis, c.ref), tol, tol);
        }
      }
    }
  }
}

TEST(AxisOps, SoftmaxAndLogSoftmaxAreStable) {
  const Tensor x = Tensor::from_doubles({1000, 1001, -1000, -1001}, {2, 2}, DType::f64);
  const auto outs = evaluate(
      [](Graph&, const std::vector<Var>& in) {
        return std::vector{ops::softmax(in[0]), ops::log_softmax(in[0])};
      },
      {x});
  const double p = 1 / (1 + std::exp(1.0));  // softmax([0, 1])[0]
  expect_close(outs[0], {p, 1 - p, 1 - p, p}, 1e-14, 1e-14);
  expect_close(outs[1], {std::log(p), std::log1p(-p), std::log1p(-p), std::log(p)}, 1e-14, 1e-14);
}

// ---- gradient checks (float64, central differences) ----

testing::GraphFn reduce_fn(OpKind kind, std::optional<Axes> axes, bool keepdim) {
  return [=](Graph&, const std::vector<Var>& x) { return std::vector{reduce_by_kind(kind, x[0], axes, keepdim)}; };
}

// A permutation of well-separated values, so max/min are unique and far from ties.
Tensor distinct_tensor(const Shape& shape, uint64_t seed) {
  std::vector<double> v(static_cast<size_t>(numel(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = 0.3 * static_cast<double>(i) - 1.0;
  std::shuffle(v.begin(), v.end(), std::mt19937_64(seed));
  return Tensor::from_doubles(v, shape, DType::f64);
}

void check_reduce_gradients(OpKind kind, const Tensor& x) {
  for (const auto& [axes, keepdim] : std::vector<std::pair<std::optional<Axes>, bool>>{
           {std::nullopt, false}, {Axes{0, 2}, false}, {Axes{-1}, true}, {Axes{1}, false}}) {
    SCOPED_TRACE(fmt::format("axes={} keepdim={}", axes ? fmt::format("{}", fmt::join(*axes, ",")) : "all", keepdim));
    expect_gradients_match(reduce_fn(kind, axes, keepdim), {x});
  }
}

TEST(GradCheck, Sum) { check_reduce_gradients(OpKind::Sum, random_tensor({2, 1, 3}, DType::f64, 20)); }
TEST(GradCheck, Mean) { check_reduce_gradients(OpKind::Mean, random_tensor({2, 3, 4}, DType::f64, 21)); }
TEST(GradCheck, Max) { check_reduce_gradients(OpKind::Max, distinct_tensor({2, 3, 4}, 22)); }
TEST(GradCheck, Min) { check_reduce_gradients(OpKind::Min, distinct_tensor({3, 1, 4}, 23)); }
TEST(GradCheck, Prod) {
  check_reduce_gradients(OpKind::Prod,
                         testing::random_tensor_away_from_zero({2, 3, 2}, DType::f64, 24, -1.5, 1.5, 0.3));
}
TEST(GradCheck, Variance) {
  check_reduce_gradients(OpKind::Variance, random_tensor({2, 3, 4}, DType::f64, 25));
  expect_gradients_match(
      [](Graph&, const std::vector<Var>& x) { return std::vector{ops::variance(x[0], Axes{0}, true, 1.0)}; },
      {random_tensor({3, 2}, DType::f64, 26)});
}
TEST(GradCheck, LogSumExp) {
  check_reduce_gradients(OpKind::LogSumExp, random_tensor({2, 3, 4}, DType::f64, 27, -2, 2));
}

void check_axis_gradients(Var (*build)(const Var&, int64_t), const Tensor& x) {
  for (int64_t axis : {0, 1, -1}) {
    SCOPED_TRACE(fmt::format("axis={}", axis));
    expect_gradients_match([=](Graph&, const std::vector<Var>& in) { return std::vector{build(in[0], axis)}; }, {x});
  }
}

TEST(GradCheck, CumSum) { check_axis_gradients(ops::cumsum, random_tensor({3, 1, 4}, DType::f64, 30)); }
TEST(GradCheck, Softmax) { check_axis_gradients(ops::softmax, random_tensor({2, 3, 4}, DType::f64, 31, -2, 2)); }
TEST(GradCheck, LogSoftmax) { check_axis_gradients(ops::log_softmax, random_tensor({2, 1, 4}, DType::f64, 32, -2, 2)); }

// Gradient of <ct, f(x)> w.r.t. x, evaluated on the CPU.
Tensor gradient_of(const std::function<Var(const Var&)>& f, const Tensor& x, const Tensor& ct) {
  Graph g;
  const Var xv = g.input("x", x.shape(), x.dtype());
  const Var y = f(xv);
  const Var ctv = g.input("ct", ct.shape(), ct.dtype());
  const auto grads = vjp(g, {y}, {ctv}, {xv});
  return cpu::run_graph(g, {*grads[0]}, {x, ct})[0];
}

TEST(ReduceGrad, MaxSplitsTiesEqually) {
  const Tensor x = Tensor::from_doubles({1, 3, 3, 2, 2, 0}, {2, 3}, DType::f64);
  expect_close(
      gradient_of([](const Var& v) { return ops::max(v, Axes{1}); }, x, Tensor::from_doubles({1, 2}, {2}, DType::f64)),
      {0, 0.5, 0.5, 1, 1, 0});
  // Over all axes the tie spans rows.
  const Tensor y = Tensor::from_doubles({1, 3, 3, 0}, {2, 2}, DType::f64);
  expect_close(gradient_of([](const Var& v) { return ops::max(v); }, y, Tensor::scalar(1, DType::f64)),
               {0, 0.5, 0.5, 0});
  expect_close(gradient_of([](const Var& v) { return ops::min(v, Axes{0}, true); }, x,
                           Tensor::from_doubles({3, 1, 6}, {1, 3}, DType::f64)),
               {3, 0, 0, 0, 1, 6});
}

TEST(ReduceGrad, ProdWithZeros) {
  // Row 0: one zero -> only it gets the product of the others (2*3); row 1: two zeros -> all zero;
  // row 2: no zero -> product of the others.
  const Tensor x = Tensor::from_doubles({2, 0, 3, 0, 4, 0, 1, 2, 3}, {3, 3}, DType::f64);
  expect_close(gradient_of([](const Var& v) { return ops::prod(v, Axes{1}); }, x,
                           Tensor::from_doubles({1, 1, 2}, {3}, DType::f64)),
               {0, 6, 0, 0, 0, 0, 12, 6, 4});
  // Over all axes: three zeros in the tensor -> every derivative is zero.
  expect_close(gradient_of([](const Var& v) { return ops::prod(v); }, x, Tensor::scalar(1, DType::f64)),
               {0, 0, 0, 0, 0, 0, 0, 0, 0});
}

// ---- errors ----

template <typename E>
void expect_error(const std::function<void(Graph&)>& f, const char* message) {
  Graph g;
  try {
    f(g);
    ADD_FAILURE() << "expected an error: " << message;
  } catch (const E& e) {
    EXPECT_STREQ(e.what(), message);
  }
}

TEST(ReduceErrors, AxisOutOfRange) {
  expect_error<AttributeError>(
      [](Graph& g) {
        ops::sum(g.input("x", {2, 3}, DType::f32), Axes{3});
      },
      "[sum] axis 3 is out of range for a tensor of rank 2");
  expect_error<AttributeError>(
      [](Graph& g) {
        ops::max(g.input("x", {2, 3}, DType::f32), Axes{0, -3});
      },
      "[max] axis -3 is out of range for a tensor of rank 2");
  expect_error<AttributeError>(
      [](Graph& g) {
        ops::argmax(g.input("x", {2, 3}, DType::f32), 2);
      },
      "[argmax] axis 2 is out of range for a tensor of rank 2");
  expect_error<AttributeError>(
      [](Graph& g) {
        ops::softmax(g.input("x", {2, 3}, DType::f32), -3);
      },
      "[softmax] axis -3 is out of range for a tensor of rank 2");
}

TEST(ReduceErrors, RepeatedAxis) {
  expect_error<AttributeError>(
      [](Graph& g) {
        ops::mean(g.input("x", {2, 3}, DType::f32), Axes{1, -1});
      },
      "[mean] repeated axis in 1,-1");
}

TEST(ReduceErrors, EmptyAxisWithMax) {
  expect_error<ShapeError>(
      [](Graph& g) {
        ops::max(g.input("x", {2, 0}, DType::f32), Axes{1});
      },
      "[max] cannot reduce an empty axis 1 of shape (2,0)");
  expect_error<ShapeError>(
      [](Graph& g) {
        ops::argmin(g.input("x", {0, 2}, DType::f64), 0);
      },
      "[argmin] cannot reduce an empty axis 0 of shape (0,2)");
}

TEST(ReduceErrors, FloatOnlyOpsRejectIntegers) {
  expect_error<DTypeError>([](Graph& g) { ops::mean(g.input("x", {2}, DType::i32)); },
                           "[mean] needs a floating-point input, got i32");
  expect_error<DTypeError>([](Graph& g) { ops::softmax(g.input("x", {2}, DType::i64)); },
                           "[softmax] needs a floating-point input, got i64");
}

}  // namespace
}  // namespace mithril
