// Checked size arithmetic for shapes that come from outside the program (command-line --shapes,
// options files, model dicts, file headers): an element count or byte size that wraps int64
// would otherwise become a tiny or negative allocation and a crash or silent garbage later.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mithril/core/error.h"
#include "mithril/core/shape.h"

namespace mithril {

// An allocation the system refused, or a size no allocation can hold; the message names the
// thing and the bytes asked for. (Here rather than in error.h: it belongs to sizes and memory.)
class MemoryError : public Error { public: using Error::Error; };

// The largest byte size a tensor may ask for: 2^62 (far above any machine, far below the
// point where byte offsets in int64 or size_t wrap).
inline constexpr int64_t kMaxTensorBytes = int64_t{1} << 62;

// out = a * b; false when the product leaves int64.
bool checked_mul(int64_t a, int64_t b, int64_t& out);

// The element count of `shape`; throws ValueError "<what>: shape (..) has more elements than fit
// in 64 bits" (or "... a negative dimension") naming the thing, e.g. what = "[shapes] 'x'".
int64_t checked_numel(const Shape& shape, std::string_view what);
// The bytes of a dense tensor of `shape` with `item_bytes` per element; throws ValueError naming
// `what` and the bytes when over kMaxTensorBytes (or when the count itself overflows).
int64_t checked_bytes(const Shape& shape, size_t item_bytes, std::string_view what);

}  // namespace mithril
