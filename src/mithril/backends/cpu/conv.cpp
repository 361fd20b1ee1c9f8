// CPU kernels for the conv family.
//
// Convolution is im2col + GEMM (gemm.h) per sample and group: the patches of a sample form a
// (C_in*KH*KW, OH*OW) matrix, and output channels are weight rows times patch columns. The
// input gradient runs the GEMM transposed and scatters the patches back (col2im); the weight
// gradient multiplies output gradients by patch rows, summed over the batch. A 1x1 kernel with
// unit stride and no padding uses the input as its own patch matrix. Conv1d runs the same code
// on H = 1 views. Pooling loops over windows, one image plane per task.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <mutex>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "mithril/backends/cpu/gemm.h"
#include "mithril/backends/cpu/loops.h"
#include "mithril/backends/cpu/registry.h"
#include "mithril/ops/conv.h"

namespace mithril::cpu {
namespace {

// ---- convolution ----

struct ConvGeom {
  int64_t n, c, h, w;  // input (N, C_in, H, W)
  int64_t co, kh, kw;  // weight (C_out, C_in/groups, KH, KW)
  int64_t oh, ow;      // output spatial size
  int64_t groups, cig, cog;
  Conv2dParams p;

  int64_t l() const { return oh * ow; }         // patch columns per sample
  int64_t kg() const { return cig * kh * kw; }  // patch rows per group: the GEMM inner size
  int64_t macs_per_group() const { return cog * l() * kg(); }
  bool patches_are_input() const {
    return kh == 1 && kw == 1 && p.stride[0] == 1 && p.stride[1] == 1 &&
           std::all_of(p.padding.begin(), p.padding.end(), [](int64_t v) { return v == 0; });
  }
};

ConvGeom conv_geom(const Conv2dParams& p, const Shape& input, const Shape& weight, const Shape& output) {
  return {input[0],  input[1],  input[2],  input[3], weight[0],           weight[2],
          weight[3], output[2], output[3], p.groups, input[1] / p.groups, weight[0] / p.groups,
          p};
}

// The valid output columns [lo, hi) whose input column ox*stride + base lies in [0, size).
std::pair<int64_t, int64_t> valid_range(int64_t base, int64_t stride, int64_t size, int64_t count) {
  const int64_t lo = base >= 0 ? 0 : std::min(count, (-base + stride - 1) / stride);
  const int64_t hi = base >= size ? 0 : std::min(count, (size - 1 - base) / stride + 1);
  return {lo, std::max(lo, hi)};
}

// Calls f(patch_row, channel, input_row_or_null, column_base) for every (channel, kernel
// offset, output row) of one sample; a null input row is padding.
template <typename F>
void for_each_patch_row(const ConvGeom& g, int64_t c0, int64_t c1, F f) {
  for (int64_t c = c0; c < c1; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t row = (c * g.kh + i) * g.kw + j;
        const int64_t base = j * g.p.dilation[1] - g.p.padding[2];
        for (int64_t oy = 0; oy < g.oh; ++oy) {
          const int64_t iy = oy * g.p.stride[0] - g.p.padding[0] + i * g.p.dilation[0];
          f(row * g.l() + oy * g.ow, c, iy >= 0 && iy < g.h ? iy : -1, base);
        }
      }
}

int64_t channel_grain(const ConvGeom& g) {
  return std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, g.kh * g.kw * g.l()));
}

// col (C_in*KH*KW, OH*OW) <- patches of one sample x (C_in, H, W).
template <typename T>
void im2col(const ConvGeom& g, const T* x, T* col) {
  const int64_t sw = g.p.stride[1];
  parallel_for(0, g.c, channel_grain(g), [&](int64_t c0, int64_t c1) {
    for_each_patch_row(g, c0, c1, [&](int64_t at, int64_t c, int64_t iy, int64_t base) {
      T* out = col + at;
      if (iy < 0) {
        std::fill(out, out + g.ow, T(0));
        return;
      }
      const T* src = x + (c * g.h + iy) * g.w;
      const auto [lo, hi] = valid_range(base, sw, g.w, g.ow);
      std::fill(out, out + lo, T(0));
      for (int64_t ox = lo; ox < hi; ++ox) out[ox] = src[ox * sw + base];
      std::fill(out + hi, out + g.ow, T(0));
    });
  });
}

// x (C_in, H, W) <- the sum of the patches in col (the transpose of im2col). Channels are
// independent, so they can be split over threads.
template <typename T>
void col2im(const ConvGeom& g, const T* col, T* x) {
  const int64_t sw = g.p.stride[1];
  parallel_for(0, g.c, channel_grain(g), [&](int64_t c0, int64_t c1) {
    std::fill(x + c0 * g.h * g.w, x + c1 * g.h * g.w, T(0));
    for_each_patch_row(g, c0, c1, [&](int64_t at, int64_t c, int64_t iy, int64_t base) {
      if (iy < 0) return;
      const T* in = col + at;
      T* dst = x + (c * g.h + iy) * g.w;
      const auto [lo, hi] = valid_range(base, sw, g.w, g.ow);
      for (int64_t ox = lo; ox < hi; ++ox) dst[ox * sw + base] += in[ox];
    });
  });
}

// Scratch for one sample's patch matrix; empty when the input itself is the patch matrix.
template <typename T>
std::vector<T> patch_buffer(const ConvGeom& g) {
  return std::vector<T>(g.patches_are_input() ? 0 : static_cast<size_t>(g.c * g.kh * g.kw * g.l()));
}

// Sample s's patch matrix (C*KH*KW x L): the input itself, or its im2col in `col`.
template <typename T>
const T* sample_patches(const ConvGeom& g, const T* x, int64_t s, std::vector<T>& col) {
  const T* xs = x + s * g.c * g.h * g.w;
  if (g.patches_are_input()) return xs;
  im2col(g, xs, col.data());
  return col.data();
}

template <typename T>
void conv2d_forward(const Conv2dParams& p, const Tensor& input, const Tensor& weight, Tensor& output) {
  const ConvGeom g = conv_geom(p, input.shape(), weight.shape(), output.shape());
  const T* x = input.data<T>();
  const T* w = weight.data<T>();
  T* y = output.data<T>();
  if (g.kg() == 0) {  // no input channels: every output is an empty sum
    std::fill(y, y + output.numel(), T(0));
    return;
  }
  const int64_t l = g.l(), kg = g.kg();
  run_batch(g.n, g.macs_per_group(), g.groups * g.macs_per_group(), [&](int64_t s0, int64_t s1) {
    std::vector<T> col = patch_buffer<T>(g);
    for (int64_t s = s0; s < s1; ++s) {
      const T* patches = sample_patches(g, x, s, col);
      for (int64_t grp = 0; grp < g.groups; ++grp)
        gemm(false, false, g.cog, l, kg, w + grp * g.cog * kg, kg, patches + grp * kg * l, l, false,
             y + (s * g.co + grp * g.cog) * l, l);
    }
  });
}

template <typename T>
void conv2d_backward_input(const Conv2dParams& p, const Tensor& grad_out, const Tensor& weight, Tensor& grad_input) {
  const ConvGeom g = conv_geom(p, grad_input.shape(), weight.shape(), grad_out.shape());
  const T* go = grad_out.data<T>();
  const T* w = weight.data<T>();
  T* gx = grad_input.data<T>();
  if (grad_input.numel() == 0) return;
  if (g.co == 0) {  // no output channels: nothing flows back
    std::fill(gx, gx + grad_input.numel(), T(0));
    return;
  }
  const int64_t l = g.l(), kg = g.kg();
  run_batch(g.n, g.macs_per_group(), g.groups * g.macs_per_group(), [&](int64_t s0, int64_t s1) {
    std::vector<T> col = patch_buffer<T>(g);
    for (int64_t s = s0; s < s1; ++s) {
      T* gxs = gx + s * g.c * g.h * g.w;
      T* patches = g.patches_are_input() ? gxs : col.data();
      for (int64_t grp = 0; grp < g.groups; ++grp)
        gemm(true, false, kg, l, g.cog, w + grp * g.cog * kg, kg, go + (s * g.co + grp * g.cog) * l, l, false,
             patches + grp * kg * l, l);
      if (!g.patches_are_input()) col2im(g, patches, gxs);
    }
  });
}

template <typename T>
void conv2d_backward_weight(const Conv2dParams& p, const Tensor& grad_out, const Tensor& input, Tensor& grad_weight) {
  const ConvGeom g = conv_geom(p, input.shape(), grad_weight.shape(), grad_out.shape());
  const T* go = grad_out.data<T>();
  const T* x = input.data<T>();
  T* gw = grad_weight.data<T>();
  const int64_t size = grad_weight.numel();
  std::fill(gw, gw + size, T(0));
  if (size == 0) return;
  const int64_t l = g.l(), kg = g.kg();
  // Each chunk of samples sums into its own buffer (or straight into gw when it is the whole
  // batch); buffers are added in sample order, so the result does not depend on scheduling.
  std::mutex mutex;
  std::vector<std::pair<int64_t, std::vector<T>>> partials;
  run_batch(g.n, g.macs_per_group(), g.groups * g.macs_per_group(), [&](int64_t s0, int64_t s1) {
    const bool whole = s0 == 0 && s1 == g.n;
    std::vector<T> local(whole ? 0 : static_cast<size_t>(size), T(0));
    T* acc = whole ? gw : local.data();
    std::vector<T> col = patch_buffer<T>(g);
    for (int64_t s = s0; s < s1; ++s) {
      const T* patches = sample_patches(g, x, s, col);
      for (int64_t grp = 0; grp < g.groups; ++grp)
        gemm(false, true, g.cog, kg, l, go + (s * g.co + grp * g.cog) * l, l, patches + grp * kg * l, l, true,
             acc + grp * g.cog * kg, kg);
    }
    if (!whole) {
      std::lock_guard lock(mutex);
      partials.emplace_back(s0, std::move(local));
    }
  });
  std::sort(partials.begin(), partials.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& part : partials)
    for (int64_t i = 0; i < size; ++i) gw[i] += part.second[static_cast<size_t>(i)];
}

template <typename T>
void conv2d_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  conv2d_forward<T>(static_cast<const Conv2dOp&>(op).params, in[0], in[1], out[0]);
}

// (N, C, W) tensors viewed as (N, C, 1, W) images.
template <typename T>
void conv1d_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  Tensor y = out[0].unsqueeze(2);
  conv2d_forward<T>(static_cast<const Conv1dOp&>(op).params.as_2d(), in[0].unsqueeze(2), in[1].unsqueeze(2), y);
}

template <typename T>
void conv2d_backward_input_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  conv2d_backward_input<T>(static_cast<const Conv2dBackwardInputOp&>(op).params, in[0], in[1], out[0]);
}

template <typename T>
void conv2d_backward_weight_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  conv2d_backward_weight<T>(static_cast<const Conv2dBackwardWeightOp&>(op).params, in[0], in[1], out[0]);
}

// ---- pooling ----

// Pooling input and output as stacks of (h, w) planes; MaxPool1d sees planes of height 1.
struct PoolGeom {
  int64_t planes, h, w, oh, ow;
  Pool2dParams p;
};

// `pooled` is the pooling output's shape (for the backward ops, grad_out's); its planes are
// never empty, unlike the input's when padding is all a window sees.
PoolGeom pool_geom(const Op& op, const Pool2dParams& p, const Shape& input, const Shape& pooled) {
  const bool one_d = op.kind() == OpKind::MaxPool1d;
  const int64_t h = one_d ? 1 : input[input.size() - 2], w = input.back();
  const int64_t oh = one_d ? 1 : pooled[pooled.size() - 2], ow = pooled.back();
  return {numel(pooled) / (oh * ow), h, w, oh, ow, p};
}

// Calls f(offset_or_-1) for each window position of output (oy, ox); -1 marks padding.
template <typename F>
void for_each_window_pos(const PoolGeom& g, int64_t oy, int64_t ox, F f) {
  for (int64_t i = 0; i < g.p.kernel[0]; ++i) {
    const int64_t iy = oy * g.p.stride[0] - g.p.padding[0] + i * g.p.dilation[0];
    for (int64_t j = 0; j < g.p.kernel[1]; ++j) {
      const int64_t ix = ox * g.p.stride[1] - g.p.padding[2] + j * g.p.dilation[1];
      f(iy >= 0 && iy < g.h && ix >= 0 && ix < g.w ? iy * g.w + ix : -1);
    }
  }
}

// One step of a window's max: NaN wins, the first NaN stays.
template <typename T>
T max_step(T m, T v) {
  return v > m || std::isnan(v) ? (std::isnan(m) ? m : v) : m;
}

// The window max, padding zeros included; NaN wins.
template <typename T>
T window_max(const PoolGeom& g, const T* x, int64_t oy, int64_t ox) {
  T m = -std::numeric_limits<T>::infinity();
  for_each_window_pos(g, oy, ox, [&](int64_t at) { m = max_step(m, at < 0 ? T(0) : x[at]); });
  return m;
}

// 2x2 windows at stride 2 without padding or dilation, all inside the input (the common
// pooling layer): addressed directly instead of through the general window walk.
bool plain_2x2(const PoolGeom& g) {
  const Pool2dParams& p = g.p;
  return p.kernel == std::array<int64_t, 2>{2, 2} && p.stride == std::array<int64_t, 2>{2, 2} &&
         p.padding == std::array<int64_t, 4>{0, 0, 0, 0} && p.dilation == std::array<int64_t, 2>{1, 1} && 2 * g.oh <= g.h &&
         2 * g.ow <= g.w;
}

// The flat indices of window (oy, ox) of a plain 2x2 pooling in a plane of width w, and their
// max (in this order, so forward and backward agree on NaNs and ties).
inline std::array<int64_t, 4> window_2x2(int64_t w, int64_t oy, int64_t ox) {
  const int64_t r0 = 2 * oy * w + 2 * ox, r1 = r0 + w;
  return {r0, r0 + 1, r1, r1 + 1};
}
template <typename T>
T max_2x2(const T* xp, const std::array<int64_t, 4>& at) {
  T m = -std::numeric_limits<T>::infinity();
  for (int64_t a : at) m = max_step(m, xp[a]);
  return m;
}

// Runs f(plane) over planes, split so each task has enough window work.
template <typename F>
void for_each_plane(const PoolGeom& g, F f) {
  const int64_t work = std::max<int64_t>(1, g.oh * g.ow * g.p.kernel[0] * g.p.kernel[1]);
  parallel_for(0, g.planes, std::max<int64_t>(1, kElementwiseGrain / work), [&](int64_t p0, int64_t p1) {
    for (int64_t pl = p0; pl < p1; ++pl) f(pl);
  });
}

const Pool2dParams& pool_params(const Op& op) {
  if (op.kind() == OpKind::MaxPool2dBackward || op.kind() == OpKind::AvgPool2dBackward)
    return static_cast<const PoolBackwardOp&>(op).params;
  return static_cast<const PoolOp&>(op).params;
}

template <typename T>
void max_pool_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const PoolGeom g = pool_geom(op, pool_params(op), in[0].shape(), out[0].shape());
  const T* x = in[0].data<T>();
  T* y = out[0].data<T>();
  const bool plain = plain_2x2(g);
  for_each_plane(g, [&](int64_t pl) {
    const T* xp = x + pl * g.h * g.w;
    T* yp = y + pl * g.oh * g.ow;
    if (plain) {
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox) yp[oy * g.ow + ox] = max_2x2(xp, window_2x2(g.w, oy, ox));
      return;
    }
    for (int64_t oy = 0; oy < g.oh; ++oy)
      for (int64_t ox = 0; ox < g.ow; ++ox) yp[oy * g.ow + ox] = window_max(g, xp, oy, ox);
  });
}

template <typename T>
void avg_pool_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const PoolGeom g = pool_geom(op, pool_params(op), in[0].shape(), out[0].shape());
  const T* x = in[0].data<T>();
  T* y = out[0].data<T>();
  const T scale = T(1) / static_cast<T>(g.p.kernel[0] * g.p.kernel[1]);
  for_each_plane(g, [&](int64_t pl) {
    const T* xp = x + pl * g.h * g.w;
    T* yp = y + pl * g.oh * g.ow;
    for (int64_t oy = 0; oy < g.oh; ++oy)
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        T sum = T(0);
        for_each_window_pos(g, oy, ox, [&](int64_t at) { sum += at < 0 ? T(0) : xp[at]; });
        yp[oy * g.ow + ox] = sum * scale;
      }
  });
}

// Every input element equal to its window's max receives that window's whole gradient.
template <typename T>
void max_pool_backward_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const PoolGeom g = pool_geom(op, pool_params(op), in[1].shape(), in[0].shape());
  const T* go = in[0].data<T>();
  const T* x = in[1].data<T>();
  T* gx = out[0].data<T>();
  const bool plain = plain_2x2(g);
  for_each_plane(g, [&](int64_t pl) {
    const T* xp = x + pl * g.h * g.w;
    const T* gp = go + pl * g.oh * g.ow;
    T* gxp = gx + pl * g.h * g.w;
    std::fill(gxp, gxp + g.h * g.w, T(0));
    if (plain) {  // windows do not overlap: each input element is in at most one
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          const std::array<int64_t, 4> at = window_2x2(g.w, oy, ox);
          const T m = max_2x2(xp, at);
          const T grad = gp[oy * g.ow + ox];
          for (int64_t a : at)
            if (xp[a] == m) gxp[a] += grad;
        }
      return;
    }
    for (int64_t oy = 0; oy < g.oh; ++oy)
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        const T m = window_max(g, xp, oy, ox);
        const T grad = gp[oy * g.ow + ox];
        for_each_window_pos(g, oy, ox, [&](int64_t at) {
          if (at >= 0 && xp[at] == m) gxp[at] += grad;
        });
      }
  });
}

template <typename T>
void avg_pool_backward_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const PoolGeom g = pool_geom(op, pool_params(op), out[0].shape(), in[0].shape());
  const T* go = in[0].data<T>();
  T* gx = out[0].data<T>();
  const T scale = T(1) / static_cast<T>(g.p.kernel[0] * g.p.kernel[1]);
  for_each_plane(g, [&](int64_t pl) {
    const T* gp = go + pl * g.oh * g.ow;
    T* gxp = gx + pl * g.h * g.w;
    std::fill(gxp, gxp + g.h * g.w, T(0));
    for (int64_t oy = 0; oy < g.oh; ++oy)
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        const T grad = gp[oy * g.ow + ox] * scale;
        for_each_window_pos(g, oy, ox, [&](int64_t at) {
          if (at >= 0) gxp[at] += grad;
        });
      }
  });
}

template <typename T>
void add_float_kernels(KernelTable& r) {
  const auto name = [](const char* op) { return fmt::format("{}_{}", op, dtype_name(dtype_of_v<T>)); };
  const auto gemm_name = [](const char* op) { return fmt::format("{}_{}_{}", op, gemm_engine(), dtype_name(dtype_of_v<T>)); };
  const DType t = dtype_of_v<T>;
  r.add(OpKind::Conv2d, t, conv2d_kernel<T>, gemm_name("conv2d_im2col"));
  r.add(OpKind::Conv1d, t, conv1d_kernel<T>, gemm_name("conv1d_im2col"));
  r.add(OpKind::Conv2dBackwardInput, t, conv2d_backward_input_kernel<T>, gemm_name("conv2d_backward_input_col2im"));
  r.add(OpKind::Conv2dBackwardWeight, t, conv2d_backward_weight_kernel<T>, gemm_name("conv2d_backward_weight"));
  r.add(OpKind::MaxPool1d, t, max_pool_kernel<T>, name("max_pool1d"));
  r.add(OpKind::MaxPool2d, t, max_pool_kernel<T>, name("max_pool2d"));
  r.add(OpKind::AvgPool2d, t, avg_pool_kernel<T>, name("avg_pool2d"));
  r.add(OpKind::MaxPool2dBackward, t, max_pool_backward_kernel<T>, name("max_pool2d_backward"));
  r.add(OpKind::AvgPool2dBackward, t, avg_pool_backward_kernel<T>, name("avg_pool2d_backward"));
}

}  // namespace

void register_conv_kernels(KernelTable& r) {
  add_float_kernels<double>(r);
  add_float_kernels<float>(r);
}

}  // namespace mithril::cpu
