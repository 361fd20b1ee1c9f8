#include "mithril/runtime/sgd_step.h"

#include "mithril/core/error.h"
#include "mithril/core/thread_pool.h"

namespace mithril {
namespace {

template <typename T>
void axpy_update(Tensor& p, const Tensor& g, double lr) {
  T* w = p.data<T>();
  const T* d = g.data<T>();
  const T a = static_cast<T>(lr);
  parallel_for(0, p.numel(), 1 << 15, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) w[i] -= a * d[i];
  });
}

void update(Tensor& p, const Tensor& grad, double lr, const std::string& key) {
  MI_CHECK(p.shape() == grad.shape(), ShapeError, "[sgd] gradient of '{}' has shape {} but the parameter has {}", key,
           shape_str(grad.shape()), shape_str(p.shape()));
  MI_CHECK(is_float(p.dtype()), DTypeError, "[sgd] parameter '{}' has dtype {}: only float parameters are trained", key,
           dtype_name(p.dtype()));
  if (!p.is_contiguous()) p = p.contiguous();
  if (p.dtype() == DType::f64 || p.dtype() == DType::f32) {
    const Tensor g = grad.dtype() == p.dtype() ? grad.contiguous() : grad.astype(p.dtype());
    if (p.dtype() == DType::f64) axpy_update<double>(p, g, lr);
    else axpy_update<float>(p, g, lr);
    return;
  }
  // 16-bit parameters: update in float32 and round back once.
  Tensor w = p.astype(DType::f32);
  axpy_update<float>(w, grad.astype(DType::f32), lr);
  p.copy_from(w);
}

}  // namespace

void sgd_step(DataMap& params, const DataMap& grads, double learning_rate) {
  for (auto& [key, data] : params) {
    const auto it = grads.find(key);
    if (it == grads.end()) continue;
    if (data.is_list) {
      MI_CHECK(it->second.is_list && it->second.list.size() == data.list.size(), ShapeError,
               "[sgd] gradient of list '{}' does not match its {} tensors", key, data.list.size());
      for (size_t i = 0; i < data.list.size(); ++i) update(data.list[i], it->second.list[i], learning_rate, key);
    } else {
      update(data.tensor, it->second.tensor, learning_rate, key);
    }
  }
}

}  // namespace mithril
