#include "mithril/backends/check_numerics.h"

#include <cmath>

#include "mithril/core/error.h"

namespace mithril {
namespace {

// Index of the first NaN or infinity, or -1.
template <typename T>
int64_t first_non_finite(const T* p, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(p[i])) return i;
  return -1;
}

}  // namespace

void check_step_numerics(const Graph& graph, NodeId node, std::span<const Tensor> outputs) {
  for (size_t k = 0; k < outputs.size(); ++k) {
    const Tensor& t = outputs[k];
    if (!is_float(t.dtype())) continue;
    const Tensor c = t.contiguous();
    int64_t bad = -1;
    double value = 0;
    if (c.dtype() == DType::f64) {
      bad = first_non_finite(c.data<double>(), c.numel());
      if (bad >= 0) value = c.data<double>()[bad];
    } else if (c.dtype() == DType::f32) {
      bad = first_non_finite(c.data<float>(), c.numel());
      if (bad >= 0) value = c.data<float>()[bad];
    } else {  // 16-bit floats: widened (this runs only when checking is on)
      const std::vector<double> v = c.to_doubles();
      bad = first_non_finite(v.data(), static_cast<int64_t>(v.size()));
      if (bad >= 0) value = v[static_cast<size_t>(bad)];
    }
    if (bad < 0) continue;
    const Node& n = graph.nodes()[static_cast<size_t>(node)];
    std::string inputs;
    for (ValueId v : n.inputs)
      inputs += fmt::format("{}{} {}", inputs.empty() ? "" : ", ", shape_str(graph.value(v).shape),
                            dtype_name(graph.value(v).dtype));
    MI_THROW(ValueError,
             "[check_numerics] node {} ({}) wrote {} at index {} of output {} (shape {}, {}), its inputs {}: the first "
             "node to produce NaN or Inf",
             node, n.op->to_string(), value, bad, k, shape_str(t.shape()), dtype_name(t.dtype()),
             inputs.empty() ? std::string("none") : inputs);
  }
}

}  // namespace mithril
