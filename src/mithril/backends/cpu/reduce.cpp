// CPU kernels for the reduction family.
//
// Every kernel sees its input as (outer, n, inner) blocks: element (o, k, j) at o*n*inner + k*inner + j,
// where k runs over the reduced (or scanned) elements. A reduction over trailing axes has inner == 1
// and reads each block contiguously; one over leading axes walks whole rows, updating a tile of
// neighbouring outputs per row, so no transposing copy is needed. Only reductions over several
// non-adjacent axes are first permuted into (outer, n, 1) by make_reduction_view.
//
// Outputs are partitioned over threads, and each output is folded by one thread in increasing k, so
// results are bitwise identical for any thread count. Floating-point sums accumulate in double.
#include <algorithm>
#include <array>
#include <functional>
#include <cmath>
#include <limits>
#include <type_traits>

#include <fmt/format.h>

#include "mithril/backends/cpu/loops.h"
#include "mithril/backends/cpu/registry.h"
#include "mithril/backends/cpu/vec_math.h"
#include "mithril/ops/reduce.h"

namespace mithril::cpu {
namespace {

// Accumulator type: double for floating point, int64 for integers.
template <typename T>
using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

constexpr int64_t kTile = 64;  // neighbouring outputs updated together when inner > 1

using One = std::integral_constant<int64_t, 1>;

// sum_k f(x[k]) in double, over kLanes interleaved partial sums combined at the end: a
// contiguous row's sum is then not one chain of dependent adds (4 cycles each) but vectorizes.
// The order depends only on n, so results stay the same for any thread count.
template <typename T, typename F = std::identity>
double lane_sum(const T* x, int64_t n, F f = {}) {
  constexpr int64_t kLanes = 8;
  std::array<double, kLanes> s{};
  const int64_t whole = n / kLanes * kLanes;
  for (int64_t k = 0; k < whole; k += kLanes)
    for (int64_t j = 0; j < kLanes; ++j) s[j] += f(static_cast<double>(x[k + j]));
  double tail = 0;
  for (int64_t k = whole; k < n; ++k) tail += f(static_cast<double>(x[k]));
  return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7])) + tail;
}

template <typename T>
bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  else return false;
}

// The start value of a max (min) fold: nothing compares below (above) it.
template <typename T, bool kMax>
constexpr T fold_start() {
  if constexpr (std::is_floating_point_v<T>)
    return kMax ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
  else
    return kMax ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
}

// exp evaluated in T's precision (float exp is several times faster than double exp). Arguments
// are already shifted by the maximum, so T's precision suffices; sums still accumulate in double.
template <typename T>
double exp_in(double v) {
  return static_cast<double>(std::exp(static_cast<T>(v)));
}

struct Blocks {
  Tensor data;  // contiguous
  int64_t outer, n, inner;
  // Reductions over a leading and a trailing run of axes around the kept ones, (reps, outer, n)
  // (a bias gradient over N, H, W of NCHW): the reduced elements of output o are, in order,
  // data[r * rep_stride + o * n + k] for r in [0, reps) and k in [0, n), read in place.
  int64_t reps = 1, rep_stride = 0;
};

// Views a reduction over `axes` as (outer, n, inner) blocks. Size-1 dims do not affect memory
// order, so they are skipped; the remaining dims collapse into runs of kept and reduced dims.
// One reduced run needs no copy, nor do two around the kept dims when `allow_reps` (the caller
// handles Blocks::reps); others are gathered to the end by make_reduction_view.
Blocks reduction_blocks(const Tensor& in, const Axes& axes, bool allow_reps = false) {
  struct Run {
    int64_t size;
    bool reduced;
  };
  std::vector<Run> runs;
  for (size_t d = 0; d < in.shape().size(); ++d) {
    const int64_t size = in.shape()[d];
    if (size == 1) continue;
    const bool reduced = std::find(axes.begin(), axes.end(), static_cast<int64_t>(d)) != axes.end();
    if (!runs.empty() && runs.back().reduced == reduced) runs.back().size *= size;
    else runs.push_back({size, reduced});
  }
  const auto reduced_runs = std::count_if(runs.begin(), runs.end(), [](const Run& r) { return r.reduced; });
  if (allow_reps && runs.size() == 3 && runs[0].reduced && runs[2].reduced)
    return {in, runs[1].size, runs[2].size, 1, runs[0].size, runs[1].size * runs[2].size};
  if (reduced_runs > 1) {
    ReductionView v = make_reduction_view(in, axes);
    return {v.data, v.outer, v.count, 1};
  }
  Blocks b{in, 1, 1, 1};
  bool seen = false;
  for (const Run& r : runs) {
    if (r.reduced) {
      b.n = r.size;
      seen = true;
    } else {
      (seen ? b.inner : b.outer) *= r.size;
    }
  }
  return b;
}

// Calls body(offset, index, cols, stride) for every segment of `cols` neighbouring outputs of one
// outer index: output `index` (= o*inner + j) folds data[offset + k*stride] for k in [0, n), the
// next output starts at offset + 1. With inner == 1, cols and stride are the constant 1 so the
// body compiles to a plain contiguous loop.
template <typename Body>
void for_each_segment(int64_t outer, int64_t n, int64_t inner, Body body) {
  const int64_t total = outer * inner;
  if (total == 0) return;
  const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(n, 1));
  parallel_for(0, total, grain, [&](int64_t b, int64_t e) {
    if (inner == 1) {
      for (int64_t i = b; i < e; ++i) body(i * n, i, One{}, One{});
      return;
    }
    for (int64_t i = b; i < e;) {
      const int64_t o = i / inner, j = i % inner;
      const int64_t cols = std::min({kTile, inner - j, e - i});
      body(o * n * inner + j, i, cols, inner);
      i += cols;
    }
  });
}

const ReduceOp& reduce_op(const Op& op) { return static_cast<const ReduceOp&>(op); }

// Single-pass folds: state = init(), step(state, value, k) for k in order, out = finish(state).
template <typename T, typename Out, typename State, typename Init, typename Step, typename Finish>
void fold(const Op& op, const Tensor& in, Tensor& out, Init init, Step step, Finish finish) {
  const Blocks v = reduction_blocks(in, reduce_op(op).axes, true);
  const T* x = v.data.data<T>();
  Out* y = out.data<Out>();
  for_each_segment(v.outer, v.n * v.reps, v.inner, [&](int64_t off, int64_t idx, auto cols, auto stride) {
    std::array<State, kTile> s;
    for (int64_t c = 0; c < cols; ++c) s[c] = init();
    for (int64_t r = 0; r < v.reps; ++r) {
      const T* block = x + r * v.rep_stride + (v.reps == 1 ? off : idx * v.n);
      for (int64_t k = 0; k < v.n; ++k) {
        const T* row = block + k * stride;
        for (int64_t c = 0; c < cols; ++c) step(s[c], row[c], r * v.n + k);
      }
    }
    for (int64_t c = 0; c < cols; ++c) y[idx + c] = finish(s[c]);
  });
}

// Floating-point sums and means of contiguous rows: lane_sum per row. Returns false otherwise.
template <typename T>
bool row_sums(const Op& op, const Tensor& in, Tensor& out, double divisor) {
  if constexpr (!std::is_floating_point_v<T>) {
    return false;
  } else {
    const Blocks v = reduction_blocks(in, reduce_op(op).axes, true);
    if (v.inner != 1 || v.reps != 1) return false;
    const T* x = v.data.data<T>();
    T* y = out.data<T>();
    for_each_segment(v.outer, v.n, 1, [&](int64_t off, int64_t idx, auto, auto) {
      y[idx] = static_cast<T>(lane_sum(x + off, v.n) / divisor);
    });
    return true;
  }
}

template <typename T>
void sum_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  if (row_sums<T>(op, in[0], out[0], 1.0)) return;
  fold<T, T, Acc<T>>(
      op, in[0], out[0], [] { return Acc<T>(0); }, [](Acc<T>& s, T v, int64_t) { s += v; },
      [](Acc<T> s) { return static_cast<T>(s); });
}

template <typename T>
void prod_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  fold<T, T, Acc<T>>(
      op, in[0], out[0], [] { return Acc<T>(1); }, [](Acc<T>& s, T v, int64_t) { s *= v; },
      [](Acc<T> s) { return static_cast<T>(s); });
}

template <typename T>
void mean_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const auto n = static_cast<double>(reduce_op(op).reduced_count(in[0].shape()));
  if (row_sums<T>(op, in[0], out[0], n)) return;
  fold<T, T, double>(
      op, in[0], out[0], [] { return 0.0; }, [](double& s, T v, int64_t) { s += v; },
      [n](double s) { return static_cast<T>(s / n); });
}

// Max/Min propagate NaN like NumPy: once a NaN is seen it stays.
template <typename T, bool kMax>
void extremum_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  fold<T, T, T>(
      op, in[0], out[0], [] { return fold_start<T, kMax>(); },
      [](T& s, T v, int64_t) { s = (kMax ? v > s : v < s) || is_nan(v) ? v : s; },
      [](T s) { return s; });
}

// First index of the extremum; the first NaN wins, as in NumPy.
template <typename T, bool kMax>
void arg_extremum_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  struct State {
    T best;
    int64_t index;
  };
  fold<T, int64_t, State>(
      op, in[0], out[0], [] { return State{fold_start<T, kMax>(), 0}; },
      [](State& s, T v, int64_t k) {
        if (is_nan(s.best)) return;
        if ((kMax ? v > s.best : v < s.best) || is_nan(v)) s = {v, k};
      },
      [](const State& s) { return s.index; });
}

// Two-pass reductions: pass one computes a per-output centre (the mean for variance, the max for
// logsumexp) into `centre`; pass two folds values relative to it.
template <typename T, typename Pass1, typename Pass2>
void two_pass(const Op& op, const Tensor& in, Tensor& out, Pass1 pass1, Pass2 pass2) {
  const Blocks v = reduction_blocks(in, reduce_op(op).axes);
  const T* x = v.data.data<T>();
  T* y = out.data<T>();
  for_each_segment(v.outer, v.n, v.inner, [&](int64_t off, int64_t idx, auto cols, auto stride) {
    std::array<double, kTile> centre, s;
    pass1(x + off, v.n, cols, stride, centre.data());
    for (int64_t c = 0; c < cols; ++c) s[c] = 0.0;
    if constexpr (std::is_same_v<decltype(cols), One>) {
      s[0] = lane_sum(x + off, v.n, [&](double e) { return pass2(e, centre[0]); });
    } else {
      for (int64_t k = 0; k < v.n; ++k) {
        const T* row = x + off + k * stride;
        for (int64_t c = 0; c < cols; ++c) s[c] += pass2(static_cast<double>(row[c]), centre[c]);
      }
    }
    for (int64_t c = 0; c < cols; ++c) y[idx + c] = static_cast<T>(pass2.finish(s[c], centre[c]));
  });
}

// Column means of a segment: centre[c] = mean over k of x[k*stride + c].
template <typename T, typename Cols, typename Stride>
void column_means(const T* x, int64_t n, Cols cols, Stride stride, double* centre) {
  if constexpr (std::is_same_v<Cols, One>) {
    centre[0] = lane_sum(x, n) / static_cast<double>(n);
    return;
  }
  for (int64_t c = 0; c < cols; ++c) centre[c] = 0.0;
  for (int64_t k = 0; k < n; ++k)
    for (int64_t c = 0; c < cols; ++c) centre[c] += x[k * stride + c];
  for (int64_t c = 0; c < cols; ++c) centre[c] /= static_cast<double>(n);
}

// Column maxima, replaced by 0 where not finite so that all -inf gives -inf and +inf gives +inf
// (instead of inf - inf = NaN) after the shift.
template <typename T, typename Cols, typename Stride>
void column_shifts(const T* x, int64_t n, Cols cols, Stride stride, double* centre) {
  for (int64_t c = 0; c < cols; ++c) centre[c] = -std::numeric_limits<double>::infinity();
  for (int64_t k = 0; k < n; ++k)
    for (int64_t c = 0; c < cols; ++c) centre[c] = std::max(centre[c], static_cast<double>(x[k * stride + c]));
  for (int64_t c = 0; c < cols; ++c)
    if (!std::isfinite(centre[c])) centre[c] = 0.0;
}

template <typename T>
void variance_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const double denom = static_cast<double>(reduce_op(op).reduced_count(in[0].shape())) - reduce_op(op).correction;
  struct Deviation {
    double operator()(double v, double m) const { return (v - m) * (v - m); }
    double finish(double s, double) const { return s / denom; }
    double denom;
  };
  auto means = [](const T* x, int64_t n, auto cols, auto stride, double* c) { column_means(x, n, cols, stride, c); };
  two_pass<T>(op, in[0], out[0], means, Deviation{denom});
}

template <typename T>
void logsumexp_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  struct ShiftedExp {
    double operator()(double v, double m) const { return exp_in<T>(v - m); }
    double finish(double s, double m) const { return m + std::log(s); }
  };
  auto shifts = [](const T* x, int64_t n, auto cols, auto stride, double* c) { column_shifts(x, n, cols, stride, c); };
  two_pass<T>(op, in[0], out[0], shifts, ShiftedExp{});
}

// ---- ops along one axis ----

template <typename T, typename Body>
void along_axis(const Op& op, const Tensor& in, Tensor& out, Body body) {
  const AxisView v = make_axis_view(in.shape(), static_cast<const AxisOp&>(op).axis);
  const T* x = in.data<T>();
  T* y = out.data<T>();
  for_each_segment(v.outer, v.n, v.inner, [&](int64_t off, int64_t, auto cols, auto stride) {
    body(x + off, y + off, v.n, cols, stride);
  });
}

template <typename T>
void cumsum_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  along_axis<T>(op, in[0], out[0], [](const T* x, T* y, int64_t n, auto cols, auto stride) {
    std::array<Acc<T>, kTile> s{};
    for (int64_t k = 0; k < n; ++k)
      for (int64_t c = 0; c < cols; ++c) {
        s[c] += x[k * stride + c];
        y[k * stride + c] = static_cast<T>(s[c]);
      }
  });
}

// Softmax and log-softmax shift by the maximum along the axis, so exp never overflows.
template <typename T, bool kLog>
void softmax_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  along_axis<T>(op, in[0], out[0], [](const T* x, T* y, int64_t n, auto cols, auto stride) {
    std::array<double, kTile> m, s;
    column_shifts(x, n, cols, stride, m.data());
    for (int64_t c = 0; c < cols; ++c) s[c] = 0.0;
    for (int64_t k = 0; k < n; ++k)
      for (int64_t c = 0; c < cols; ++c) {
        const double e = exp_in<T>(static_cast<double>(x[k * stride + c]) - m[c]);
        s[c] += e;
        if constexpr (!kLog) y[k * stride + c] = static_cast<T>(e);
      }
    // log-softmax subtracts the shift before the log-sum, which keeps precision for large inputs.
    for (int64_t c = 0; c < cols; ++c) s[c] = kLog ? std::log(s[c]) : 1.0 / s[c];
    for (int64_t k = 0; k < n; ++k)
      for (int64_t c = 0; c < cols; ++c) {
        T& o = y[k * stride + c];
        if constexpr (kLog) o = static_cast<T>((static_cast<double>(x[k * stride + c]) - m[c]) - s[c]);
        else o = static_cast<T>(o * s[c]);
      }
  });
}

// Softmax / log-softmax along the last (contiguous) axis with the vectorized exp of
// vec_math.h: per row, the maximum, exp(x - max) in place, the sum in double, then a scale (or
// the log-sum subtracted). Other axes use the general kernel above.
template <typename T, bool kLog>
void softmax_last_axis_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const AxisView v = make_axis_view(in[0].shape(), static_cast<const AxisOp&>(op).axis);
  if (v.inner != 1 || v.n == 0) return softmax_kernel<T, kLog>(op, in, out);
  const T* x = in[0].data<T>();
  T* y = out[0].data<T>();
  const int64_t n = v.n;
  parallel_for(0, v.outer, std::max<int64_t>(1, kElementwiseGrain / 4 / n), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * n;
      T* yr = y + r * n;
      // Max and sum in kLanes independent accumulators, so the loops vectorize (the max is the
      // same in any order; NaNs are skipped by it and propagate through exp).
      constexpr int64_t kLanes = 8;
      const int64_t whole = n / kLanes * kLanes;
      std::array<T, kLanes> lane_max;
      lane_max.fill(-std::numeric_limits<T>::infinity());
      for (int64_t k = 0; k < whole; k += kLanes)
        for (int64_t j = 0; j < kLanes; ++j) lane_max[j] = std::max(lane_max[j], xr[k + j]);
      T m = -std::numeric_limits<T>::infinity();
      for (T v : lane_max) m = std::max(m, v);
      for (int64_t k = whole; k < n; ++k) m = std::max(m, xr[k]);
      if (!std::isfinite(m)) m = T(0);  // all -inf stays -inf, +inf gives NaN/inf as in the general kernel
      for (int64_t k = 0; k < n; ++k) yr[k] = xr[k] - m;
      vec::exp(yr, yr, n);
      const double sum = lane_sum(yr, n);
      if constexpr (kLog) {
        const T shift = static_cast<T>(std::log(sum));
        for (int64_t k = 0; k < n; ++k) yr[k] = (xr[k] - m) - shift;
      } else {
        const T scale = static_cast<T>(1.0 / sum);
        for (int64_t k = 0; k < n; ++k) yr[k] *= scale;
      }
    }
  });
}

template <typename... Ts, typename F>
void add_all(KernelTable& r, OpKind kind, F make) {
  (r.add(kind, dtype_of_v<Ts>, make(static_cast<Ts*>(nullptr)),
         fmt::format("{}_{}", op_name(kind), dtype_name(dtype_of_v<Ts>))),
   ...);
}

}  // namespace

void register_reduce_kernels(KernelTable& r) {
  using K = OpKind;
  // Each lambda maps a dtype tag to the kernel instantiated for it.
  add_all<double, float, int32_t, int64_t>(r, K::Sum, []<typename T>(T*) -> KernelFn { return sum_kernel<T>; });
  add_all<double, float, int32_t, int64_t>(r, K::Prod, []<typename T>(T*) -> KernelFn { return prod_kernel<T>; });
  add_all<double, float, int32_t, int64_t>(r, K::Max,
                                           []<typename T>(T*) -> KernelFn { return extremum_kernel<T, true>; });
  add_all<double, float, int32_t, int64_t>(r, K::Min,
                                           []<typename T>(T*) -> KernelFn { return extremum_kernel<T, false>; });
  add_all<double, float, int32_t, int64_t>(r, K::ArgMax,
                                           []<typename T>(T*) -> KernelFn { return arg_extremum_kernel<T, true>; });
  add_all<double, float, int32_t, int64_t>(r, K::ArgMin,
                                           []<typename T>(T*) -> KernelFn { return arg_extremum_kernel<T, false>; });
  add_all<double, float, int32_t, int64_t>(r, K::CumSum, []<typename T>(T*) -> KernelFn { return cumsum_kernel<T>; });
  add_all<double, float>(r, K::Mean, []<typename T>(T*) -> KernelFn { return mean_kernel<T>; });
  add_all<double, float>(r, K::Variance, []<typename T>(T*) -> KernelFn { return variance_kernel<T>; });
  add_all<double, float>(r, K::LogSumExp, []<typename T>(T*) -> KernelFn { return logsumexp_kernel<T>; });
  add_all<double, float>(r, K::Softmax, []<typename T>(T*) -> KernelFn { return softmax_kernel<T, false>; });
  add_all<double, float>(r, K::LogSoftmax, []<typename T>(T*) -> KernelFn { return softmax_kernel<T, true>; });
  r.add(K::Softmax, DType::f32, softmax_last_axis_kernel<float, false>, "softmax_f32_avx2", Isa::avx2_fma, 10);
  r.add(K::Softmax, DType::f64, softmax_last_axis_kernel<double, false>, "softmax_f64_avx2", Isa::avx2_fma, 10);
  r.add(K::LogSoftmax, DType::f32, softmax_last_axis_kernel<float, true>, "log_softmax_f32_avx2", Isa::avx2_fma, 10);
  r.add(K::LogSoftmax, DType::f64, softmax_last_axis_kernel<double, true>, "log_softmax_f64_avx2", Isa::avx2_fma, 10);
}

}  // namespace mithril::cpu
