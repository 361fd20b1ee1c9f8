// Reference kernels for convolution and pooling, written as direct loops over every output
// position and kernel tap (no im2col, no GEMM). The backward ops are the literal transposes:
// each tap of the forward sum adds its product into the gradient it belongs to.
#include <cmath>

#include "mithril/backends/reference/kernels.h"
#include "mithril/backends/reference/loops.h"
#include "mithril/ops/conv.h"

namespace mithril::reference {
namespace {

// A 2-D convolution's sizes: input (N, C, H, W), weight (CO, C/groups, KH, KW), output
// (N, CO, OH, OW). Conv1d is the H = 1 case.
struct ConvGeom {
  int64_t n, c, h, w, co, kh, kw, oh, ow;
  Conv2dParams p;
};

ConvGeom conv_geom(const Conv2dParams& p, const Shape& input, const Shape& weight, const Shape& output) {
  const bool one_d = input.size() == 3;
  const int64_t h = one_d ? 1 : input[2], kh = one_d ? 1 : weight[2], oh = one_d ? 1 : output[2];
  return {input[0], input[1], h, input.back(), weight[0], kh, weight.back(), oh, output.back(), p};
}

// Calls f(x_at, w_at, y_at) for every tap of every output element: the flat positions of the
// input element (-1 in the zero padding), the weight element and the output element.
template <typename F>
void for_each_tap(const ConvGeom& g, F f) {
  const int64_t co_per_group = g.co / g.p.groups, c_per_group = g.c / g.p.groups;
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t co = 0; co < g.co; ++co)
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          const int64_t y_at = ((n * g.co + co) * g.oh + oy) * g.ow + ox;
          for (int64_t ci = 0; ci < c_per_group; ++ci) {
            const int64_t c = co / co_per_group * c_per_group + ci;
            for (int64_t ky = 0; ky < g.kh; ++ky)
              for (int64_t kx = 0; kx < g.kw; ++kx) {
                const int64_t iy = oy * g.p.stride[0] - g.p.padding[0] + ky * g.p.dilation[0];
                const int64_t ix = ox * g.p.stride[1] - g.p.padding[2] + kx * g.p.dilation[1];
                const bool inside = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w;
                const int64_t x_at = inside ? ((n * g.c + c) * g.h + iy) * g.w + ix : -1;
                const int64_t w_at = ((co * c_per_group + ci) * g.kh + ky) * g.kw + kx;
                f(x_at, w_at, y_at);
              }
          }
        }
}

Conv2dParams conv_params(const Op& op) {
  switch (op.kind()) {
    case OpKind::Conv1d: return static_cast<const Conv1dOp&>(op).params.as_2d();
    case OpKind::Conv2d: return static_cast<const Conv2dOp&>(op).params;
    case OpKind::Conv2dBackwardInput: return static_cast<const Conv2dBackwardInputOp&>(op).params;
    default: return static_cast<const Conv2dBackwardWeightOp&>(op).params;
  }
}

// conv2d / conv1d: (input, weight) -> output.
void conv_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const ConvGeom g = conv_geom(conv_params(op), in[0].shape(), in[1].shape(), out[0].shape());
  const std::vector<double> x = read(in[0]), w = read(in[1]);
  std::vector<double> y(static_cast<size_t>(out[0].numel()), 0.0);
  for_each_tap(g, [&](int64_t xa, int64_t wa, int64_t ya) {
    if (xa >= 0) y[static_cast<size_t>(ya)] += x[static_cast<size_t>(xa)] * w[static_cast<size_t>(wa)];
  });
  write(out[0], y);
}

// (grad_out, weight) -> grad_input.
void conv_backward_input_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const ConvGeom g = conv_geom(conv_params(op), out[0].shape(), in[1].shape(), in[0].shape());
  const std::vector<double> gy = read(in[0]), w = read(in[1]);
  std::vector<double> gx(static_cast<size_t>(out[0].numel()), 0.0);
  for_each_tap(g, [&](int64_t xa, int64_t wa, int64_t ya) {
    if (xa >= 0) gx[static_cast<size_t>(xa)] += gy[static_cast<size_t>(ya)] * w[static_cast<size_t>(wa)];
  });
  write(out[0], gx);
}

// (grad_out, input) -> grad_weight.
void conv_backward_weight_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const ConvGeom g = conv_geom(conv_params(op), in[1].shape(), out[0].shape(), in[0].shape());
  const std::vector<double> gy = read(in[0]), x = read(in[1]);
  std::vector<double> gw(static_cast<size_t>(out[0].numel()), 0.0);
  for_each_tap(g, [&](int64_t xa, int64_t wa, int64_t ya) {
    if (xa >= 0) gw[static_cast<size_t>(wa)] += gy[static_cast<size_t>(ya)] * x[static_cast<size_t>(xa)];
  });
  write(out[0], gw);
}

// Pooling over the last two axes (MaxPool1d: the last axis, as planes of height 1): `planes`
// stacked (h, w) inputs pooled into (oh, ow) outputs.
struct PoolGeom {
  int64_t planes, h, w, oh, ow;
  Pool2dParams p;
};

PoolGeom pool_geom(const Op& op, const Shape& input, const Shape& pooled) {
  const bool one_d = op.kind() == OpKind::MaxPool1d;
  const Pool2dParams& p = op.kind() == OpKind::MaxPool2dBackward || op.kind() == OpKind::AvgPool2dBackward
                              ? static_cast<const PoolBackwardOp&>(op).params
                              : static_cast<const PoolOp&>(op).params;
  const int64_t h = one_d ? 1 : input[input.size() - 2], oh = one_d ? 1 : pooled[pooled.size() - 2];
  const int64_t ow = pooled.back();
  return {oh * ow == 0 ? 0 : numel(pooled) / (oh * ow), h, input.back(), oh, ow, p};
}

// Calls f(y_at, window) for every output element, with the flat input positions of its window
// (-1 for padding, which takes part as a zero).
template <typename F>
void for_each_window(const PoolGeom& g, F f) {
  std::vector<int64_t> window;
  for (int64_t pl = 0; pl < g.planes; ++pl)
    for (int64_t oy = 0; oy < g.oh; ++oy)
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        window.clear();
        for (int64_t ky = 0; ky < g.p.kernel[0]; ++ky)
          for (int64_t kx = 0; kx < g.p.kernel[1]; ++kx) {
            const int64_t iy = oy * g.p.stride[0] - g.p.padding[0] + ky * g.p.dilation[0];
            const int64_t ix = ox * g.p.stride[1] - g.p.padding[2] + kx * g.p.dilation[1];
            const bool inside = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w;
            window.push_back(inside ? (pl * g.h + iy) * g.w + ix : -1);
          }
        f((pl * g.oh + oy) * g.ow + ox, window);
      }
}

// The window's maximum with padding as zeros; the first NaN wins.
double window_max(const std::vector<double>& x, const std::vector<int64_t>& window) {
  double m = -kInf;
  for (int64_t at : window) {
    const double v = at < 0 ? 0.0 : x[static_cast<size_t>(at)];
    if (std::isnan(v)) return v;
    if (v > m) m = v;
  }
  return m;
}

void pool_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const PoolGeom g = pool_geom(op, in[0].shape(), out[0].shape());
  const std::vector<double> x = read(in[0]);
  std::vector<double> y(static_cast<size_t>(out[0].numel()));
  const auto taps = static_cast<double>(g.p.kernel[0] * g.p.kernel[1]);
  for_each_window(g, [&](int64_t ya, const std::vector<int64_t>& window) {
    if (op.kind() != OpKind::AvgPool2d) {
      y[static_cast<size_t>(ya)] = window_max(x, window);
      return;
    }
    double s = 0;
    for (int64_t at : window) s += at < 0 ? 0.0 : x[static_cast<size_t>(at)];
    y[static_cast<size_t>(ya)] = s / taps;  // padding counts: always divides by KH*KW
  });
  write(out[0], y);
}

// (grad_out, input) -> grad_input: each window's whole gradient goes to every input element
// equal to the window's max; overlapping windows accumulate.
void max_pool_backward_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const PoolGeom g = pool_geom(op, in[1].shape(), in[0].shape());
  const std::vector<double> gy = read(in[0]), x = read(in[1]);
  std::vector<double> gx(static_cast<size_t>(out[0].numel()), 0.0);
  for_each_window(g, [&](int64_t ya, const std::vector<int64_t>& window) {
    const double m = window_max(x, window);
    for (int64_t at : window)
      if (at >= 0 && x[static_cast<size_t>(at)] == m) gx[static_cast<size_t>(at)] += gy[static_cast<size_t>(ya)];
  });
  write(out[0], gx);
}

// (grad_out) -> grad_input: each window's gradient spread as 1/(KH*KW) over its taps.
void avg_pool_backward_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const PoolGeom g = pool_geom(op, out[0].shape(), in[0].shape());
  const std::vector<double> gy = read(in[0]);
  std::vector<double> gx(static_cast<size_t>(out[0].numel()), 0.0);
  const auto taps = static_cast<double>(g.p.kernel[0] * g.p.kernel[1]);
  for_each_window(g, [&](int64_t ya, const std::vector<int64_t>& window) {
    for (int64_t at : window)
      if (at >= 0) gx[static_cast<size_t>(at)] += gy[static_cast<size_t>(ya)] / taps;
  });
  write(out[0], gx);
}

}  // namespace

void register_conv_kernels(KernelTable& t) {
  const auto floating = {DType::f64, DType::f32, DType::f16, DType::bf16};
  add_for_dtypes(t, OpKind::Conv1d, floating, conv_kernel, "conv1d");
  add_for_dtypes(t, OpKind::Conv2d, floating, conv_kernel, "conv2d");
  add_for_dtypes(t, OpKind::Conv2dBackwardInput, floating, conv_backward_input_kernel, "conv2d_backward_input");
  add_for_dtypes(t, OpKind::Conv2dBackwardWeight, floating, conv_backward_weight_kernel, "conv2d_backward_weight");
  add_for_dtypes(t, OpKind::MaxPool1d, floating, pool_kernel, "max_pool1d");
  add_for_dtypes(t, OpKind::MaxPool2d, floating, pool_kernel, "max_pool2d");
  add_for_dtypes(t, OpKind::AvgPool2d, floating, pool_kernel, "avg_pool2d");
  add_for_dtypes(t, OpKind::MaxPool2dBackward, floating, max_pool_backward_kernel, "max_pool2d_backward");
  add_for_dtypes(t, OpKind::AvgPool2dBackward, floating, avg_pool_backward_kernel, "avg_pool2d_backward");
}

}  // namespace mithril::reference
