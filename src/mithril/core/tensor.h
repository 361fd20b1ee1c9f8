// Tensor: a typed, strided view over shared, 64-byte aligned storage.
//
// Views (reshape of contiguous data, permute/transpose, slice, broadcast_to, squeeze/unsqueeze)
// share storage and never copy; contiguous() copies only when the layout requires it.
// Strides and offsets are in elements. A 0-d tensor (shape ()) holds one scalar.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "mithril/core/dtype.h"
#include "mithril/core/shape.h"

namespace mithril {

// An owned, aligned byte buffer. Tensors hold it through shared_ptr so views keep it alive.
class Storage {
 public:
  explicit Storage(size_t bytes);
  // Memory another runtime owns (a NumPy array's buffer), wrapped without a copy: `owner` keeps
  // it alive and is released when the last tensor over it goes; nothing is freed here. The
  // kernels assume 64-byte alignment, so callers wrap only memory aligned to 64 bytes.
  Storage(void* external, size_t bytes, std::shared_ptr<void> owner);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() { return data_; }
  const void* data() const { return data_; }
  size_t bytes() const { return bytes_; }

 private:
  void* data_;
  size_t bytes_;
  std::shared_ptr<void> owner_;  // set for external memory
};

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor; defined() is false

  // Factories. Values are given as doubles and converted to `dtype` (exact for every type
  // except 64-bit integers above 2^53).
  static Tensor empty(const Shape& shape, DType dtype);
  static Tensor zeros(const Shape& shape, DType dtype);
  static Tensor full(const Shape& shape, double value, DType dtype);
  static Tensor scalar(double value, DType dtype);
  static Tensor from_doubles(const std::vector<double>& values, const Shape& shape, DType dtype);
  static Tensor arange(int64_t n, DType dtype);
  template <typename T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape);
  // A contiguous tensor over existing storage at `byte_offset` (a multiple of the dtype size):
  // the buffers of a static memory plan, which live at fixed offsets in one arena.
  static Tensor view_of(std::shared_ptr<Storage> storage, size_t byte_offset, const Shape& shape, DType dtype);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  const Strides& strides() const { return strides_; }
  int64_t dim(int64_t axis) const;  // negative axes count from the end
  int64_t ndim() const { return static_cast<int64_t>(shape_.size()); }
  int64_t numel() const { return mithril::numel(shape_); }
  DType dtype() const { return dtype_; }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  int64_t offset() const { return offset_; }
  bool is_contiguous() const;
  // True when both tensors view the same storage.
  bool shares_storage(const Tensor& other) const { return storage_ == other.storage_; }

  // Pointer to the first element (offset applied). T must match dtype (checked).
  template <typename T> T* data();
  template <typename T> const T* data() const;
  void* raw_data();
  const void* raw_data() const;

  // Views (no copy).
  Tensor reshape(const Shape& shape) const;  // one dim may be -1; copies only if not viewable
  Tensor permute(const Axes& axes) const;
  Tensor transpose(int64_t a, int64_t b) const;
  Tensor transpose() const;  // reverses all axes
  Tensor slice(int64_t axis, int64_t start, int64_t stop, int64_t step = 1) const;
  Tensor broadcast_to(const Shape& shape) const;
  Tensor squeeze(int64_t axis) const;
  Tensor unsqueeze(int64_t axis) const;

  // Copies.
  Tensor contiguous() const;  // returns *this when already contiguous
  Tensor clone() const;       // always a fresh contiguous copy
  Tensor astype(DType dtype) const;  // converts; a fresh contiguous tensor
  void copy_from(const Tensor& src);  // same shape; converts dtype; handles any strides

  // Element access as double (slow; for tests, printing and small tensors).
  double item() const;  // numel() must be 1
  double at(const std::vector<int64_t>& index) const;
  std::vector<double> to_doubles() const;  // row-major order

  std::string to_string() const;

 private:
  Tensor(std::shared_ptr<Storage> storage, int64_t offset, Shape shape, Strides strides, DType dtype);
  void check_dtype(DType expected) const;

  std::shared_ptr<Storage> storage_;
  int64_t offset_ = 0;
  Shape shape_;
  Strides strides_;
  DType dtype_ = DType::f32;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);
void check_size_for_from_vector(int64_t count, const Shape& shape);

// Iterates the element offsets of a strided shape in row-major order: calls f(offset) for each.
template <typename F>
void for_each_offset(const Shape& shape, const Strides& strides, int64_t base, F&& f) {
  const int64_t n = numel(shape);
  if (n == 0) return;
  const size_t nd = shape.size();
  std::vector<int64_t> idx(nd, 0);
  int64_t off = base;
  for (int64_t i = 0; i < n; ++i) {
    f(off);
    for (size_t d = nd; d-- > 0;) {
      if (++idx[d] < shape[d]) { off += strides[d]; break; }
      off -= strides[d] * (shape[d] - 1);
      idx[d] = 0;
    }
  }
}

template <typename T>
T* Tensor::data() {
  check_dtype(dtype_of_v<T>);
  return static_cast<T*>(storage_->data()) + offset_;
}
template <typename T>
const T* Tensor::data() const {
  check_dtype(dtype_of_v<T>);
  return static_cast<const T*>(storage_->data()) + offset_;
}

template <typename T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape) {
  Tensor t = empty(shape, dtype_of_v<T>);
  check_size_for_from_vector(static_cast<int64_t>(values.size()), shape);
  T* p = t.data<T>();
  for (size_t i = 0; i < values.size(); ++i) p[i] = values[i];
  return t;
}

}  // namespace mithril
