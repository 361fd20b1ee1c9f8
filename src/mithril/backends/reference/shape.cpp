// Reference kernels for the layout family. Each output element is located in its input by
// index arithmetic on multi-indices; values travel as float64, which holds every value of the
// float dtypes and every integer up to 2^53 exactly.
#include <cmath>

#include "mithril/backends/reference/kernels.h"
#include "mithril/backends/reference/loops.h"
#include "mithril/core/error.h"
#include "mithril/ops/shape.h"

namespace mithril::reference {
namespace {

// Copies: the output is the input's values in row-major order, converted (cast, reshape).
void copy_kernel(const Op&, std::span<const Tensor> in, std::span<Tensor> out) { write(out[0], read(in[0])); }

// out[i] = x[source(index of i)] for every output element.
template <typename F>
void gather_by_index(const Tensor& in, Tensor& out, F source) {
  const std::vector<double> x = read(in);
  std::vector<double> y(static_cast<size_t>(out.numel()));
  for_each_index(out.shape(), [&](const Index& idx, int64_t i) { y[static_cast<size_t>(i)] = x[static_cast<size_t>(source(idx))]; });
  write(out, y);
}

void broadcast_kernel(const Op&, std::span<const Tensor> in, std::span<Tensor> out) {
  const Shape& from = in[0].shape();
  gather_by_index(in[0], out[0], [&](const Index& idx) { return broadcast_source(idx, from); });
}

void permute_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const Axes& axes = static_cast<const PermuteOp&>(op).axes;
  const Shape& from = in[0].shape();
  gather_by_index(in[0], out[0], [&](const Index& idx) {
    Index src(idx.size());
    for (size_t d = 0; d < axes.size(); ++d) src[static_cast<size_t>(axes[d])] = idx[d];  // out dim d is input dim axes[d]
    return ravel(src, from);
  });
}

void slice_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const auto ranges = static_cast<const SliceOp&>(op).resolve(in[0].shape());
  const Shape& from = in[0].shape();
  gather_by_index(in[0], out[0], [&](const Index& idx) {
    Index src(idx.size());
    for (size_t d = 0; d < idx.size(); ++d) src[d] = ranges[d].start + idx[d] * ranges[d].step;
    return ravel(src, from);
  });
}

void pad_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const auto& p = static_cast<const PadOp&>(op);
  const std::vector<double> x = read(in[0]);
  std::vector<double> y(static_cast<size_t>(out[0].numel()), p.value);
  for_each_index(in[0].shape(), [&](const Index& idx, int64_t i) {
    Index dst(idx.size());
    for (size_t d = 0; d < idx.size(); ++d) dst[d] = p.low[d] + idx[d] * (p.interior[d] + 1);
    y[static_cast<size_t>(ravel(dst, out[0].shape()))] = x[static_cast<size_t>(i)];
  });
  write(out[0], y);
}

void concat_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const auto axis = static_cast<size_t>(static_cast<const ConcatOp&>(op).axis);
  std::vector<double> y(static_cast<size_t>(out[0].numel()));
  int64_t at = 0;  // where the current input starts along the axis
  for (const Tensor& t : in) {
    const std::vector<double> x = read(t);
    for_each_index(t.shape(), [&](const Index& idx, int64_t i) {
      Index dst = idx;
      dst[axis] += at;
      y[static_cast<size_t>(ravel(dst, out[0].shape()))] = x[static_cast<size_t>(i)];
    });
    at += t.shape()[axis];
  }
  write(out[0], y);
}

void split_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const auto axis = static_cast<size_t>(static_cast<const SplitOp&>(op).axis);
  int64_t at = 0;
  for (Tensor& o : out) {
    gather_by_index(in[0], o, [&](const Index& idx) {
      Index src = idx;
      src[axis] += at;
      return ravel(src, in[0].shape());
    });
    at += o.shape()[axis];
  }
}

// Index values as int64, negative ones counted from the end when `negative` allows it; any
// other value outside [0, n) is a ValueError.
std::vector<int64_t> checked_indices(const Op& op, const Tensor& indices, int64_t n, bool negative) {
  std::vector<int64_t> idx;
  for (double v : read(indices)) {
    auto i = static_cast<int64_t>(v);
    if (negative && i < 0) i += n;
    MI_CHECK(i >= 0 && i < n, ValueError, "[{}] index {} is out of range for size {}", op.name(),
             static_cast<int64_t>(v), n);
    idx.push_back(i);
  }
  return idx;
}

void gather_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const auto axis = static_cast<size_t>(static_cast<const GatherOp&>(op).axis);
  const Shape& from = in[0].shape();
  const Shape& ishape = in[1].shape();
  const std::vector<int64_t> idx = checked_indices(op, in[1], from[axis], true);
  // Output index = (pre..., j..., post...) with j an index into `indices`.
  gather_by_index(in[0], out[0], [&](const Index& o) {
    Index j(o.begin() + static_cast<int64_t>(axis), o.begin() + static_cast<int64_t>(axis + ishape.size()));
    Index src(o.begin(), o.begin() + static_cast<int64_t>(axis));
    src.push_back(idx[static_cast<size_t>(ravel(j, ishape))]);
    src.insert(src.end(), o.begin() + static_cast<int64_t>(axis + ishape.size()), o.end());
    return ravel(src, from);
  });
}

void scatter_add_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const auto axis = static_cast<size_t>(static_cast<const ScatterAddOp&>(op).axis);
  const Shape& to = out[0].shape();
  const Shape& ishape = in[1].shape();
  const std::vector<int64_t> idx = checked_indices(op, in[1], to[axis], true);
  const std::vector<double> u = read(in[0]);
  std::vector<double> y(static_cast<size_t>(numel(to)), 0.0);
  // Updates in row-major order, so repeated indices accumulate in order of j.
  for_each_index(in[0].shape(), [&](const Index& o, int64_t i) {
    Index j(o.begin() + static_cast<int64_t>(axis), o.begin() + static_cast<int64_t>(axis + ishape.size()));
    Index dst(o.begin(), o.begin() + static_cast<int64_t>(axis));
    dst.push_back(idx[static_cast<size_t>(ravel(j, ishape))]);
    dst.insert(dst.end(), o.begin() + static_cast<int64_t>(axis + ishape.size()), o.end());
    y[static_cast<size_t>(ravel(dst, to))] += u[static_cast<size_t>(i)];
  });
  write(out[0], y);
}

void diagonal_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const int64_t offset = static_cast<const DiagonalOp&>(op).offset;
  const Shape& from = in[0].shape();
  gather_by_index(in[0], out[0], [&](const Index& o) {
    Index src(o.begin(), o.end() - 1);
    const int64_t i = o.back();
    src.push_back(i + std::max<int64_t>(0, -offset));  // row
    src.push_back(i + std::max<int64_t>(0, offset));   // column
    return ravel(src, from);
  });
}

void eye_kernel(const Op& op, std::span<const Tensor>, std::span<Tensor> out) {
  const auto& e = static_cast<const EyeOp&>(op);
  std::vector<double> y(static_cast<size_t>(out[0].numel()), 0.0);
  for (int64_t i = 0; i < e.n; ++i)
    for (int64_t j = 0; j < e.m; ++j)
      if (j - i == e.offset) y[static_cast<size_t>(i * e.m + j)] = 1.0;
  write(out[0], y);
}

void one_hot_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const int64_t classes = static_cast<const OneHotOp&>(op).num_classes;
  const std::vector<int64_t> idx = checked_indices(op, in[0], classes, false);
  std::vector<double> y(static_cast<size_t>(out[0].numel()), 0.0);
  for (size_t i = 0; i < idx.size(); ++i) y[i * static_cast<size_t>(classes) + static_cast<size_t>(idx[i])] = 1.0;
  write(out[0], y);
}

}  // namespace

void register_shape_kernels(KernelTable& t) {
  const auto all = {DType::f64, DType::f32, DType::f16, DType::bf16, DType::i8, DType::i32, DType::i64, DType::b8};
  const auto numeric = {DType::f64, DType::f32, DType::f16, DType::bf16, DType::i8, DType::i32, DType::i64};
  add_for_dtypes(t, OpKind::Cast, all, copy_kernel, "cast");
  add_for_dtypes(t, OpKind::Reshape, all, copy_kernel, "reshape");
  add_for_dtypes(t, OpKind::BroadcastTo, all, broadcast_kernel, "broadcast_to");
  add_for_dtypes(t, OpKind::Permute, all, permute_kernel, "permute");
  add_for_dtypes(t, OpKind::Slice, all, slice_kernel, "slice");
  add_for_dtypes(t, OpKind::Pad, all, pad_kernel, "pad");
  add_for_dtypes(t, OpKind::Concat, all, concat_kernel, "concat");
  add_for_dtypes(t, OpKind::Split, all, split_kernel, "split");
  add_for_dtypes(t, OpKind::Gather, all, gather_kernel, "gather");
  add_for_dtypes(t, OpKind::Diagonal, all, diagonal_kernel, "diagonal");
  add_for_dtypes(t, OpKind::ScatterAdd, numeric, scatter_add_kernel, "scatter_add");
  add_for_dtypes(t, OpKind::Eye, all, eye_kernel, "eye");
  add_for_dtypes(t, OpKind::OneHot, all, one_hot_kernel, "one_hot");
}

}  // namespace mithril::reference
