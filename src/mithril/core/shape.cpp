#include "mithril/core/shape.h"

#include <algorithm>

#include "mithril/core/error.h"

namespace mithril {

int64_t numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Strides contiguous_strides(const Shape& shape) {
  Strides s(shape.size());
  int64_t acc = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

std::string shape_str(const Shape& shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ","));
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    MI_CHECK(da == db || da == 1 || db == 1, ShapeError,
             "[{}] shapes {} and {} cannot be broadcast: dim {} is {} vs {}", op, shape_str(a),
             shape_str(b), static_cast<int64_t>(i) - static_cast<int64_t>(n), da, db);
    out[i] = da == 1 ? db : da;
  }
  return out;
}

bool can_broadcast_to(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  const size_t off = to.size() - from.size();
  for (size_t i = 0; i < from.size(); ++i)
    if (from[i] != 1 && from[i] != to[i + off]) return false;
  return true;
}

Shape resolve_reshape(const Shape& from, Shape target) {
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == -1) {
      MI_CHECK(infer < 0, ShapeError, "[reshape] more than one -1 in target shape {}", shape_str(target));
      infer = static_cast<int64_t>(i);
    } else {
      MI_CHECK(target[i] >= 0, ShapeError, "[reshape] negative dimension in target shape {}", shape_str(target));
      known *= target[i];
    }
  }
  const int64_t n = numel(from);
  if (infer >= 0) {
    MI_CHECK(known != 0 && n % known == 0, ShapeError, "[reshape] cannot reshape {} into {}", shape_str(from),
             shape_str(target));
    target[static_cast<size_t>(infer)] = n / known;
  }
  MI_CHECK(numel(target) == n, ShapeError, "[reshape] cannot reshape {} ({} elements) into {} ({} elements)",
           shape_str(from), n, shape_str(target), numel(target));
  return target;
}

int64_t normalize_axis(int64_t axis, int64_t ndim, const char* op) {
  MI_CHECK(axis >= -ndim && axis < ndim, AttributeError,
           "[{}] axis {} is out of range for a tensor of rank {}", op, axis, ndim);
  return axis < 0 ? axis + ndim : axis;
}

Axes normalize_axes(const Axes& axes, int64_t ndim, const char* op) {
  Axes out;
  out.reserve(axes.size());
  for (int64_t a : axes) out.push_back(normalize_axis(a, ndim, op));
  std::sort(out.begin(), out.end());
  MI_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), AttributeError,
           "[{}] repeated axis in {}", op, fmt::join(axes, ","));
  return out;
}

}  // namespace mithril
