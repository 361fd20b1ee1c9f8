// MNIST-style IDX files: magic 0 0 type ndim, big-endian u32 dims, big-endian data; types u8, i8,
// i16, i32, f32, f64. Files whose name ends in ".gz" are inflated first.
#pragma once

#include <string>
#include <string_view>

#include "mithril/core/tensor.h"

namespace mithril::io {

// The file's array: integer data as i32, floats as f32/f64. ValueError naming the file for a
// bad magic, a truncated header or data, an unknown type or dimensions too large.
Tensor read_idx(const std::string& path);
// The same from the (inflated) bytes of a file; `what` names it in messages.
Tensor parse_idx(std::string_view bytes, const std::string& what);

}  // namespace mithril::io
