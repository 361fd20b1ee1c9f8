// Forward tests against naive references, gradient checks, and error messages for the layout
// and indexing family.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "mithril/core/error.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/shape.h"
#include "support/gradcheck.h"

namespace mithril {
namespace {

using testing::evaluate;
using testing::expect_close;
using testing::expect_gradients_match;
using testing::random_tensor;

using Index = std::vector<int64_t>;

Index unravel(int64_t flat, const Shape& shape) {
  Index idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  return idx;
}

// Reference built element by element: out[idx] = f(idx) over every index of `shape`.
template <typename F>
std::vector<double> build_reference(const Shape& shape, F f) {
  std::vector<double> r;
  for (int64_t i = 0; i < numel(shape); ++i) r.push_back(f(unravel(i, shape)));
  return r;
}

Tensor run1(const std::function<Var(const std::vector<Var>&)>& fn, const std::vector<Tensor>& inputs) {
  return evaluate([&](Graph&, const std::vector<Var>& x) { return std::vector{fn(x)}; }, inputs)[0];
}

// Random values of any dtype: small integers for int types, alternating values for bool.
Tensor random_any(const Shape& shape, DType dt, uint64_t seed) {
  if (is_float(dt)) return random_tensor(shape, dt, seed, -4, 4);
  std::vector<double> v = random_tensor(shape, DType::f64, seed, -50, 50).to_doubles();
  for (double& x : v)
    x = dt == DType::b8 ? static_cast<double>(static_cast<int64_t>(std::floor(x)) % 2 != 0) : std::floor(x);
  return Tensor::from_doubles(v, shape, dt);
}

const DType kDataDTypes[] = {DType::f64, DType::f32, DType::f16, DType::bf16,
                             DType::i8,  DType::i32, DType::i64, DType::b8};

// Python's slice(start, stop, step).indices(n) for step > 0, as a list of positions.
Index python_range(int64_t n, int64_t start, int64_t stop, int64_t step) {
  auto fix = [n](int64_t v) {
    if (v < 0) v += n;
    return v < 0 ? 0 : (v > n ? n : v);
  };
  Index r;
  for (int64_t i = fix(start); i < fix(stop); i += step) r.push_back(i);
  return r;
}

// ---- cast, reshape, broadcast_to, permute ----

TEST(Shape, CastRoundsToNearestEvenWhenNarrowing) {
  // f16 keeps 10 mantissa bits, bf16 7: 1 + half an ulp ties to 1 (even), 1 + 1.5 ulp to 1 + 2 ulp.
  const Tensor x =
      Tensor::from_doubles({1 + std::ldexp(1, -11), 1 + 3 * std::ldexp(1, -11), 65519, 65520, -2.5}, {5}, DType::f32);
  expect_close(run1([](const auto& v) { return ops::cast(v[0], DType::f16); }, {x}),
               {1.0, 1 + std::ldexp(1, -9), 65504, INFINITY, -2.5}, 0, 0);
  const Tensor y = Tensor::from_doubles({1 + std::ldexp(1, -8), 1 + 3 * std::ldexp(1, -8), -3.0}, {3}, DType::f32);
  expect_close(run1([](const auto& v) { return ops::cast(v[0], DType::bf16); }, {y}),
               {1.0, 1 + std::ldexp(1, -6), -3.0}, 0, 0);
}

TEST(Shape, CastBetweenIntFloatAndBool) {
  const Tensor f = Tensor::from_doubles({-2.7, -0.5, 0.0, 0.5, 2.7}, {5}, DType::f64);
  const Tensor i = run1([](const auto& v) { return ops::cast(v[0], DType::i32); }, {f});
  EXPECT_EQ(i.dtype(), DType::i32);
  expect_close(i, {-2, 0, 0, 0, 2});  // truncation toward zero, as NumPy's astype
  const Tensor b = run1([](const auto& v) { return ops::cast(v[0], DType::b8); }, {f});
  expect_close(b, {1, 1, 0, 1, 1});
  const Tensor back = run1([](const auto& v) { return ops::cast(ops::cast(v[0], DType::b8), DType::f32); }, {f});
  EXPECT_EQ(back.dtype(), DType::f32);
  expect_close(back, {1, 1, 0, 1, 1});
  const Tensor ints = Tensor::from_vector<int64_t>({-3, 0, 7}, {3});
  expect_close(run1([](const auto& v) { return ops::cast(v[0], DType::f32); }, {ints}), {-3, 0, 7});
  expect_close(run1([](const auto& v) { return ops::cast(v[0], DType::i8); }, {ints}), {-3, 0, 7});
}

TEST(Shape, CastToSameDTypeAddsNoNode) {
  Graph g;
  Var x = g.input("x", {2}, DType::f32);
  EXPECT_EQ(ops::cast(x, DType::f32).id(), x.id());
  EXPECT_TRUE(g.nodes().empty());
}

TEST(Shape, ReshapeKeepsRowMajorOrderAndInfersMinusOne) {
  for (DType dt : {DType::f64, DType::f32, DType::i32}) {
    const Tensor x = random_any({2, 3, 4}, dt, 3);
    const Tensor out = run1([](const auto& v) { return ops::reshape(v[0], {4, -1}); }, {x});
    EXPECT_EQ(out.shape(), (Shape{4, 6}));
    EXPECT_EQ(out.dtype(), dt);
    expect_close(out, x.to_doubles(), 0, 0);
  }
}

TEST(Shape, FlattenSqueezeAndUnsqueezeGiveTheExpectedShapes) {
  Graph g;
  Var x = g.input("x", {2, 3, 4}, DType::f32);
  EXPECT_EQ(ops::flatten(x).shape(), (Shape{24}));
  EXPECT_EQ(ops::flatten(x, 1).shape(), (Shape{2, 12}));
  EXPECT_EQ(ops::flatten(x, 0, -2).shape(), (Shape{6, 4}));
  EXPECT_EQ(ops::unsqueeze(x, -1).shape(), (Shape{2, 3, 4, 1}));
  EXPECT_EQ(ops::squeeze(ops::unsqueeze(x, 1), 1).shape(), (Shape{2, 3, 4}));
  const Tensor t = random_tensor({3, 2}, DType::f64, 4);
  expect_close(run1([](const auto& v) { return ops::flatten(ops::unsqueeze(v[0], 1), 1); }, {t}), t, 0, 0);
}

TEST(Shape, BroadcastToMatchesReference) {
  for (DType dt : {DType::f64, DType::f32, DType::i64}) {
    const Tensor x = random_any({3, 1}, dt, 5);
    const Shape to = {2, 3, 4};
    const Tensor out = run1([&](const auto& v) { return ops::broadcast_to(v[0], to); }, {x});
    expect_close(out, build_reference(to, [&](const Index& i) { return x.at({i[1], 0}); }), 0, 0);
  }
}

TEST(Shape, PermuteMatchesReference) {
  for (DType dt : kDataDTypes) {
    const Tensor x = random_any({2, 3, 4}, dt, 6);
    const Tensor out = run1([](const auto& v) { return ops::permute(v[0], {2, 0, -2}); }, {x});
    EXPECT_EQ(out.shape(), (Shape{4, 2, 3}));
    expect_close(out, build_reference(out.shape(), [&](const Index& i) { return x.at({i[1], i[2], i[0]}); }), 0, 0);
  }
  const Tensor x = random_tensor({2, 3}, DType::f64, 7);
  const Tensor t = run1([](const auto& v) { return ops::swap_axes(ops::transpose(v[0]), 0, 1); }, {x});
  expect_close(t, x, 0, 0);
}

// ---- slice and pad ----

TEST(Shape, SliceFollowsNumPyClampingAndNegativeIndices) {
  const Tensor x = Tensor::arange(10, DType::f64);
  auto sl = [&](int64_t b, int64_t e, int64_t s) {
    return run1([&](const auto& v) { return ops::slice(v[0], 0, b, e, s); }, {x});
  };
  expect_close(sl(-7, 100, 3), {3, 6, 9});
  expect_close(sl(-100, -8, 1), {0, 1});
  expect_close(sl(2, kSliceEnd, 4), {2, 6});
  EXPECT_EQ(sl(5, 2, 1).shape(), (Shape{0}));
  EXPECT_EQ(sl(12, 20, 1).shape(), (Shape{0}));
}

TEST(Shape, MultiAxisSliceMatchesReferenceForEveryDType) {
  const Shape shape = {4, 5, 6};
  for (DType dt : kDataDTypes) {
    const Tensor x = random_any(shape, dt, 8);
    const Tensor out = run1(
        [](const auto& v) {
          return ops::slice(v[0], {2, 0}, {-5, 1}, {kSliceEnd, 10}, {2, 2});
        },
        {x});
    const Index r0 = python_range(4, 1, 10, 2), r2 = python_range(6, -5, kSliceEnd, 2);
    EXPECT_EQ(out.shape(), (Shape{static_cast<int64_t>(r0.size()), 5, static_cast<int64_t>(r2.size())}));
    EXPECT_EQ(out.dtype(), dt);
    expect_close(out,
                 build_reference(out.shape(),
                                 [&](const Index& i) {
                                   return x.at({r0[static_cast<size_t>(i[0])], i[1], r2[static_cast<size_t>(i[2])]});
                                 }),
                 0, 0);
  }
}

TEST(Shape, SliceOfEverythingAddsNoNodeAndEqualSlicesAreEquivalent) {
  Graph g;
  Var x = g.input("x", {3, 4}, DType::f32);
  EXPECT_EQ(ops::slice(x, 1, -100, kSliceEnd).id(), x.id());
  Var a = ops::slice(x, 1, -3, 100, 2);
  Var b = ops::slice(x, -1, 1, 4, 2);
  ASSERT_EQ(g.nodes().size(), 2u);
  EXPECT_TRUE(g.nodes()[0].op->equivalent(*g.nodes()[1].op));
  EXPECT_EQ(a.shape(), b.shape());
}

TEST(Shape, PadMatchesReference) {
  const Shape shape = {2, 3};
  const Index low = {1, 0}, high = {0, 2}, interior = {2, 1};
  for (DType dt : {DType::f64, DType::f32, DType::i64, DType::bf16}) {
    const Tensor x = random_any(shape, dt, 9);
    const Tensor out = run1([&](const auto& v) { return ops::pad(v[0], low, high, interior, 1.5); }, {x});
    EXPECT_EQ(out.shape(), (Shape{1 + 2 + 2 + 0, 0 + 3 + 2 + 2}));
    const double fill = dt == DType::i64 ? 1.0 : 1.5;  // the value is converted to the dtype
    expect_close(out,
                 build_reference(out.shape(),
                                 [&](const Index& i) {
                                   const int64_t a = i[0] - low[0], b = i[1] - low[1];
                                   const bool in = a >= 0 && b >= 0 && a % (interior[0] + 1) == 0 &&
                                                   b % (interior[1] + 1) == 0 && a / (interior[0] + 1) < shape[0] &&
                                                   b / (interior[1] + 1) < shape[1];
                                   return in ? x.at({a / (interior[0] + 1), b / (interior[1] + 1)}) : fill;
                                 }),
                 0, 0);
  }
  // Empty input: only the edge padding remains.
  const Tensor e = run1([](const auto& v) { return ops::pad(v[0], {2}, {1}, {3}); }, {Tensor::zeros({0}, DType::f32)});
  expect_close(e, {0, 0, 0});
}

// ---- concat and split ----

TEST(Shape, ConcatMatchesReference) {
  for (DType dt : kDataDTypes) {
    const Tensor a = random_any({2, 1, 3}, dt, 10), b = random_any({2, 2, 3}, dt, 11),
                 c = random_any({2, 0, 3}, dt, 12);
    const Tensor out = run1([](const auto& v) { return ops::concat({v[0], v[1], v[2]}, -2); }, {a, b, c});
    EXPECT_EQ(out.shape(), (Shape{2, 3, 3}));
    expect_close(out,
                 build_reference(out.shape(),
                                 [&](const Index& i) {
                                   return i[1] == 0 ? a.at({i[0], 0, i[2]}) : b.at({i[0], i[1] - 1, i[2]});
                                 }),
                 0, 0);
  }
}

TEST(Shape, SplitIsTheInverseOfConcat) {
  for (DType dt : {DType::f64, DType::f32, DType::i32, DType::b8}) {
    const Tensor x = random_any({3, 6}, dt, 13);
    const auto outs = evaluate(
        [](Graph&, const std::vector<Var>& v) {
          return ops::split(v[0], {1, 0, 3, 2}, -1);
        },
        {x});
    ASSERT_EQ(outs.size(), 4u);
    const Index at = {0, 1, 1, 4};
    for (size_t k = 0; k < outs.size(); ++k) {
      EXPECT_EQ(outs[k].dtype(), dt);
      expect_close(outs[k],
                   build_reference(outs[k].shape(),
                                   [&](const Index& i) {
                                     return x.at({i[0], i[1] + at[k]});
                                   }),
                   0, 0);
    }
  }
  EXPECT_EQ(SplitOp(0, {1, 2, 3}).num_outputs(), 3);
}

// ---- gather, scatter_add, embedding ----

TEST(Shape, GatherMatchesNumPyTake) {
  const Shape shape = {3, 4, 2};
  const std::vector<int64_t> idx = {3, -1, 0, 0, 2, -4};
  for (DType dt : kDataDTypes) {
    for (DType it : {DType::i32, DType::i64}) {
      const Tensor x = random_any(shape, dt, 14);
      const Tensor ind = Tensor::from_doubles({idx.begin(), idx.end()}, {2, 3}, it);
      const Tensor out = run1([](const auto& v) { return ops::gather(v[0], v[1], 1); }, {x, ind});
      EXPECT_EQ(out.shape(), (Shape{3, 2, 3, 2}));
      EXPECT_EQ(out.dtype(), dt);
      expect_close(out,
                   build_reference(out.shape(),
                                   [&](const Index& i) {
                                     const int64_t k = idx[static_cast<size_t>(i[1] * 3 + i[2])];
                                     return x.at({i[0], k < 0 ? k + 4 : k, i[3]});
                                   }),
                   0, 0);
    }
  }
  // A 0-d index removes the axis.
  const Tensor x = random_tensor({3, 4}, DType::f64, 15);
  const Tensor col =
      run1([](const auto& v) { return ops::gather(v[0], v[1], -1); }, {x, Tensor::scalar(2, DType::i64)});
  EXPECT_EQ(col.shape(), (Shape{3}));
  expect_close(col, {x.at({0, 2}), x.at({1, 2}), x.at({2, 2})}, 0, 0);
}

TEST(Shape, ScatterAddAccumulatesRepeatedIndices) {
  const std::vector<int64_t> idx = {2, 0, 2, -1, 1};
  for (DType dt : {DType::f64, DType::f32, DType::i32, DType::i64}) {
    const Tensor u = random_any({2, 5}, dt, 16);
    const Tensor ind = Tensor::from_doubles({idx.begin(), idx.end()}, {5}, DType::i64);
    const Tensor out = run1([](const auto& v) { return ops::scatter_add(v[0], v[1], 1, {2, 3}); }, {u, ind});
    EXPECT_EQ(out.dtype(), dt);
    expect_close(out,
                 build_reference({2, 3},
                                 [&](const Index& i) {
                                   double s = 0;
                                   for (size_t j = 0; j < idx.size(); ++j)
                                     if ((idx[j] + 3) % 3 == i[1]) s += u.at({i[0], static_cast<int64_t>(j)});
                                   return s;
                                 }),
                 1e-6, 1e-6);
  }
}

TEST(Shape, EmbeddingLooksUpRows) {
  const Tensor w = random_tensor({5, 3}, DType::f32, 17);
  const Tensor ind = Tensor::from_vector<int32_t>({4, 0, 4}, {1, 3});
  const Tensor out = run1([](const auto& v) { return ops::embedding(v[0], v[1]); }, {ind, w});
  EXPECT_EQ(out.shape(), (Shape{1, 3, 3}));
  expect_close(out,
               build_reference(out.shape(),
                               [&](const Index& i) {
                                 return w.at({i[1] == 1 ? 0 : 4, i[2]});
                               }),
               0, 0);
}

TEST(Shape, LargeTensorsMatchReferenceAcrossThreads) {
  // Big enough for parallel_for to split the work.
  const Tensor x = random_tensor({64, 48, 40}, DType::f64, 18);
  const Tensor p = run1([](const auto& v) { return ops::permute(v[0], {2, 0, 1}); }, {x});
  expect_close(p, build_reference(p.shape(), [&](const Index& i) { return x.at({i[1], i[2], i[0]}); }), 0, 0);
  const Tensor s = run1([](const auto& v) { return ops::slice(v[0], 1, 1, kSliceEnd, 3); }, {x});
  expect_close(s, build_reference(s.shape(), [&](const Index& i) { return x.at({i[0], 1 + 3 * i[1], i[2]}); }), 0, 0);
  std::vector<double> idx;
  for (int i = 0; i < 300; ++i) idx.push_back((i * 7) % 5);
  const Tensor u = random_tensor({300, 500}, DType::f64, 19);
  const Tensor sa = run1(
      [](const auto& v) {
        return ops::scatter_add(v[0], v[1], 0, {5, 500});
      },
      {u, Tensor::from_doubles(idx, {300}, DType::i64)});
  expect_close(sa,
               build_reference({5, 500},
                               [&](const Index& i) {
                                 double acc = 0;
                                 for (int64_t j = 0; j < 300; ++j)
                                   if (idx[static_cast<size_t>(j)] == static_cast<double>(i[0])) acc += u.at({j, i[1]});
                                 return acc;
                               }),
               0, 0);
}

// ---- diagonal, eye, one_hot ----

TEST(Shape, DiagonalMatchesNumPyForEveryOffset) {
  const Tensor x = random_tensor({2, 3, 4}, DType::f64, 20);
  for (int64_t offset = -4; offset <= 5; ++offset) {
    const Tensor out = run1([&](const auto& v) { return ops::diagonal(v[0], offset); }, {x});
    const int64_t len =
        std::max<int64_t>(0, offset >= 0 ? std::min<int64_t>(3, 4 - offset) : std::min<int64_t>(3 + offset, 4));
    EXPECT_EQ(out.shape(), (Shape{2, len})) << "offset " << offset;
    expect_close(out,
                 build_reference(
                     out.shape(),
                     [&](const Index& i) {
                       return x.at({i[0], i[1] + std::max<int64_t>(-offset, 0), i[1] + std::max<int64_t>(offset, 0)});
                     }),
                 0, 0);
  }
  const Tensor b = Tensor::from_vector<bool>({true, false, false, true}, {2, 2});
  expect_close(run1([](const auto& v) { return ops::diagonal(v[0]); }, {b}), {1, 1});
}

TEST(Shape, EyeIsANullaryOp) {
  for (DType dt : {DType::f64, DType::f32, DType::i32, DType::b8}) {
    for (int64_t offset : {-1, 0, 2, 5}) {
      const Tensor out = evaluate(
          [&](Graph& g, const std::vector<Var>&) { return std::vector{ops::eye(g, 3, 4, offset, dt)}; }, {})[0];
      EXPECT_EQ(out.shape(), (Shape{3, 4}));
      EXPECT_EQ(out.dtype(), dt);
      expect_close(out, build_reference({3, 4}, [&](const Index& i) { return i[1] - i[0] == offset ? 1.0 : 0.0; }), 0,
                   0);
    }
  }
  // Used next to graph inputs: masks the diagonal of x.
  const Tensor x = random_tensor({2, 2}, DType::f64, 21);
  const Tensor m = run1([](const auto& v) { return v[0] * ops::eye(v[0].graph(), 2, 2, 0, DType::f64); }, {x});
  expect_close(m, {x.at({0, 0}), 0, 0, x.at({1, 1})}, 0, 0);
}

TEST(Shape, OneHotMatchesReference) {
  const Tensor ind = Tensor::from_vector<int64_t>({2, 0, 1, 2}, {2, 2});
  const Tensor out = run1([](const auto& v) { return ops::one_hot(v[0], 3, DType::f64); }, {ind});
  EXPECT_EQ(out.shape(), (Shape{2, 2, 3}));
  expect_close(out, {0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1}, 0, 0);
  const Tensor b =
      run1([](const auto& v) { return ops::one_hot(v[0], 2, DType::b8); }, {Tensor::from_vector<int32_t>({1}, {1})});
  EXPECT_EQ(b.dtype(), DType::b8);
  expect_close(b, {0, 1});
}

// ---- gradient checks (float64, central differences) ----

testing::GraphFn unary_fn(std::function<Var(const Var&)> f) {
  return [f](Graph&, const std::vector<Var>& x) { return std::vector{f(x[0])}; };
}

TEST(GradCheck, Cast) {
  expect_gradients_match(
      [](Graph& g, const std::vector<Var>& x) {
        return std::vector{g.apply1(std::make_shared<CastOp>(DType::f64), {x[0]})};
      },
      {random_tensor({2, 3}, DType::f64, 30)});
}
TEST(GradCheck, Reshape) {
  expect_gradients_match(unary_fn([](const Var& x) {
                           return ops::reshape(x, {3, 4});
                         }),
                         {random_tensor({2, 3, 2}, DType::f64, 31)});
}
TEST(GradCheck, BroadcastTo) {
  expect_gradients_match(unary_fn([](const Var& x) {
                           return ops::broadcast_to(x, {2, 3, 4});
                         }),
                         {random_tensor({3, 1}, DType::f64, 32)});
}
TEST(GradCheck, Permute) {
  expect_gradients_match(unary_fn([](const Var& x) {
                           return ops::permute(x, {1, 2, 0});
                         }),
                         {random_tensor({2, 3, 4}, DType::f64, 33)});
}
TEST(GradCheck, Slice) {
  expect_gradients_match(unary_fn([](const Var& x) {
                           return ops::slice(x, {0, 1}, {-4, 1}, {kSliceEnd, 6}, {2, 2});
                         }),
                         {random_tensor({5, 6}, DType::f64, 34)});
  expect_gradients_match(unary_fn([](const Var& x) { return ops::slice(x, 1, 4, 1); }),
                         {random_tensor({2, 3}, DType::f64, 35)});  // empty result
}
TEST(GradCheck, Pad) {
  expect_gradients_match(unary_fn([](const Var& x) {
                           return ops::pad(x, {1, 0}, {0, 2}, {1, 2}, 0.5);
                         }),
                         {random_tensor({2, 3}, DType::f64, 36)});
}
TEST(GradCheck, Concat) {
  expect_gradients_match(
      [](Graph&, const std::vector<Var>& x) {
        return std::vector{ops::concat({x[0], x[1], x[2]}, 1)};
      },
      {random_tensor({2, 1, 3}, DType::f64, 37), random_tensor({2, 2, 3}, DType::f64, 38),
       random_tensor({2, 3, 3}, DType::f64, 39)});
}
TEST(GradCheck, Split) {
  expect_gradients_match(
      [](Graph&, const std::vector<Var>& x) {
        return ops::split(x[0], {1, 3, 2}, 1);
      },
      {random_tensor({2, 6}, DType::f64, 40)});
  // Outputs without a cotangent contribute zeros.
  expect_gradients_match(
      [](Graph&, const std::vector<Var>& x) {
        return std::vector{ops::split(x[0], {1, 3, 2}, 1)[1]};
      },
      {random_tensor({2, 6}, DType::f64, 41)});
}
TEST(GradCheck, Gather) {
  const Tensor idx = Tensor::from_vector<int64_t>({1, -1, 1, 0, 3, 1}, {2, 3});
  expect_gradients_match([](Graph&, const std::vector<Var>& x) { return std::vector{ops::gather(x[0], x[1], 0)}; },
                         {random_tensor({4, 3}, DType::f64, 42), idx});
  expect_gradients_match([](Graph&, const std::vector<Var>& x) { return std::vector{ops::gather(x[0], x[1], 1)}; },
                         {random_tensor({2, 5, 2}, DType::f64, 43), idx});
  expect_gradients_match([](Graph&, const std::vector<Var>& x) { return std::vector{ops::embedding(x[1], x[0])}; },
                         {random_tensor({4, 3}, DType::f64, 44), Tensor::from_vector<int32_t>({3, 3, 0}, {3})});
}
TEST(GradCheck, ScatterAdd) {
  const Tensor idx = Tensor::from_vector<int64_t>({2, 0, 2, -1, 1}, {5});
  expect_gradients_match(
      [](Graph&, const std::vector<Var>& x) {
        return std::vector{ops::scatter_add(x[0], x[1], 1, {2, 3})};
      },
      {random_tensor({2, 5}, DType::f64, 45), idx});
}
TEST(GradCheck, Diagonal) {
  for (int64_t offset : {1, -1, 0, 4}) {
    expect_gradients_match(unary_fn([offset](const Var& x) { return ops::diagonal(x, offset); }),
                           {random_tensor({2, 3, 4}, DType::f64, 46 + static_cast<uint64_t>(offset + 1))});
  }
}

// ---- errors ----

template <typename E, typename F>
void expect_error(F f, const char* message) {
  try {
    f();
    FAIL() << "expected an error: " << message;
  } catch (const E& e) {
    EXPECT_STREQ(e.what(), message);
  }
}

TEST(ShapeErrors, ReshapeSizeMismatch) {
  Graph g;
  Var x = g.input("x", {2, 3}, DType::f32);
  expect_error<ShapeError>([&] { ops::reshape(x, {4}); },
                           "[reshape] cannot reshape (2,3) (6 elements) into (4,) (4 elements)");
}

TEST(ShapeErrors, BroadcastToIncompatible) {
  Graph g;
  Var x = g.input("x", {2, 3}, DType::f32);
  expect_error<ShapeError>([&] { ops::broadcast_to(x, {4, 3}); }, "[broadcast_to] cannot broadcast (2,3) to (4,3)");
}

TEST(ShapeErrors, ConcatMismatchedDimsAndDTypes) {
  Graph g;
  Var a = g.input("a", {2, 3}, DType::f32);
  Var b = g.input("b", {3, 3}, DType::f32);
  Var c = g.input("c", {2, 1}, DType::f64);
  expect_error<ShapeError>(
      [&] {
        ops::concat({a, a, b}, 1);
      },
      "[concat] input 2 has shape (3,3) but input 0 has shape (2,3): all dims except axis 1 must match");
  expect_error<DTypeError>(
      [&] {
        ops::concat({a, c}, 1);
      },
      "[concat] dtype mismatch: input 0 is f32 but input 1 is f64");
  expect_error<ValueError>([&] { ops::concat({}, 0); }, "[concat] expects at least 1 input, got 0");
}

TEST(ShapeErrors, GatherIndexOutOfRangeAtRunTime) {
  auto gather = [](const std::vector<Var>& v) { return ops::gather(v[0], v[1], 0); };
  const Tensor x = random_tensor({3, 2}, DType::f64, 50);
  expect_error<ValueError>(
      [&] {
        run1(gather, {x, Tensor::from_vector<int64_t>({0, 3}, {2})});
      },
      "[gather] index 3 is out of range for axis 0 with size 3");
  expect_error<ValueError>(
      [&] {
        run1(gather, {x, Tensor::from_vector<int32_t>({-4}, {1})});
      },
      "[gather] index -4 is out of range for axis 0 with size 3");
}

TEST(ShapeErrors, GatherWithFloatIndices) {
  Graph g;
  Var x = g.input("x", {3, 2}, DType::f64);
  Var i = g.input("i", {2}, DType::f32);
  expect_error<DTypeError>([&] { ops::gather(x, i, 0); }, "[gather] indices must be i32 or i64, got f32");
}

TEST(ShapeErrors, SlicePadSplitAndDiagonalAttributes) {
  Graph g;
  Var x = g.input("x", {5, 3}, DType::f32);
  expect_error<AttributeError>([&] { ops::slice(x, 1, 0, 2, 0); }, "[slice] step must be positive, got 0 for axis 1");
  expect_error<AttributeError>([&] { ops::slice(x, {0, -2}, {0, 0}, {1, 1}); }, "[slice] axis -2 repeated in (0,-2)");
  expect_error<AttributeError>(
      [&] {
        ops::pad(x, {0, -1}, {0, 0});
      },
      "[pad] padding must be non-negative: low=(0,-1) high=(0,0) interior=(0,0)");
  expect_error<ShapeError>(
      [&] {
        ops::split(x, {2, 2}, 0);
      },
      "[split] sizes (2,2) add up to 4 but axis 0 of shape (5,3) has size 5");
  Var v = g.input("v", {3}, DType::f32);
  expect_error<ShapeError>([&] { ops::diagonal(v); }, "[diagonal] input of shape (3,) needs at least 2 dims");
}

TEST(ShapeErrors, ScatterAddAndOneHot) {
  Graph g;
  Var u = g.input("u", {2, 4}, DType::f32);
  Var i = g.input("i", {5}, DType::i64);
  expect_error<ShapeError>(
      [&] {
        ops::scatter_add(u, i, 1, {2, 3});
      },
      "[scatter_add] updates have shape (2,4) but indices of shape (5,) into (2,3) along axis 1 need (2,5)");
  auto one_hot = [](const std::vector<Var>& v) { return ops::one_hot(v[0], 3); };
  expect_error<ValueError>(
      [&] {
        run1(one_hot, {Tensor::from_vector<int64_t>({0, 3}, {2})});
      },
      "[one_hot] index 3 is out of range for 3 classes");
  expect_error<ValueError>([&] { run1(one_hot, {Tensor::from_vector<int32_t>({-1}, {1})}); },
                           "[one_hot] index -1 is out of range for 3 classes");
}

}  // namespace
}  // namespace mithril
