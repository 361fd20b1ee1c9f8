#include "mithril/core/tensor.h"

#include <cmath>
#include <cstring>
#include <ostream>
#include <sstream>

#include "mithril/core/allocator.h"
#include "mithril/core/checked.h"
#include "mithril/core/error.h"
#include "mithril/core/thread_pool.h"

namespace mithril {

Storage::Storage(size_t bytes) : data_(aligned_alloc_bytes(bytes)), bytes_(bytes) {}
Storage::Storage(void* external, size_t bytes, std::shared_ptr<void> owner)
    : data_(external), bytes_(bytes), owner_(std::move(owner)) {
  MI_CHECK(reinterpret_cast<uintptr_t>(external) % 64 == 0, ValueError,
           "[tensor] external memory at {} is not 64-byte aligned", external);
}
Storage::~Storage() {
  if (!owner_) aligned_free(data_, bytes_);
}

Tensor::Tensor(std::shared_ptr<Storage> storage, int64_t offset, Shape shape, Strides strides, DType dtype)
    : storage_(std::move(storage)), offset_(offset), shape_(std::move(shape)), strides_(std::move(strides)), dtype_(dtype) {}

void check_size_for_from_vector(int64_t count, const Shape& shape) {
  MI_CHECK(count == numel(shape), ShapeError, "[tensor] {} values do not fill shape {} ({} elements)", count,
           shape_str(shape), numel(shape));
}

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  for (int64_t d : shape) MI_CHECK(d >= 0, ShapeError, "[tensor] negative dimension in shape {}", shape_str(shape));
  const auto bytes = static_cast<size_t>(checked_bytes(shape, dtype_size(dtype), "[tensor]"));
  return Tensor(std::make_shared<Storage>(bytes), 0, shape, contiguous_strides(shape), dtype);
}

Tensor Tensor::view_of(std::shared_ptr<Storage> storage, size_t byte_offset, const Shape& shape, DType dtype) {
  const size_t size = dtype_size(dtype);
  MI_ASSERT(storage && byte_offset % size == 0 &&
            byte_offset + static_cast<size_t>(mithril::numel(shape)) * size <= storage->bytes());
  return Tensor(std::move(storage), static_cast<int64_t>(byte_offset / size), shape, contiguous_strides(shape), dtype);
}

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  std::memset(t.raw_data(), 0, t.nbytes());  // all-zero bits is 0 for every dtype we have
  return t;
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype) {
  Tensor t = empty(shape, dtype);
  dispatch_dtype(dtype, [&]<typename T>() {
    const T v = from_double<T>(value);
    T* p = t.data<T>();
    for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = v;
  });
  return t;
}

Tensor Tensor::scalar(double value, DType dtype) { return full({}, value, dtype); }

Tensor Tensor::from_doubles(const std::vector<double>& values, const Shape& shape, DType dtype) {
  check_size_for_from_vector(static_cast<int64_t>(values.size()), shape);
  Tensor t = empty(shape, dtype);
  dispatch_dtype(dtype, [&]<typename T>() {
    T* p = t.data<T>();
    for (size_t i = 0; i < values.size(); ++i) p[i] = from_double<T>(values[i]);
  });
  return t;
}

Tensor Tensor::arange(int64_t n, DType dtype) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<double>(i);
  return from_doubles(v, {n}, dtype);
}

int64_t Tensor::dim(int64_t axis) const { return shape_[static_cast<size_t>(normalize_axis(axis, ndim(), "tensor.dim"))]; }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (size_t i = shape_.size(); i-- > 0;) {
    if (shape_[i] == 1) continue;
    if (strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

void Tensor::check_dtype(DType expected) const {
  MI_CHECK(storage_ != nullptr, ValueError, "[tensor] access to an undefined tensor");
  MI_CHECK(dtype_ == expected, DTypeError, "[tensor] data<{}>() called on a {} tensor", dtype_name(expected),
           dtype_name(dtype_));
}

void* Tensor::raw_data() {
  MI_CHECK(storage_ != nullptr, ValueError, "[tensor] access to an undefined tensor");
  return static_cast<char*>(storage_->data()) + offset_ * static_cast<int64_t>(dtype_size(dtype_));
}
const void* Tensor::raw_data() const { return const_cast<Tensor*>(this)->raw_data(); }

Tensor Tensor::reshape(const Shape& new_shape) const {
  const Shape shape = resolve_reshape(shape_, new_shape);
  if (!is_contiguous()) return contiguous().reshape(shape);
  return Tensor(storage_, offset_, shape, contiguous_strides(shape), dtype_);
}

Tensor Tensor::permute(const Axes& axes) const {
  MI_CHECK(static_cast<int64_t>(axes.size()) == ndim(), AttributeError,
           "[permute] permutation ({}) has {} axes but the tensor has rank {}", fmt::join(axes, ","), axes.size(), ndim());
  std::vector<bool> seen(axes.size(), false);
  Shape shape(axes.size());
  Strides strides(axes.size());
  for (size_t i = 0; i < axes.size(); ++i) {
    const int64_t a = normalize_axis(axes[i], ndim(), "permute");
    MI_CHECK(!seen[static_cast<size_t>(a)], AttributeError, "[permute] axis {} repeated in ({})", axes[i], fmt::join(axes, ","));
    seen[static_cast<size_t>(a)] = true;
    shape[i] = shape_[static_cast<size_t>(a)];
    strides[i] = strides_[static_cast<size_t>(a)];
  }
  return Tensor(storage_, offset_, shape, strides, dtype_);
}

Tensor Tensor::transpose(int64_t a, int64_t b) const {
  Axes axes(shape_.size());
  for (size_t i = 0; i < axes.size(); ++i) axes[i] = static_cast<int64_t>(i);
  std::swap(axes[static_cast<size_t>(normalize_axis(a, ndim(), "transpose"))],
            axes[static_cast<size_t>(normalize_axis(b, ndim(), "transpose"))]);
  return permute(axes);
}

Tensor Tensor::transpose() const {
  Axes axes(shape_.size());
  for (size_t i = 0; i < axes.size(); ++i) axes[i] = ndim() - 1 - static_cast<int64_t>(i);
  return permute(axes);
}

Tensor Tensor::slice(int64_t axis, int64_t start, int64_t stop, int64_t step) const {
  const auto ax = static_cast<size_t>(normalize_axis(axis, ndim(), "slice"));
  MI_CHECK(step > 0, AttributeError, "[slice] step must be positive, got {}", step);
  const int64_t n = shape_[ax];
  auto clamp = [n](int64_t v) { return v < 0 ? std::max<int64_t>(v + n, 0) : std::min(v, n); };
  start = clamp(start);
  stop = clamp(stop);
  const int64_t len = stop > start ? (stop - start + step - 1) / step : 0;
  Shape shape = shape_;
  Strides strides = strides_;
  shape[ax] = len;
  strides[ax] = strides_[ax] * step;
  return Tensor(storage_, offset_ + start * strides_[ax], shape, strides, dtype_);
}

Tensor Tensor::broadcast_to(const Shape& shape) const {
  MI_CHECK(can_broadcast_to(shape_, shape), ShapeError, "[broadcast_to] cannot broadcast {} to {}", shape_str(shape_),
           shape_str(shape));
  Strides strides(shape.size(), 0);
  const size_t off = shape.size() - shape_.size();
  for (size_t i = 0; i < shape_.size(); ++i) strides[i + off] = shape_[i] == 1 ? 0 : strides_[i];
  return Tensor(storage_, offset_, shape, strides, dtype_);
}

Tensor Tensor::squeeze(int64_t axis) const {
  const auto ax = static_cast<size_t>(normalize_axis(axis, ndim(), "squeeze"));
  MI_CHECK(shape_[ax] == 1, ShapeError, "[squeeze] axis {} of shape {} has size {}, not 1", axis, shape_str(shape_), shape_[ax]);
  Shape shape = shape_;
  Strides strides = strides_;
  shape.erase(shape.begin() + static_cast<int64_t>(ax));
  strides.erase(strides.begin() + static_cast<int64_t>(ax));
  return Tensor(storage_, offset_, shape, strides, dtype_);
}

Tensor Tensor::unsqueeze(int64_t axis) const {
  const auto ax = static_cast<size_t>(normalize_axis(axis, ndim() + 1, "unsqueeze"));
  Shape shape = shape_;
  Strides strides = strides_;
  shape.insert(shape.begin() + static_cast<int64_t>(ax), 1);
  strides.insert(strides.begin() + static_cast<int64_t>(ax), 1);
  return Tensor(storage_, offset_, shape, strides, dtype_);
}

void Tensor::copy_from(const Tensor& src) {
  MI_CHECK(src.shape_ == shape_, ShapeError, "[copy] source shape {} differs from destination {}", shape_str(src.shape_),
           shape_str(shape_));
  if (dtype_ == src.dtype_ && is_contiguous() && src.is_contiguous()) {
    std::memcpy(raw_data(), src.raw_data(), nbytes());
    return;
  }
  dispatch_dtype(src.dtype_, [&]<typename S>() {
    dispatch_dtype(dtype_, [&]<typename D>() {
      const S* sp = static_cast<const S*>(src.storage_->data());
      D* dp = static_cast<D*>(storage_->data());
      if (is_contiguous() && src.is_contiguous()) {  // a plain conversion loop, over the pool when large
        const S* s = sp + src.offset_;
        D* d = dp + offset_;
        parallel_for(0, numel(), int64_t{1} << 16, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) d[i] = convert_value<D>(s[i]);
        });
        return;
      }
      std::vector<int64_t> dst_offsets;
      dst_offsets.reserve(static_cast<size_t>(numel()));
      for_each_offset(shape_, strides_, offset_, [&](int64_t o) { dst_offsets.push_back(o); });
      size_t i = 0;
      for_each_offset(src.shape_, src.strides_, src.offset_, [&](int64_t o) {
        if constexpr (std::is_same_v<S, D>) dp[dst_offsets[i++]] = sp[o];
        else dp[dst_offsets[i++]] = convert_value<D>(sp[o]);
      });
    });
  });
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape_, dtype_);
  out.copy_from(*this);
  return out;
}

Tensor Tensor::astype(DType dtype) const {
  Tensor out = empty(shape_, dtype);
  out.copy_from(*this);
  return out;
}

double Tensor::item() const {
  MI_CHECK(numel() == 1, ShapeError, "[item] tensor of shape {} has {} elements, expected 1", shape_str(shape_), numel());
  return dispatch_dtype(dtype_, [&]<typename T>() { return to_double(*data<T>()); });
}

double Tensor::at(const std::vector<int64_t>& index) const {
  MI_CHECK(static_cast<int64_t>(index.size()) == ndim(), ShapeError, "[at] index has {} entries for a rank-{} tensor",
           index.size(), ndim());
  int64_t off = offset_;
  for (size_t i = 0; i < index.size(); ++i) {
    MI_CHECK(index[i] >= 0 && index[i] < shape_[i], ShapeError, "[at] index {} out of range for dim {} of size {}",
             index[i], i, shape_[i]);
    off += index[i] * strides_[i];
  }
  return dispatch_dtype(dtype_, [&]<typename T>() { return to_double(static_cast<const T*>(storage_->data())[off]); });
}

std::vector<double> Tensor::to_doubles() const {
  std::vector<double> out;
  out.reserve(static_cast<size_t>(numel()));
  dispatch_dtype(dtype_, [&]<typename T>() {
    const T* p = static_cast<const T*>(storage_->data());
    for_each_offset(shape_, strides_, offset_, [&](int64_t o) { out.push_back(to_double(p[o])); });
  });
  return out;
}

namespace {
std::string format_value(double v, DType dtype) {
  if (dtype == DType::b8) return v != 0 ? "True" : "False";
  if (is_int(dtype)) return fmt::format("{}", static_cast<int64_t>(v));
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{:.6g}", v);
}

void format_rec(std::ostringstream& os, const std::vector<double>& vals, const Shape& shape, size_t dim, size_t& pos,
                DType dtype, int indent) {
  if (dim == shape.size()) {
    os << format_value(vals[pos++], dtype);
    return;
  }
  constexpr int64_t kEdge = 3;  // elements shown at each end of a long axis
  const int64_t n = shape[dim];
  const int64_t inner = numel(Shape(shape.begin() + static_cast<int64_t>(dim) + 1, shape.end()));
  os << '[';
  for (int64_t i = 0; i < n; ++i) {
    if (n > 2 * kEdge + 1 && i == kEdge) {
      os << "...";
      pos += static_cast<size_t>((n - 2 * kEdge) * inner);
      i = n - kEdge - 1;
      if (dim + 1 < shape.size()) os << ",\n" << std::string(static_cast<size_t>(indent + 1), ' ');
      else os << ", ";
      continue;
    }
    format_rec(os, vals, shape, dim + 1, pos, dtype, indent + 1);
    if (i + 1 < n) {
      if (dim + 1 < shape.size()) os << ",\n" << std::string(static_cast<size_t>(indent + 1), ' ');
      else os << ", ";
    }
  }
  os << ']';
}
}  // namespace

std::string Tensor::to_string() const {
  if (!defined()) return "tensor(undefined)";
  std::ostringstream os;
  os << "tensor(";
  const std::vector<double> vals = to_doubles();
  size_t pos = 0;
  format_rec(os, vals, shape_, 0, pos, dtype_, 7);
  os << ", shape=" << shape_str(shape_) << ", dtype=" << dtype_name(dtype_) << ')';
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.to_string(); }

}  // namespace mithril
