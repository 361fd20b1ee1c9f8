// Helpers shared by the reference kernels: reading any tensor as float64, writing float64
// results into an output of any dtype, and row-major index arithmetic with NumPy broadcasting.
// Everything is a plain scalar loop; nothing here is meant to be fast.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "mithril/core/tensor.h"

namespace mithril::reference {

using Index = std::vector<int64_t>;

// Every element of `t` as a double, in row-major order.
inline std::vector<double> read(const Tensor& t) { return t.to_doubles(); }

// A double as signed integer type T: truncated toward zero, then wrapped to T's width (as the
// integer kernels of a C++ backend compute in T and wrap). NaN and values out of the int64
// range give T's lowest value.
template <typename T>
T to_integer(double v) {
  if (!(std::abs(v) < 9.2233720368547758e18)) return std::numeric_limits<T>::lowest();
  return static_cast<T>(static_cast<int64_t>(v));  // narrowing conversion wraps (C++20)
}

// Writes `values` (row-major) into `out`: floats round from double (through from_double, which
// narrows 16-bit floats with round-to-nearest-even), integers truncate and wrap, bools are v != 0.
inline void write(Tensor& out, const std::vector<double>& values) {
  const int64_t n = out.numel();
  dispatch_dtype(out.dtype(), [&]<typename T>() {
    T* p = static_cast<T*>(out.raw_data());
    for (int64_t i = 0; i < n; ++i) {
      const double v = values[static_cast<size_t>(i)];
      if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) p[i] = to_integer<T>(v);
      else p[i] = from_double<T>(v);
    }
  });
}

// Row-major element strides of a contiguous shape.
inline Index row_major_strides(const Shape& shape) {
  Index s(shape.size(), 1);
  for (size_t d = shape.size(); d-- > 1;) s[d - 1] = s[d] * shape[d];
  return s;
}

// The multi-index of flat position `flat` in `shape`.
inline Index unravel(int64_t flat, const Shape& shape) {
  Index idx(shape.size(), 0);
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = shape[d] == 0 ? 0 : flat % shape[d];
    flat = shape[d] == 0 ? 0 : flat / shape[d];
  }
  return idx;
}

// The flat position of multi-index `idx` in `shape`.
inline int64_t ravel(const Index& idx, const Shape& shape) {
  int64_t flat = 0;
  for (size_t d = 0; d < shape.size(); ++d) flat = flat * shape[d] + idx[d];
  return flat;
}

// The flat position in `in` (a shape broadcastable to the output) that output index `out_idx`
// reads: dims align at the right, size-1 dims of `in` read index 0.
inline int64_t broadcast_source(const Index& out_idx, const Shape& in) {
  const size_t lead = out_idx.size() - in.size();
  int64_t flat = 0;
  for (size_t d = 0; d < in.size(); ++d) flat = flat * in[d] + (in[d] == 1 ? 0 : out_idx[lead + d]);
  return flat;
}

// Calls f(index, flat) for every element of `shape` in row-major order.
template <typename F>
void for_each_index(const Shape& shape, F&& f) {
  const int64_t n = numel(shape);
  for (int64_t i = 0; i < n; ++i) f(unravel(i, shape), i);
}

// Broadcast source positions of `in` for every element of `out`, row-major.
inline std::vector<int64_t> broadcast_sources(const Shape& in, const Shape& out) {
  std::vector<int64_t> src(static_cast<size_t>(numel(out)));
  for_each_index(out, [&](const Index& idx, int64_t i) { src[static_cast<size_t>(i)] = broadcast_source(idx, in); });
  return src;
}

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
inline constexpr double kInf = std::numeric_limits<double>::infinity();

}  // namespace mithril::reference
