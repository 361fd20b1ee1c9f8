// Loop helpers shared by the CPU kernels: contiguous maps, broadcasting binary/ternary maps,
// and the reshaping of a reduction into (outer, reduced, inner) blocks. Kernels write their
// math as a lambda over scalars; these helpers own iteration, broadcasting and threading.
#pragma once

#include <cstdint>
#include <vector>

#include "mithril/core/tensor.h"
#include "mithril/core/thread_pool.h"

namespace mithril::cpu {

inline constexpr int64_t kElementwiseGrain = 32768;  // elements per thread below which we stay serial

// out[i] = f(in[i]) over contiguous tensors of the same number of elements.
template <typename In, typename Out, typename F>
void map_unary(const Tensor& in, Tensor& out, F f) {
  const In* x = in.data<In>();
  Out* y = out.data<Out>();
  parallel_for(0, out.numel(), kElementwiseGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = f(x[i]);
  });
}

// Strides (in elements) that read `t` as if broadcast to `shape`: 0 on broadcast dims.
Strides broadcast_strides(const Tensor& t, const Shape& shape);

// out = f(a, b) with NumPy broadcasting; a and b are contiguous, out has the broadcast shape.
template <typename A, typename B, typename Out, typename F>
void map_binary(const Tensor& a, const Tensor& b, Tensor& out, F f) {
  const A* pa = a.data<A>();
  const B* pb = b.data<B>();
  Out* po = out.data<Out>();
  const int64_t n = out.numel();
  if (n == 0) return;
  if (a.shape() == b.shape()) {
    parallel_for(0, n, kElementwiseGrain, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) po[i] = f(pa[i], pb[i]);
    });
    return;
  }
  if (b.numel() == 1 && a.numel() == n) {
    const B v = pb[0];
    parallel_for(0, n, kElementwiseGrain, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) po[i] = f(pa[i], v);
    });
    return;
  }
  if (a.numel() == 1 && b.numel() == n) {
    const A v = pa[0];
    parallel_for(0, n, kElementwiseGrain, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) po[i] = f(v, pb[i]);
    });
    return;
  }
  // General case: rows of the innermost output dim, each operand with stride 0 or 1 there.
  const Shape& shape = out.shape();
  const Strides sa = broadcast_strides(a, shape), sb = broadcast_strides(b, shape);
  const size_t nd = shape.size();
  const int64_t inner = shape[nd - 1];
  const int64_t rows = n / inner;
  const int64_t ia = sa[nd - 1], ib = sb[nd - 1];
  parallel_for(0, rows, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(inner, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t oa = 0, ob = 0, rem = r;
      for (size_t d = nd - 1; d-- > 0;) {
        const int64_t idx = rem % shape[d];
        rem /= shape[d];
        oa += idx * sa[d];
        ob += idx * sb[d];
      }
      Out* o = po + r * inner;
      for (int64_t i = 0; i < inner; ++i) o[i] = f(pa[oa + i * ia], pb[ob + i * ib]);
    }
  });
}

// out = f(c, a, b) with broadcasting of all three (used by where and robust ops).
template <typename C, typename A, typename B, typename Out, typename F>
void map_ternary(const Tensor& c, const Tensor& a, const Tensor& b, Tensor& out, F f) {
  const Shape& shape = out.shape();
  const int64_t n = out.numel();
  if (n == 0) return;
  const Strides sc = broadcast_strides(c, shape), sa = broadcast_strides(a, shape), sb = broadcast_strides(b, shape);
  const C* pc = c.data<C>();
  const A* pa = a.data<A>();
  const B* pb = b.data<B>();
  Out* po = out.data<Out>();
  const size_t nd = shape.size();
  const int64_t inner = nd ? shape[nd - 1] : 1;
  const int64_t rows = n / inner;
  const int64_t ic = nd ? sc[nd - 1] : 0, ia = nd ? sa[nd - 1] : 0, ib = nd ? sb[nd - 1] : 0;
  parallel_for(0, rows, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(inner, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t oc = 0, oa = 0, ob = 0, rem = r;
      for (size_t d = nd - 1; nd > 0 && d-- > 0;) {
        const int64_t idx = rem % shape[d];
        rem /= shape[d];
        oc += idx * sc[d];
        oa += idx * sa[d];
        ob += idx * sb[d];
      }
      Out* o = po + r * inner;
      for (int64_t i = 0; i < inner; ++i) o[i] = f(pc[oc + i * ic], pa[oa + i * ia], pb[ob + i * ib]);
    }
  });
}

// A reduction viewed as blocks: the input permuted so reduced axes come last, made
// contiguous, so output element i reduces in[i*count .. (i+1)*count).
struct ReductionView {
  Tensor data;     // contiguous, shape (outer, count)
  int64_t outer;   // number of output elements
  int64_t count;   // elements reduced into each
};
ReductionView make_reduction_view(const Tensor& in, const Axes& axes);

// For ops along one axis: the input as (outer, n, inner) with element (o, k, i) at
// o*n*inner + k*inner + i in contiguous memory.
struct AxisView {
  int64_t outer, n, inner;
};
AxisView make_axis_view(const Shape& shape, int64_t axis);

}  // namespace mithril::cpu
