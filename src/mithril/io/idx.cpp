#include "mithril/io/idx.h"

#include <cstring>

#include "mithril/core/error.h"
#include "mithril/io/file.h"

namespace mithril::io {

Tensor read_idx(const std::string& path) { return parse_idx(io::read_file_maybe_gz(path, "idx"), path); }

Tensor parse_idx(std::string_view b, const std::string& path) {
  MI_CHECK(b.size() >= 4 && b[0] == 0 && b[1] == 0, ValueError, "[idx] {}: not an IDX file (magic must start 00 00)",
           path);
  const auto type = static_cast<uint8_t>(b[2]);
  const auto ndim = static_cast<size_t>(static_cast<uint8_t>(b[3]));
  MI_CHECK(ndim >= 1, ValueError, "[idx] {}: zero dimensions", path);
  MI_CHECK(b.size() >= 4 + 4 * ndim, ValueError, "[idx] {}: truncated header ({} dims need {} bytes, file has {})", path,
           ndim, 4 + 4 * ndim, b.size());
  auto be = [&](size_t at, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(b[at + static_cast<size_t>(i)]);
    return v;
  };
  Shape shape;
  uint64_t count = 1, nonzero = 1;
  for (size_t d = 0; d < ndim; ++d) {
    const uint64_t dim = be(4 + 4 * d, 4);
    shape.push_back(static_cast<int64_t>(dim));
    // Bound the product before forming it: a 64-bit product of crafted dimensions can wrap
    // around (to 0, say) and would then pass the size check below.
    // The non-zero dims are bounded too: a zero dim does not make (0, 2^40, 2^40) a sane shape.
    constexpr uint64_t kLimit = uint64_t{1} << 40;
    MI_CHECK(dim == 0 || nonzero <= (kLimit - 1) / dim, ValueError, "[idx] {}: dimensions {} are too large", path,
             shape_str(shape));
    count *= dim;
    if (dim != 0) nonzero *= dim;
  }
  size_t elem = 0;
  DType dtype = DType::i32;
  switch (type) {
    case 0x08: case 0x09: elem = 1; break;
    case 0x0B: elem = 2; break;
    case 0x0C: elem = 4; break;
    case 0x0D: elem = 4; dtype = DType::f32; break;
    case 0x0E: elem = 8; dtype = DType::f64; break;
    default: MI_THROW(ValueError, "[idx] {}: unknown data type 0x{:02x} (expected 08 09 0B 0C 0D 0E)", path, type);
  }
  const size_t data = 4 + 4 * ndim;
  MI_CHECK(b.size() == data + count * elem, ValueError, "[idx] {}: {} data bytes for shape {} of {}-byte elements, expected {}",
           path, b.size() - data, shape_str(shape), elem, count * elem);
  Tensor t = Tensor::empty(shape, dtype);
  for (uint64_t i = 0; i < count; ++i) {
    const size_t at = data + i * elem;
    const uint64_t raw = be(at, static_cast<int>(elem));
    switch (type) {
      case 0x08: t.data<int32_t>()[i] = static_cast<uint8_t>(raw); break;
      case 0x09: t.data<int32_t>()[i] = static_cast<int8_t>(raw); break;
      case 0x0B: t.data<int32_t>()[i] = static_cast<int16_t>(raw); break;
      case 0x0C: t.data<int32_t>()[i] = static_cast<int32_t>(raw); break;
      case 0x0D: {
        const auto bits = static_cast<uint32_t>(raw);
        float f;
        std::memcpy(&f, &bits, 4);
        t.data<float>()[i] = f;
        break;
      }
      default: {
        double f;
        std::memcpy(&f, &raw, 8);
        t.data<double>()[i] = f;
      }
    }
  }
  return t;
}

}  // namespace mithril::io
