// Convolution and pooling: forward against direct nested-loop references (stride, padding,
// dilation, groups), the backward ops against their definitions, Mithril's max-pool rules by
// hand, gradient checks and error messages.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "mithril/backends/cpu/executor.h"
#include "mithril/core/error.h"
#include "mithril/graph/autodiff.h"
#include "mithril/ops/conv.h"
#include "support/gradcheck.h"

namespace mithril {
namespace {

using testing::evaluate;
using testing::expect_close;
using testing::expect_gradients_match;
using testing::random_tensor;

// ---- references ----

int64_t out_size(int64_t in, int64_t before, int64_t after, int64_t k, int64_t stride, int64_t dilation) {
  return (in + before + after - dilation * (k - 1) - 1) / stride + 1;
}

// The direct definition of conv2d as a sum of products: calls f(x_index, w_index, y_index)
// for every term y[n,o,oy,ox] += x[n,c,iy,ix] * w[o,ci,i,j] with (iy, ix) inside the input.
template <typename F>
void for_each_conv_term(const Shape& xs, const Shape& ws, const Conv2dParams& p, F f) {
  const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3], O = ws[0], CI = ws[1], KH = ws[2], KW = ws[3];
  const int64_t OH = out_size(H, p.padding[0], p.padding[1], KH, p.stride[0], p.dilation[0]);
  const int64_t OW = out_size(W, p.padding[2], p.padding[3], KW, p.stride[1], p.dilation[1]);
  const int64_t per_group_out = O / p.groups;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox)
          for (int64_t ci = 0; ci < CI; ++ci)
            for (int64_t i = 0; i < KH; ++i)
              for (int64_t j = 0; j < KW; ++j) {
                const int64_t c = (o / per_group_out) * CI + ci;
                const int64_t iy = oy * p.stride[0] - p.padding[0] + i * p.dilation[0];
                const int64_t ix = ox * p.stride[1] - p.padding[2] + j * p.dilation[1];
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                f(((n * C + c) * H + iy) * W + ix, ((o * CI + ci) * KH + i) * KW + j,
                  ((n * O + o) * OH + oy) * OW + ox);
              }
}

Shape conv_out_shape(const Shape& xs, const Shape& ws, const Conv2dParams& p) {
  return {xs[0], ws[0], out_size(xs[2], p.padding[0], p.padding[1], ws[2], p.stride[0], p.dilation[0]),
          out_size(xs[3], p.padding[2], p.padding[3], ws[3], p.stride[1], p.dilation[1])};
}

Tensor reference_conv2d(const Tensor& x, const Tensor& w, const Conv2dParams& p) {
  const std::vector<double> xv = x.to_doubles(), wv = w.to_doubles();
  const Shape ys = conv_out_shape(x.shape(), w.shape(), p);
  std::vector<double> y(static_cast<size_t>(numel(ys)), 0.0);
  for_each_conv_term(x.shape(), w.shape(), p, [&](int64_t xi, int64_t wi, int64_t yi) { y[yi] += xv[xi] * wv[wi]; });
  return Tensor::from_doubles(y, ys, DType::f64);
}

Tensor reference_backward_input(const Tensor& go, const Tensor& w, const Conv2dParams& p, const Shape& xs) {
  const std::vector<double> gv = go.to_doubles(), wv = w.to_doubles();
  std::vector<double> gx(static_cast<size_t>(numel(xs)), 0.0);
  for_each_conv_term(xs, w.shape(), p, [&](int64_t xi, int64_t wi, int64_t yi) { gx[xi] += gv[yi] * wv[wi]; });
  return Tensor::from_doubles(gx, xs, DType::f64);
}

Tensor reference_backward_weight(const Tensor& go, const Tensor& x, const Conv2dParams& p, const Shape& ws) {
  const std::vector<double> gv = go.to_doubles(), xv = x.to_doubles();
  std::vector<double> gw(static_cast<size_t>(numel(ws)), 0.0);
  for_each_conv_term(x.shape(), ws, p, [&](int64_t xi, int64_t wi, int64_t yi) { gw[wi] += gv[yi] * xv[xi]; });
  return Tensor::from_doubles(gw, ws, DType::f64);
}

// Direct 1-D convolution: y[n,o,t] = sum_{ci,k} x[n, g*CI+ci, t*s - pl + k*d] * w[o,ci,k].
Tensor reference_conv1d(const Tensor& x, const Tensor& w, const Conv1dParams& p) {
  const int64_t N = x.dim(0), W = x.dim(2), O = w.dim(0), CI = w.dim(1), K = w.dim(2);
  const int64_t OW = out_size(W, p.padding[0], p.padding[1], K, p.stride, p.dilation);
  std::vector<double> y;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t t = 0; t < OW; ++t) {
        double s = 0;
        for (int64_t ci = 0; ci < CI; ++ci)
          for (int64_t k = 0; k < K; ++k) {
            const int64_t ix = t * p.stride - p.padding[0] + k * p.dilation;
            if (ix >= 0 && ix < W) s += x.at({n, (o / (O / p.groups)) * CI + ci, ix}) * w.at({o, ci, k});
          }
        y.push_back(s);
      }
  return Tensor::from_doubles(y, {N, O, OW}, DType::f64);
}

// Pooling windows over the last two axes: calls f(window input indices, -1 for padding;
// output index) per output element and returns the output shape. Stride 0 means the kernel.
template <typename F>
Shape for_each_window(const Shape& xs, Pool2dParams p, F f) {
  for (size_t a = 0; a < 2; ++a) p.stride[a] = p.stride[a] == 0 ? p.kernel[a] : p.stride[a];
  const int64_t H = xs[xs.size() - 2], W = xs.back();
  const int64_t OH = out_size(H, p.padding[0], p.padding[1], p.kernel[0], p.stride[0], p.dilation[0]);
  const int64_t OW = out_size(W, p.padding[2], p.padding[3], p.kernel[1], p.stride[1], p.dilation[1]);
  const int64_t planes = numel(xs) / (H * W);
  for (int64_t pl = 0; pl < planes; ++pl)
    for (int64_t oy = 0; oy < OH; ++oy)
      for (int64_t ox = 0; ox < OW; ++ox) {
        std::vector<int64_t> idx;
        for (int64_t i = 0; i < p.kernel[0]; ++i)
          for (int64_t j = 0; j < p.kernel[1]; ++j) {
            const int64_t iy = oy * p.stride[0] - p.padding[0] + i * p.dilation[0];
            const int64_t ix = ox * p.stride[1] - p.padding[2] + j * p.dilation[1];
            idx.push_back(iy < 0 || iy >= H || ix < 0 || ix >= W ? -1 : (pl * H + iy) * W + ix);
          }
        f(idx, (pl * OH + oy) * OW + ox);
      }
  Shape out(xs.begin(), xs.end() - 2);
  out.push_back(OH);
  out.push_back(OW);
  return out;
}

std::vector<double> reference_pool(const Tensor& x, const Pool2dParams& p, bool is_max) {
  const std::vector<double> xv = x.to_doubles();
  std::vector<double> out;
  for_each_window(x.shape(), p, [&](const std::vector<int64_t>& idx, int64_t) {
    double m = -INFINITY, s = 0;
    for (int64_t i : idx) {
      const double v = i < 0 ? 0.0 : xv[static_cast<size_t>(i)];
      m = std::max(m, v);
      s += v;
    }
    out.push_back(is_max ? m : s / static_cast<double>(idx.size()));
  });
  return out;
}

// Mithril's max-pool gradient: the full window gradient to every input equal to the window max.
std::vector<double> reference_max_pool_backward(const Tensor& go, const Tensor& x, const Pool2dParams& p) {
  const std::vector<double> xv = x.to_doubles(), gv = go.to_doubles();
  std::vector<double> gx(xv.size(), 0.0);
  for_each_window(x.shape(), p, [&](const std::vector<int64_t>& idx, int64_t o) {
    double m = -INFINITY;
    for (int64_t i : idx) m = std::max(m, i < 0 ? 0.0 : xv[static_cast<size_t>(i)]);
    for (int64_t i : idx)
      if (i >= 0 && xv[static_cast<size_t>(i)] == m) gx[static_cast<size_t>(i)] += gv[static_cast<size_t>(o)];
  });
  return gx;
}

std::vector<double> reference_avg_pool_backward(const Tensor& go, const Shape& xs, const Pool2dParams& p) {
  const std::vector<double> gv = go.to_doubles();
  std::vector<double> gx(static_cast<size_t>(numel(xs)), 0.0);
  for_each_window(xs, p, [&](const std::vector<int64_t>& idx, int64_t o) {
    for (int64_t i : idx)
      if (i >= 0) gx[static_cast<size_t>(i)] += gv[static_cast<size_t>(o)] / static_cast<double>(idx.size());
  });
  return gx;
}

// Distinct values with |v| >= 0.1 and gaps >= 0.05: max-pool gradient checks stay off ties
// with each other and with the padding zeros.
Tensor distinct_tensor(const Shape& shape, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> v(static_cast<size_t>(numel(shape)));
  std::iota(v.begin(), v.end(), 0.0);
  std::shuffle(v.begin(), v.end(), rng);
  for (double& x : v) x = (rng() % 2 ? 1 : -1) * (0.1 + 0.05 * x);
  return Tensor::from_doubles(v, shape, DType::f64);
}

double tol_for(DType dt) { return dt == DType::f64 ? 1e-12 : 2e-5; }

// ---- convolution forward and backward ops ----

struct ConvCase {
  Shape x, w;
  Conv2dParams p;
  const char* what;
};

const ConvCase kConvCases[] = {
    {{2, 3, 7, 6}, {4, 3, 3, 3}, {}, "plain 3x3"},
    {{2, 3, 8, 9},
     {5, 3, 3, 2},
     {.stride = {2, 1}, .padding = {1, 0, 2, 1}, .dilation = {1, 2}},
     "stride, asymmetric padding, dilation"},
    {{2, 4, 7, 7},
     {6, 2, 3, 3},
     {.stride = {2, 2}, .padding = {1, 1, 1, 1}, .dilation = {2, 1}, .groups = 2},
     "groups=2"},
    {{1, 4, 5, 5}, {4, 1, 3, 3}, {.padding = {1, 1, 1, 1}, .groups = 4}, "depthwise"},
    {{3, 5, 4, 6}, {7, 5, 1, 1}, {}, "1x1 kernel reads the input as its patch matrix"},
    {{1, 3, 5, 5}, {2, 3, 1, 1}, {.stride = {2, 2}}, "1x1 kernel with stride"},
    {{1, 1, 2, 2}, {1, 1, 2, 2}, {.stride = {2, 3}, .padding = {3, 3, 3, 3}}, "padding wider than the kernel"},
    {{32, 2, 5, 5}, {3, 2, 3, 3}, {.padding = {1, 0, 0, 1}}, "many small samples (pool-parallel batch)"},
    {{2, 16, 20, 20}, {32, 16, 3, 3}, {.padding = {1, 1, 1, 1}}, "GEMMs large enough for OpenBLAS threads"},
};

TEST(Conv2d, ForwardMatchesDirectConvolution) {
  uint64_t seed = 100;
  for (DType dt : {DType::f64, DType::f32})
    for (const ConvCase& c : kConvCases) {
      const Tensor x = random_tensor(c.x, dt, seed++), w = random_tensor(c.w, dt, seed++);
      const Tensor y = evaluate(
          [&](Graph&, const std::vector<Var>& v) { return std::vector{ops::conv2d(v[0], v[1], c.p)}; }, {x, w})[0];
      SCOPED_TRACE(c.what);
      EXPECT_EQ(y.dtype(), dt);
      expect_close(y, reference_conv2d(x, w, c.p), tol_for(dt), tol_for(dt));
    }
}

TEST(Conv2d, BackwardOpsMatchTheirDefinitions) {
  uint64_t seed = 200;
  for (DType dt : {DType::f64, DType::f32})
    for (const ConvCase& c : kConvCases) {
      const Tensor x = random_tensor(c.x, dt, seed++), w = random_tensor(c.w, dt, seed++);
      const Tensor go = random_tensor(conv_out_shape(c.x, c.w, c.p), dt, seed++);
      const auto outs = evaluate(
          [&](Graph&, const std::vector<Var>& v) {
            return std::vector{ops::conv2d_backward_input(v[0], v[1], c.p, c.x),
                               ops::conv2d_backward_weight(v[0], v[2], c.p, c.w)};
          },
          {go, w, x});
      SCOPED_TRACE(c.what);
      expect_close(outs[0], reference_backward_input(go, w, c.p, c.x), tol_for(dt), tol_for(dt));
      expect_close(outs[1], reference_backward_weight(go, x, c.p, c.w), tol_for(dt), tol_for(dt));
    }
}

TEST(Conv1d, ForwardMatchesDirectConvolution) {
  struct Case {
    Shape x, w;
    Conv1dParams p;
  };
  const Case cases[] = {
      {{2, 3, 9}, {4, 3, 3}, {}},
      {{2, 3, 9}, {4, 3, 3}, {.stride = 2, .padding = {1, 2}, .dilation = 2}},
      {{3, 6, 8}, {3, 2, 2}, {.padding = {0, 1}, .groups = 3}},
  };
  uint64_t seed = 300;
  for (DType dt : {DType::f64, DType::f32})
    for (const Case& c : cases) {
      const Tensor x = random_tensor(c.x, dt, seed++), w = random_tensor(c.w, dt, seed++);
      const Tensor y = evaluate(
          [&](Graph&, const std::vector<Var>& v) { return std::vector{ops::conv1d(v[0], v[1], c.p)}; }, {x, w})[0];
      expect_close(y, reference_conv1d(x, w, c.p), tol_for(dt), tol_for(dt));
    }
}

TEST(Conv2d, CostCountsMultiplyAdds) {
  const Conv2dOp op({.groups = 2});
  const OpSignature sig{{{2, 4, 5, 5}, {6, 2, 3, 3}}, {{2, 6, 3, 3}}, {DType::f32, DType::f32}, {DType::f32}};
  EXPECT_EQ(op.cost(sig).flops, 2.0 * (2 * 6 * 3 * 3) * (2 * 3 * 3));
  EXPECT_EQ(op.to_string(), "conv2d(stride=(1,1), padding=(0,0,0,0), dilation=(1,1), groups=2)");
}

// ---- pooling ----

struct PoolCase {
  Shape x;
  Pool2dParams p;
};

const PoolCase kPoolCases[] = {
    {{2, 3, 7, 8}, {.kernel = {3, 2}, .padding = {1, 1, 0, 1}, .dilation = {1, 2}}},
    {{5, 6}, {.kernel = {2, 2}, .stride = {1, 1}}},
    {{2, 1, 2, 5, 5}, {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1, 1, 1}}},
    {{1, 2, 3}, {.kernel = {2, 2}, .stride = {2, 1}, .padding = {2, 2, 0, 3}}},
    // The common 2x2 / stride 2 layer (a direct kernel path); odd sizes drop the last row/column.
    {{2, 3, 6, 9}, {.kernel = {2, 2}}},
    {{3, 7, 4}, {.kernel = {2, 2}, .stride = {2, 2}}},
};

TEST(Pool2d, ForwardMatchesReferenceWithPaddingZerosCounted) {
  uint64_t seed = 400;
  for (DType dt : {DType::f64, DType::f32})
    for (const PoolCase& c : kPoolCases) {
      // Mostly negative inputs, so padded windows take their max from the padding zeros.
      const Tensor x = random_tensor(c.x, dt, seed++, -1.0, 0.3);
      const auto outs = evaluate(
          [&](Graph&, const std::vector<Var>& v) {
            return std::vector{ops::max_pool2d(v[0], c.p), ops::avg_pool2d(v[0], c.p)};
          },
          {x});
      expect_close(outs[0], reference_pool(x, c.p, true), tol_for(dt), tol_for(dt));
      expect_close(outs[1], reference_pool(x, c.p, false), tol_for(dt), tol_for(dt));
    }
}

TEST(Pool2d, BackwardOpsMatchTheirDefinitions) {
  uint64_t seed = 500;
  for (DType dt : {DType::f64, DType::f32})
    for (const PoolCase& c : kPoolCases) {
      const Pool2dParams& p = c.p;
      // Whole numbers in [-3, 2): windows often hold several copies of their max (or of 0).
      std::vector<double> v = random_tensor(c.x, DType::f64, seed++, -3, 2).to_doubles();
      for (double& e : v) e = std::floor(e);
      const Tensor x = Tensor::from_doubles(v, c.x, dt);
      const Shape ys = for_each_window(c.x, p, [](const std::vector<int64_t>&, int64_t) {});
      const Tensor go = random_tensor(ys, dt, seed++);
      const auto outs = evaluate(
          [&](Graph&, const std::vector<Var>& v) {
            return std::vector{ops::max_pool2d_backward(v[0], v[1], c.p), ops::avg_pool2d_backward(v[0], c.p, c.x)};
          },
          {go, x});
      expect_close(outs[0], reference_max_pool_backward(go, x, p), tol_for(dt), tol_for(dt));
      expect_close(outs[1], reference_avg_pool_backward(go, c.x, p), tol_for(dt), tol_for(dt));
    }
}

TEST(MaxPool1d, ForwardMatchesReferenceOnAnyRank) {
  struct Case {
    Shape x;
    Pool1dParams p;
  };
  const Case cases[] = {
      {{7}, {.kernel = 3, .stride = 2, .padding = {1, 1}}},
      {{2, 3, 10}, {.kernel = 2, .padding = {0, 2}, .dilation = 3}},
  };
  uint64_t seed = 600;
  for (DType dt : {DType::f64, DType::f32})
    for (const Case& c : cases) {
      const Tensor x = random_tensor(c.x, dt, seed++, -1.0, 0.3);
      const Tensor y =
          evaluate([&](Graph&, const std::vector<Var>& v) { return std::vector{ops::max_pool1d(v[0], c.p)}; }, {x})[0];
      const Pool2dParams p2 = c.p.as_2d();
      Shape x2 = c.x;
      x2.insert(x2.end() - 1, 1);
      Shape y2 = for_each_window(x2, p2, [](const std::vector<int64_t>&, int64_t) {});
      y2.erase(y2.end() - 2);
      EXPECT_EQ(y.shape(), y2);
      expect_close(y, reference_pool(x.reshape(x2), p2, true), tol_for(dt), tol_for(dt));
    }
}

// Gradient of sum(cotangent * pool(x)) wrt x through autodiff.
Tensor pool_gradient(const std::function<Var(const Var&)>& pool, const Tensor& x, const Tensor& cotangent) {
  Graph g;
  const Var in = g.input("x", x.shape(), x.dtype());
  const Var ct = g.input("ct", cotangent.shape(), cotangent.dtype());
  const auto grads = vjp(g, {pool(in)}, {ct}, {in});
  return cpu::run_graph(g, {*grads[0]}, {x, cotangent})[0];
}

TEST(MaxPool2d, TiesEachReceiveTheWholeWindowGradient) {
  // Windows (2x2, stride 1): {1,3,0,3} -> max 3 at (0,1),(1,1); {3,3,3,2} -> max 3 at (0,1),(0,2),(1,1).
  const Tensor x = Tensor::from_doubles({1, 3, 3, 0, 3, 2}, {2, 3}, DType::f64);
  const Tensor g = Tensor::from_doubles({1, 10}, {1, 2}, DType::f64);
  const Tensor gx = pool_gradient(
      [](const Var& v) {
        return ops::max_pool2d(v, {.kernel = {2, 2}, .stride = {1, 1}});
      },
      x, g);
  expect_close(gx, {0, 11, 10, 0, 11, 0});
}

TEST(MaxPool1d, PaddingZerosTakePartInTheMax) {
  // kernel 2, stride 1, one zero of padding on the left.
  const Pool1dParams p{.kernel = 2, .stride = 1, .padding = {1, 0}};
  const auto pool = [&](const Var& v) { return ops::max_pool1d(v, p); };
  const Tensor g = Tensor::from_doubles({5, 7, 11}, {3}, DType::f64);
  // Windows [0 | -1], [-1, -2], [-2, -3]: the first max is the padding, so x[0] gets only 7.
  const Tensor neg = Tensor::from_doubles({-1, -2, -3}, {3}, DType::f64);
  expect_close(evaluate([&](Graph&, const std::vector<Var>& v) { return std::vector{pool(v[0])}; }, {neg})[0],
               {0, -1, -2});
  expect_close(pool_gradient(pool, neg, g), {7, 11, 0});
  // Windows [0 | 0], [0, -2], [-2, 4]: x[0] == 0 ties with the padding and takes 5 and 7.
  const Tensor zero = Tensor::from_doubles({0, -2, 4}, {3}, DType::f64);
  expect_close(pool_gradient(pool, zero, g), {12, 0, 11});
}

// ---- gradient checks (float64, central differences) ----

const Conv2dParams kGradConv{.stride = {2, 2}, .padding = {1, 2, 0, 1}, .dilation = {2, 1}, .groups = 2};
const Shape kGradX{2, 4, 7, 6}, kGradW{4, 2, 3, 3};

TEST(GradCheck, Conv2d) {
  expect_gradients_match(
      [](Graph&, const std::vector<Var>& v) { return std::vector{ops::conv2d(v[0], v[1], kGradConv)}; },
      {random_tensor(kGradX, DType::f64, 700), random_tensor(kGradW, DType::f64, 701)});
}

TEST(GradCheck, Conv1d) {
  const Conv1dParams p{.stride = 2, .padding = {1, 0}, .dilation = 2, .groups = 2};
  expect_gradients_match([&](Graph&, const std::vector<Var>& v) { return std::vector{ops::conv1d(v[0], v[1], p)}; },
                         {random_tensor({2, 4, 9}, DType::f64, 710), random_tensor({6, 2, 3}, DType::f64, 711)});
}

TEST(GradCheck, Conv2dBackwardInput) {
  expect_gradients_match(
      [](Graph&, const std::vector<Var>& v) {
        return std::vector{ops::conv2d_backward_input(v[0], v[1], kGradConv, kGradX)};
      },
      {random_tensor(conv_out_shape(kGradX, kGradW, kGradConv), DType::f64, 720),
       random_tensor(kGradW, DType::f64, 721)});
}

TEST(GradCheck, Conv2dBackwardWeight) {
  expect_gradients_match(
      [](Graph&, const std::vector<Var>& v) {
        return std::vector{ops::conv2d_backward_weight(v[0], v[1], kGradConv, kGradW)};
      },
      {random_tensor(conv_out_shape(kGradX, kGradW, kGradConv), DType::f64, 730),
       random_tensor(kGradX, DType::f64, 731)});
}

TEST(GradCheck, MaxPool2d) {
  const Pool2dParams p{.kernel = {2, 3}, .stride = {1, 2}, .padding = {1, 0, 1, 1}};
  expect_gradients_match([&](Graph&, const std::vector<Var>& v) { return std::vector{ops::max_pool2d(v[0], p)}; },
                         {distinct_tensor({2, 2, 5, 6}, 740)});
}

TEST(GradCheck, MaxPool1d) {
  const Pool1dParams p{.kernel = 3, .stride = 2, .padding = {1, 1}};
  expect_gradients_match([&](Graph&, const std::vector<Var>& v) { return std::vector{ops::max_pool1d(v[0], p)}; },
                         {distinct_tensor({2, 3, 8}, 750)});
}

const Pool2dParams kGradAvg{.kernel = {3, 2}, .stride = {2, 1}, .padding = {1, 1, 0, 1}, .dilation = {1, 2}};

TEST(GradCheck, AvgPool2d) {
  expect_gradients_match([](Graph&, const std::vector<Var>& v) { return std::vector{ops::avg_pool2d(v[0], kGradAvg)}; },
                         {random_tensor({2, 3, 6, 5}, DType::f64, 760)});
}

TEST(GradCheck, AvgPool2dBackward) {
  const Shape xs{2, 3, 6, 5};
  const Shape ys = for_each_window(xs, kGradAvg, [](const std::vector<int64_t>&, int64_t) {});
  expect_gradients_match(
      [&](Graph&, const std::vector<Var>& v) { return std::vector{ops::avg_pool2d_backward(v[0], kGradAvg, xs)}; },
      {random_tensor(ys, DType::f64, 770)});
}

// ---- errors ----

template <typename E>
void expect_error(const std::function<void(Graph&)>& build, const char* message) {
  Graph g;
  try {
    build(g);
    FAIL() << "expected an error: " << message;
  } catch (const E& e) {
    EXPECT_STREQ(e.what(), message);
  }
}

std::function<void(Graph&)> conv2d_of(Shape x, Shape w, Conv2dParams p = {}, DType dt = DType::f32) {
  return [=](Graph& g) { ops::conv2d(g.input("x", x, dt), g.input("w", w, dt), p); };
}

TEST(ConvErrors, ChannelMismatch) {
  expect_error<ShapeError>(
      conv2d_of({1, 3, 5, 5}, {2, 4, 3, 3}),
      "[conv2d] channel mismatch: input (1,3,5,5) has 3 channels but weight (2,4,3,3) with groups=1 expects 4");
  expect_error<ShapeError>(
      [](Graph& g) {
        ops::conv1d(g.input("x", {1, 4, 5}, DType::f32), g.input("w", {2, 1, 3}, DType::f32), {.groups = 2});
      },
      "[conv1d] channel mismatch: input (1,4,5) has 4 channels but weight (2,1,3) with groups=2 expects 2");
}

TEST(ConvErrors, GroupsMustDivideChannels) {
  expect_error<ShapeError>(conv2d_of({1, 3, 5, 5}, {4, 1, 3, 3}, {.groups = 2}),
                           "[conv2d] groups=2 does not divide input channels 3");
  expect_error<ShapeError>(conv2d_of({1, 4, 5, 5}, {3, 2, 3, 3}, {.groups = 2}),
                           "[conv2d] groups=2 does not divide output channels 3");
}

TEST(ConvErrors, KernelLargerThanPaddedInput) {
  expect_error<ShapeError>(conv2d_of({1, 1, 4, 4}, {1, 1, 3, 3}, {.dilation = {2, 2}}),
                           "[conv2d] dilated kernel (5,5) is larger than padded input (4,4)");
  expect_error<ShapeError>(conv2d_of({1, 1, 4, 4}, {1, 1, 3, 3}, {.padding = {1, 0, 0, 0}, .dilation = {3, 1}}),
                           "[conv2d] dilated kernel (7,3) is larger than padded input (5,4)");
  expect_error<ShapeError>(
      [](Graph& g) {
        ops::conv1d(g.input("x", {1, 1, 3}, DType::f32), g.input("w", {1, 1, 5}, DType::f32));
      },
      "[conv1d] dilated kernel (5,) is larger than padded input (3,)");
  expect_error<ShapeError>(
      [](Graph& g) {
        ops::max_pool2d(g.input("x", {4, 4}, DType::f32), {.kernel = {5, 2}});
      },
      "[max_pool2d] dilated kernel (5,2) is larger than padded input (4,4)");
  expect_error<ShapeError>(
      [](Graph& g) {
        ops::max_pool1d(g.input("x", {2, 3}, DType::f32), {.kernel = 3, .dilation = 2});
      },
      "[max_pool1d] dilated kernel (5,) is larger than padded input (3,)");
}

TEST(ConvErrors, RanksAttributesAndDTypes) {
  expect_error<ShapeError>(conv2d_of({3, 5, 5}, {2, 3, 3, 3}),
                           "[conv2d] input must be 4-D (N, C_in, H, W), got (3,5,5)");
  expect_error<AttributeError>(conv2d_of({1, 3, 5, 5}, {2, 3, 3, 3}, {.stride = {0, 1}}),
                               "[conv2d] stride must be positive, got (0,1)");
  expect_error<AttributeError>(conv2d_of({1, 3, 5, 5}, {2, 3, 3, 3}, {.padding = {0, 0, -1, 0}}),
                               "[conv2d] padding must be non-negative, got (0,0,-1,0)");
  expect_error<DTypeError>(conv2d_of({1, 3, 5, 5}, {2, 3, 3, 3}, {}, DType::i32),
                           "[conv2d] needs floating-point inputs, got i32");
  expect_error<ShapeError>(
      [](Graph& g) {
        ops::avg_pool2d(g.input("x", {5}, DType::f32), {.kernel = {1, 1}});
      },
      "[avg_pool2d] input must have at least 2 dims, got (5,)");
}

TEST(ConvErrors, BackwardOpsCheckGradOutShape) {
  expect_error<ShapeError>(
      [](Graph& g) {
        ops::conv2d_backward_input(g.input("go", {1, 2, 3, 3}, DType::f32), g.input("w", {2, 3, 3, 3}, DType::f32), {},
                                   {1, 3, 4, 4});
      },
      "[conv2d_backward_input] grad_out has shape (1,2,3,3) but conv2d of input (1,3,4,4) and weight (2,3,3,3) gives "
      "(1,2,2,2)");
  expect_error<ShapeError>(
      [](Graph& g) {
        ops::avg_pool2d_backward(g.input("go", {3, 3}, DType::f32), {.kernel = {2, 2}}, {5, 5});
      },
      "[avg_pool2d_backward] grad_out has shape (3,3) but pooling input (5,5) gives (2,2)");
}

}  // namespace
}  // namespace mithril
