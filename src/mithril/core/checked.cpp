#include "mithril/core/checked.h"

#include "mithril/core/error.h"

namespace mithril {

bool checked_mul(int64_t a, int64_t b, int64_t& out) { return !__builtin_mul_overflow(a, b, &out); }

int64_t checked_numel(const Shape& shape, std::string_view what) {
  // The product of the non-zero dims must fit too: strides and inner loop bounds multiply them
  // even when another dim is 0 (an IDX header of (0, 2^40, 2^40) overflowed the strides).
  int64_t nonzero = 1;
  bool empty = false;
  for (const int64_t d : shape) {
    MI_CHECK(d >= 0, ValueError, "{}: shape {} has a negative dimension {}", what, shape_str(shape), d);
    if (d == 0) empty = true;
    else MI_CHECK(checked_mul(nonzero, d, nonzero), ValueError, "{}: shape {} has more elements than fit in 64 bits",
                  what, shape_str(shape));
  }
  return empty ? 0 : nonzero;
}

int64_t checked_bytes(const Shape& shape, size_t item_bytes, std::string_view what) {
  const int64_t n = checked_numel(shape, what);
  int64_t bytes = 0;
  const bool fits = checked_mul(n, static_cast<int64_t>(item_bytes), bytes) && bytes <= kMaxTensorBytes;
  MI_CHECK(fits, ValueError, "{}: shape {} needs {} elements x {} bytes, over the limit of {} bytes per tensor", what,
           shape_str(shape), n, item_bytes, kMaxTensorBytes);
  return bytes;
}

}  // namespace mithril
