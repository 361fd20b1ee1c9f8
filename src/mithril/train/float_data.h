// Typed access to the f32/f64 data that train/ updates element by element (optimizer rules,
// gradient clipping, gradient accumulation). Internal to train/.
#pragma once

#include <string>

#include "mithril/core/error.h"
#include "mithril/core/tensor.h"

namespace mithril::train {

// Calls fn(t.data<T>()) with T = double for an f64 tensor and float for an f32 one; fn is a
// generic lambda (auto* p) that reads any companion tensors at the same T. Any other dtype is a
// DTypeError "<subject>'<key>' is <dtype>: <expected>", so each caller keeps its own message.
// `t` must be contiguous.
template <typename Fn>
void with_float_data(Tensor& t, const char* subject, const std::string& key, const char* expected, Fn&& fn) {
  if (t.dtype() == DType::f64) fn(t.data<double>());
  else if (t.dtype() == DType::f32) fn(t.data<float>());
  else MI_THROW(DTypeError, "{}'{}' is {}: {}", subject, key, dtype_name(t.dtype()), expected);
}

}  // namespace mithril::train
