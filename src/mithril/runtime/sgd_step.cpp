#include "mithril/runtime/sgd_step.h"

#include <algorithm>

#include "mithril/backends/cpu/convert.h"
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
  // 16-bit parameters: each block widened to float32 (gradient too), updated, rounded back once.
  const Tensor g = grad.dtype() == p.dtype() ? grad.contiguous() : grad.astype(p.dtype());
  auto* w = static_cast<uint16_t*>(p.raw_data());
  const auto* d = static_cast<const uint16_t*>(g.raw_data());
  const DType t = p.dtype();
  const float a = static_cast<float>(lr);
  constexpr int64_t kBlock = 4096;
  parallel_for(0, (p.numel() + kBlock - 1) / kBlock, 8, [&](int64_t b0, int64_t b1) {
    float wf[kBlock], gf[kBlock];
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t i0 = b * kBlock, n = std::min(kBlock, p.numel() - i0);
      cpu::widen_to_f32(t, w + i0, wf, n);
      cpu::widen_to_f32(t, d + i0, gf, n);
      for (int64_t i = 0; i < n; ++i) wf[i] -= a * gf[i];
      cpu::narrow_from_f32(t, wf, w + i0, n);
    }
  });
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
