// Shapes, strides and the shape arithmetic shared by every layer: element counts, contiguous
// strides, NumPy broadcasting and axis normalisation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mithril {

using Shape = std::vector<int64_t>;
using Strides = std::vector<int64_t>;  // in elements, not bytes
using Axes = std::vector<int64_t>;

int64_t numel(const Shape& shape);
Strides contiguous_strides(const Shape& shape);
std::string shape_str(const Shape& shape);  // "(2,3)"; "()" for a scalar

// Result shape of broadcasting a and b (NumPy rules); throws ShapeError naming `op`.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
bool can_broadcast_to(const Shape& from, const Shape& to);

// The target of reshaping `from` into `target`, where one dim of `target` may be -1 (inferred).
// Throws ShapeError ("[reshape] ...") when the element counts cannot match.
Shape resolve_reshape(const Shape& from, Shape target);

// Maps a possibly negative axis into [0, ndim); throws AttributeError naming `op` when out of range.
int64_t normalize_axis(int64_t axis, int64_t ndim, const char* op);
// Normalises, sorts and checks for duplicates. Empty `axes` with `all_if_empty` means every axis.
Axes normalize_axes(const Axes& axes, int64_t ndim, const char* op);

}  // namespace mithril
