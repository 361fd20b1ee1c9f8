// CPU kernels for the layout family: cast, reshape, broadcast, permute, slicing, padding,
// concatenation, splitting, gather/scatter, diagonal, eye, one-hot.
//
// Pure data movement does not depend on what the bytes mean, only on the element width, so
// those kernels are written once over 1/2/4/8-byte words and registered for every dtype.
#include <algorithm>
#include <cstring>
#include <string>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "mithril/backends/cpu/convert.h"
#include "mithril/backends/cpu/loops.h"
#include "mithril/backends/cpu/registry.h"
#include "mithril/core/cpu_features.h"
#include "mithril/core/error.h"
#include "mithril/ops/shape.h"

namespace mithril::cpu {
namespace {

constexpr std::initializer_list<DType> kAllDTypes = {DType::f64, DType::f32, DType::f16, DType::bf16,
                                                     DType::i8,  DType::i32, DType::i64, DType::b8};

// Calls f.template operator()<W>() with W an unsigned integer as wide as one element of `t`.
template <typename F>
void dispatch_width(DType t, F&& f) {
  switch (dtype_size(t)) {
    case 1:
      return f.template operator()<uint8_t>();
    case 2:
      return f.template operator()<uint16_t>();
    case 4:
      return f.template operator()<uint32_t>();
    default:
      return f.template operator()<uint64_t>();
  }
}

// A strided view of raw elements: `base` points at element (0, ..., 0); strides are in elements.
struct View {
  const void* base;
  Strides strides;
};
struct MutView {
  void* base;
  Strides strides;
};

View view_of(const Tensor& t) { return {t.raw_data(), t.strides()}; }
MutView view_of(Tensor& t) { return {t.raw_data(), t.strides()}; }

// dst[idx] = src[idx] for every index of `shape`, a row (innermost dim) at a time, rows split
// over threads. Rows that are contiguous on both sides are one memcpy.
// The last two axes swapped (src row stride 1, dst contiguous rows): a weight transpose.
// Copied in 32 x 32 tiles so that both the reads and the writes of a tile stay in L1; the
// row-at-a-time copy reads a whole column per output row and misses cache on every element.
bool is_last_two_transpose(const Shape& shape, const View& src, const MutView& dst) {
  const size_t nd = shape.size();
  return nd >= 2 && dst.strides[nd - 1] == 1 && src.strides[nd - 2] == 1 && src.strides[nd - 1] != 1 &&
         shape[nd - 1] > 1 && shape[nd - 2] > 1;
}

#if defined(__x86_64__) || defined(__i386__)
// dst (8 x 8 block, row stride ld_d) = transpose of src (8 x 8 block, row stride ld_s), for
// 4-byte elements: eight loads, the standard unpack/shuffle/permute network, eight stores.
__attribute__((target("avx2"))) void transpose8x8_u32(const uint32_t* src, int64_t ld_s, uint32_t* dst, int64_t ld_d) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(reinterpret_cast<const float*>(src + i * ld_s));
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x20);
    t[i + 4] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x31);
  }
  for (int i = 0; i < 8; ++i) _mm256_storeu_ps(reinterpret_cast<float*>(dst + i * ld_d), t[i]);
}
#endif

template <typename W>
void tiled_transpose_copy(const Shape& shape, const View& src, const MutView& dst) {
  constexpr int64_t kTile = 32;
  const size_t nd = shape.size();
  const int64_t rows = shape[nd - 2], cols = shape[nd - 1];
  const int64_t s_col = src.strides[nd - 1], d_row = dst.strides[nd - 2];
  const int64_t outer = numel(shape) / (rows * cols);
  const int64_t row_tiles = (rows + kTile - 1) / kTile;
  const W* s = static_cast<const W*>(src.base);
  W* d = static_cast<W*>(dst.base);
  static const bool avx2 = cpu_has(Isa::avx2_fma);
  parallel_for(0, outer * row_tiles, std::max<int64_t>(1, kElementwiseGrain / (kTile * cols)), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      int64_t os = 0, od = 0, rem = t / row_tiles;
      for (size_t k = nd - 2; k-- > 0;) {
        const int64_t idx = rem % shape[k];
        rem /= shape[k];
        os += idx * src.strides[k];
        od += idx * dst.strides[k];
      }
      const int64_t i0 = (t % row_tiles) * kTile, i1 = std::min(rows, i0 + kTile);
      for (int64_t j0 = 0; j0 < cols; j0 += kTile) {
        const int64_t j1 = std::min(cols, j0 + kTile);
#if defined(__x86_64__) || defined(__i386__)
        // Full 8 x 8 blocks of 4-byte elements with AVX2; the edges fall through to the loop.
        if constexpr (sizeof(W) == 4) {
          if (avx2 && i1 - i0 == kTile && j1 - j0 == kTile) {
            for (int64_t i = i0; i < i1; i += 8)
              for (int64_t j = j0; j < j1; j += 8)
                transpose8x8_u32(reinterpret_cast<const uint32_t*>(s + os + i + j * s_col), s_col,
                                 reinterpret_cast<uint32_t*>(d + od + i * d_row + j), d_row);
            continue;
          }
        }
#endif
        for (int64_t i = i0; i < i1; ++i) {
          W* drow = d + od + i * d_row;
          const W* scol = s + os + i;
          for (int64_t j = j0; j < j1; ++j) drow[j] = scol[j * s_col];
        }
      }
    }
  });
}

// The same copy with size-1 axes dropped and neighbouring axes merged where both sides are
// contiguous across them: a "transpose" of a (32, 1, 384) tensor is one memcpy, and long rows
// replace many short ones.
void simplify_copy(Shape& shape, Strides& s, Strides& d) {
  Shape sh;
  Strides ss, ds;
  for (size_t k = 0; k < shape.size(); ++k) {
    if (shape[k] == 1) continue;
    if (!sh.empty() && ss.back() == s[k] * shape[k] && ds.back() == d[k] * shape[k]) {
      sh.back() *= shape[k];
      ss.back() = s[k];
      ds.back() = d[k];
      continue;
    }
    sh.push_back(shape[k]);
    ss.push_back(s[k]);
    ds.push_back(d[k]);
  }
  if (sh.empty()) {  // a single element
    sh = {1};
    ss = {1};
    ds = {1};
  }
  shape = std::move(sh);
  s = std::move(ss);
  d = std::move(ds);
}

void strided_copy(DType dtype, const Shape& full_shape, const View& full_src, const MutView& full_dst) {
  const int64_t n = numel(full_shape);
  if (n == 0) return;
  Shape shape = full_shape;
  View src = full_src;
  MutView dst = full_dst;
  simplify_copy(shape, src.strides, dst.strides);
  if (is_last_two_transpose(shape, src, dst)) {
    dispatch_width(dtype, [&]<typename W>() { tiled_transpose_copy<W>(shape, src, dst); });
    return;
  }
  dispatch_width(dtype, [&]<typename W>() {
    const W* s = static_cast<const W*>(src.base);
    W* d = static_cast<W*>(dst.base);
    const size_t nd = shape.size();
    const int64_t inner = nd ? shape[nd - 1] : 1;
    const int64_t si = nd ? src.strides[nd - 1] : 1, di = nd ? dst.strides[nd - 1] : 1;
    const int64_t rows = n / inner;
    parallel_for(0, rows, std::max<int64_t>(1, kElementwiseGrain / inner), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        int64_t os = 0, od = 0, rem = r;
        for (size_t k = nd - 1; nd > 0 && k-- > 0;) {
          const int64_t idx = rem % shape[k];
          rem /= shape[k];
          os += idx * src.strides[k];
          od += idx * dst.strides[k];
        }
        if (si == 1 && di == 1) {
          std::memcpy(d + od, s + os, static_cast<size_t>(inner) * sizeof(W));
        } else {
          for (int64_t i = 0; i < inner; ++i) d[od + i * di] = s[os + i * si];
        }
      }
    });
  });
}

void copy_into(Tensor& dst, const Tensor& src) { strided_copy(src.dtype(), src.shape(), view_of(src), view_of(dst)); }

// Fills a contiguous tensor with `value` converted to its dtype.
void fill(Tensor& t, double value) {
  const Tensor v = Tensor::scalar(value, t.dtype());
  dispatch_width(t.dtype(), [&]<typename W>() {
    W word;
    std::memcpy(&word, v.raw_data(), sizeof(W));
    W* p = static_cast<W*>(t.raw_data());
    parallel_for(0, t.numel(), kElementwiseGrain, [&](int64_t b, int64_t e) { std::fill(p + b, p + e, word); });
  });
}

// Indices as int64, negative ones wrapped when `wrap_negative`; all are checked before any
// output is written. `range` describes the valid range for the message ("axis 0 with size 3").
std::vector<int64_t> checked_indices(const Op& op, const Tensor& indices, int64_t size, bool wrap_negative,
                                     const std::string& range) {
  std::vector<int64_t> out(static_cast<size_t>(indices.numel()));
  auto load = [&]<typename I>() {
    const I* p = indices.data<I>();
    for (size_t j = 0; j < out.size(); ++j) {
      const int64_t v = p[j];
      const int64_t w = wrap_negative && v < 0 ? v + size : v;
      MI_CHECK(w >= 0 && w < size, ValueError, "[{}] index {} is out of range for {}", op.name(), v, range);
      out[j] = w;
    }
  };
  if (indices.dtype() == DType::i32)
    load.template operator()<int32_t>();
  else
    load.template operator()<int64_t>();
  return out;
}

// Cast converts; reshape, broadcast and permute copy a view of the input.
// Contiguous to contiguous, element by element through double (exact for every pair except
// int64 beyond 2^53, the same rule as Tensor::astype); plain loops the compiler vectorizes, and
// the bulk 16-bit conversions for f16/bf16 <-> f32.
template <typename S, typename D>
void cast_loop(const S* s, D* d, int64_t n) {
  for (int64_t i = 0; i < n; ++i) d[i] = from_double<D>(to_double(s[i]));
}

void cast_kernel(const Op&, std::span<const Tensor> in, std::span<Tensor> out) {
  const DType from = in[0].dtype(), to = out[0].dtype();
  const int64_t n = out[0].numel();
  if (from == to) {
    if (n > 0) std::memcpy(out[0].raw_data(), in[0].raw_data(), out[0].nbytes());
    return;
  }
  if (is_low_precision(from) && to == DType::f32) {
    widen_into(in[0], out[0]);
    return;
  }
  if (from == DType::f32 && is_low_precision(to)) {
    narrow_tensor(in[0], out[0]);
    return;
  }
  dispatch_dtype(from, [&]<typename S>() {
    dispatch_dtype(to, [&]<typename D>() {
      const S* s = in[0].data<S>();
      D* d = out[0].data<D>();
      parallel_for(0, n, kElementwiseGrain, [&](int64_t b, int64_t e) { cast_loop(s + b, d + b, e - b); });
    });
  });
}

void reshape_kernel(const Op&, std::span<const Tensor> in, std::span<Tensor> out) {
  std::memcpy(out[0].raw_data(), in[0].raw_data(), out[0].nbytes());
}

void broadcast_kernel(const Op&, std::span<const Tensor> in, std::span<Tensor> out) {
  copy_into(out[0], in[0].broadcast_to(out[0].shape()));
}

void permute_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  copy_into(out[0], in[0].permute(static_cast<const PermuteOp&>(op).axes));
}

void slice_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const auto ranges = static_cast<const SliceOp&>(op).resolve(in[0].shape());
  Tensor v = in[0];
  for (size_t d = 0; d < ranges.size(); ++d) {
    const auto& r = ranges[d];
    v = v.slice(static_cast<int64_t>(d), r.start, r.start + r.size * r.step, r.step);
  }
  copy_into(out[0], v);
}

void pad_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const auto& p = static_cast<const PadOp&>(op);
  fill(out[0], p.value);
  // The input lands on a strided sub-view of the output.
  Tensor dst = out[0];
  for (size_t d = 0; d < p.low.size(); ++d) {
    const int64_t step = p.interior[d] + 1;
    dst = dst.slice(static_cast<int64_t>(d), p.low[d], p.low[d] + in[0].shape()[d] * step, step);
  }
  copy_into(dst, in[0]);
}

void concat_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const int64_t axis = static_cast<const ConcatOp&>(op).axis;
  int64_t at = 0;
  for (const Tensor& x : in) {
    const int64_t n = x.shape()[static_cast<size_t>(axis)];
    Tensor dst = out[0].slice(axis, at, at + n);
    copy_into(dst, x);
    at += n;
  }
}

void split_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const int64_t axis = static_cast<const SplitOp&>(op).axis;
  int64_t at = 0;
  for (Tensor& o : out) {
    const int64_t n = o.shape()[static_cast<size_t>(axis)];
    copy_into(o, in[0].slice(axis, at, at + n));
    at += n;
  }
}

// in viewed as (outer, n, inner) and out as (outer, count, inner), count = number of indices.
void gather_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const int64_t axis = static_cast<const GatherOp&>(op).axis;
  const AxisView v = make_axis_view(in[0].shape(), axis);
  const std::vector<int64_t> idx =
      checked_indices(op, in[1], v.n, true, fmt::format("axis {} with size {}", axis, v.n));
  const auto count = static_cast<int64_t>(idx.size());
  const int64_t rows = v.outer * count;
  if (rows == 0 || v.inner == 0) return;
  const size_t row_bytes = static_cast<size_t>(v.inner) * dtype_size(in[0].dtype());
  const auto* src = static_cast<const std::byte*>(in[0].raw_data());
  auto* dst = static_cast<std::byte*>(out[0].raw_data());
  parallel_for(0, rows, std::max<int64_t>(1, kElementwiseGrain / v.inner), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t o = r / count, j = r % count;
      std::memcpy(dst + static_cast<size_t>(r) * row_bytes,
                  src + static_cast<size_t>(o * v.n + idx[static_cast<size_t>(j)]) * row_bytes, row_bytes);
    }
  });
}

template <typename T>
void accumulate(T& acc, T v) {
  if constexpr (std::is_arithmetic_v<T>)
    acc = static_cast<T>(acc + v);
  else
    acc = from_double<T>(to_double(acc) + to_double(v));
}

// out viewed as (outer, n, inner), updates as (outer, count, inner). Threads own disjoint
// output columns (o, i) and add the updates of each column in order of j, so sums are
// independent of the thread count.
template <typename T>
void scatter_add_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const auto& s = static_cast<const ScatterAddOp&>(op);
  const AxisView v = make_axis_view(s.shape, s.axis);
  const std::vector<int64_t> idx =
      checked_indices(op, in[1], v.n, true, fmt::format("axis {} with size {}", s.axis, v.n));
  std::memset(out[0].raw_data(), 0, out[0].nbytes());
  const auto count = static_cast<int64_t>(idx.size());
  const int64_t columns = v.outer * v.inner;
  if (columns == 0 || count == 0) return;
  const T* u = in[0].data<T>();
  T* y = out[0].data<T>();
  parallel_for(0, columns, std::max<int64_t>(1, kElementwiseGrain / count), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1;) {
      const int64_t o = c / v.inner, i0 = c % v.inner;
      const int64_t i1 = std::min(v.inner, i0 + (c1 - c));
      for (int64_t j = 0; j < count; ++j) {
        const T* src = u + (o * count + j) * v.inner;
        T* dst = y + (o * v.n + idx[static_cast<size_t>(j)]) * v.inner;
        for (int64_t i = i0; i < i1; ++i) accumulate(dst[i], src[i]);
      }
      c += i1 - i0;
    }
  });
}

void diagonal_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const int64_t offset = static_cast<const DiagonalOp&>(op).offset;
  if (out[0].numel() == 0) return;
  // The diagonal is a strided view: step rows+cols strides, starting at (row0, col0).
  const Strides& st = in[0].strides();
  const size_t nd = st.size();
  const int64_t row0 = offset < 0 ? -offset : 0, col0 = offset > 0 ? offset : 0;
  Strides strides(st.begin(), st.end() - 2);
  strides.push_back(st[nd - 2] + st[nd - 1]);
  const auto* base = static_cast<const std::byte*>(in[0].raw_data()) +
                     static_cast<size_t>(row0 * st[nd - 2] + col0 * st[nd - 1]) * dtype_size(in[0].dtype());
  strided_copy(in[0].dtype(), out[0].shape(), {base, strides}, view_of(out[0]));
}

template <typename T>
void eye_kernel(const Op& op, std::span<const Tensor>, std::span<Tensor> out) {
  const auto& e = static_cast<const EyeOp&>(op);
  std::memset(out[0].raw_data(), 0, out[0].nbytes());
  T* y = out[0].data<T>();
  for (int64_t r = std::max<int64_t>(0, -e.offset); r < e.n; ++r) {
    const int64_t c = r + e.offset;
    if (c >= e.m) break;
    y[r * e.m + c] = from_double<T>(1.0);
  }
}

template <typename T>
void one_hot_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const int64_t classes = static_cast<const OneHotOp&>(op).num_classes;
  const std::vector<int64_t> idx = checked_indices(op, in[0], classes, false, fmt::format("{} classes", classes));
  std::memset(out[0].raw_data(), 0, out[0].nbytes());
  T* y = out[0].data<T>();
  for (size_t j = 0; j < idx.size(); ++j) y[static_cast<int64_t>(j) * classes + idx[j]] = from_double<T>(1.0);
}

// Registers pick.template operator()<T>() for each dtype in `dtypes`.
template <typename Pick>
void add_typed(KernelTable& r, OpKind kind, std::initializer_list<DType> dtypes, const char* name, Pick pick) {
  for (DType d : dtypes) r.add(kind, d, dispatch_dtype(d, pick), fmt::format("{}_{}", name, dtype_name(d)));
}

}  // namespace

void register_shape_kernels(KernelTable& r) {
  add_for_dtypes(r, OpKind::Cast, kAllDTypes, cast_kernel, "cast");
  add_for_dtypes(r, OpKind::Reshape, kAllDTypes, reshape_kernel, "reshape");
  add_for_dtypes(r, OpKind::BroadcastTo, kAllDTypes, broadcast_kernel, "broadcast_to");
  add_for_dtypes(r, OpKind::Permute, kAllDTypes, permute_kernel, "permute");
  add_for_dtypes(r, OpKind::Slice, kAllDTypes, slice_kernel, "slice");
  add_for_dtypes(r, OpKind::Pad, kAllDTypes, pad_kernel, "pad");
  add_for_dtypes(r, OpKind::Concat, kAllDTypes, concat_kernel, "concat");
  add_for_dtypes(r, OpKind::Split, kAllDTypes, split_kernel, "split");
  add_for_dtypes(r, OpKind::Gather, kAllDTypes, gather_kernel, "gather");
  add_for_dtypes(r, OpKind::Diagonal, kAllDTypes, diagonal_kernel, "diagonal");
  add_typed(r, OpKind::ScatterAdd, {DType::f64, DType::f32, DType::f16, DType::bf16, DType::i8, DType::i32, DType::i64},
            "scatter_add", []<typename T>() -> KernelFn { return scatter_add_kernel<T>; });
  add_typed(r, OpKind::Eye, kAllDTypes, "eye", []<typename T>() -> KernelFn { return eye_kernel<T>; });
  add_typed(r, OpKind::OneHot, kAllDTypes, "one_hot", []<typename T>() -> KernelFn { return one_hot_kernel<T>; });
}

}  // namespace mithril::cpu
