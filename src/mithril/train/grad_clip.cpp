#include "mithril/train/grad_clip.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "mithril/core/error.h"
#include "mithril/train/float_data.h"

namespace mithril::train {

namespace {

// Rewrites every element of a float tensor through fn (float64 arithmetic).
template <typename Fn>
void map_in_place(const std::string& key, Tensor& t, Fn fn) {
  t = t.contiguous();
  with_float_data(t, "[clip] gradient of ", key, "expected f32 or f64", [&](auto* p) {
    using T = std::remove_pointer_t<decltype(p)>;
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(fn(static_cast<double>(p[i])));
  });
}

}  // namespace

double grad_norm(const TensorMap& grads) {
  double sum = 0.0;
  for (const auto& [key, grad] : grads) {
    // Reads the elements in place (any dtype, as to_doubles did) instead of copying each
    // gradient to doubles every step.
    const Tensor g = grad.contiguous();
    dispatch_dtype(g.dtype(), [&]<typename T>() {
      const T* p = g.data<T>();
      for (int64_t i = 0; i < g.numel(); ++i) {
        const double v = to_double(p[i]);
        sum += v * v;
      }
    });
  }
  return std::sqrt(sum);
}

double clip_grad_norm(TensorMap& grads, double max_norm) {
  MI_CHECK(max_norm > 0, ValueError, "[clip] max_norm must be > 0, got {}", max_norm);
  const double norm = grad_norm(grads);
  MI_CHECK(std::isfinite(norm), ValueError, "[clip] the gradient norm is {}: the loss or a gradient is not finite", norm);
  if (norm <= max_norm) return norm;
  const double scale = max_norm / (norm + 1e-6);
  for (auto& [key, g] : grads) map_in_place(key, g, [&](double v) { return v * scale; });
  return norm;
}

void clip_grad_value(TensorMap& grads, double clip_value) {
  MI_CHECK(clip_value > 0, ValueError, "[clip] clip_value must be > 0, got {}", clip_value);
  for (auto& [key, g] : grads) map_in_place(key, g, [&](double v) { return std::clamp(v, -clip_value, clip_value); });
}

}  // namespace mithril::train
