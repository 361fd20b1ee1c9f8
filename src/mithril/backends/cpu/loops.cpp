#include "mithril/backends/cpu/loops.h"

namespace mithril::cpu {

Strides broadcast_strides(const Tensor& t, const Shape& shape) {
  Strides s(shape.size(), 0);
  const Strides& ts = t.strides();
  const size_t off = shape.size() - t.shape().size();
  for (size_t i = 0; i < t.shape().size(); ++i) s[i + off] = t.shape()[i] == 1 ? 0 : ts[i];
  return s;
}

ReductionView make_reduction_view(const Tensor& in, const Axes& axes) {
  Axes perm;
  std::vector<bool> reduced(in.shape().size(), false);
  int64_t count = 1;
  for (int64_t a : axes) {
    reduced[static_cast<size_t>(a)] = true;
    count *= in.shape()[static_cast<size_t>(a)];
  }
  for (size_t d = 0; d < reduced.size(); ++d)
    if (!reduced[d]) perm.push_back(static_cast<int64_t>(d));
  for (int64_t a : axes) perm.push_back(a);
  const int64_t outer = count == 0 ? numel([&] {
    Shape s;
    for (size_t d = 0; d < reduced.size(); ++d)
      if (!reduced[d]) s.push_back(in.shape()[d]);
    return s;
  }()) : in.numel() / count;
  Tensor data = in.permute(perm).contiguous().reshape({outer, count});
  return {data, outer, count};
}

AxisView make_axis_view(const Shape& shape, int64_t axis) {
  AxisView v{1, shape[static_cast<size_t>(axis)], 1};
  for (int64_t d = 0; d < axis; ++d) v.outer *= shape[static_cast<size_t>(d)];
  for (size_t d = static_cast<size_t>(axis) + 1; d < shape.size(); ++d) v.inner *= shape[d];
  return v;
}

}  // namespace mithril::cpu
