// GGUF files (ggml's format; layout in shared/FORMATS.md): a header (magic "GGUF", version,
// tensor and metadata counts), typed metadata key/values, tensor infos (name, dims in ggml order
// (innermost first), ggml type id, offset), padding to the alignment, then the tensor data, each
// tensor padded to the alignment.
//
// The reader checks everything against the bytes it has before it reads or allocates: counts,
// string and array lengths, nesting depth, value and type ids, bools, the alignment, dims and
// their products (overflow-checked), row lengths against the block size, offsets (aligned, in
// the data section, not overlapping), unique names and keys. Any violation is a ValueError naming
// the file, the place and the reason; nothing is returned half-read. Tensor data are kept as the
// raw bytes of their type (quantized blocks included), so a read followed by a write gives the
// same file bytes for a file this writer made.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mithril/core/tensor.h"

namespace mithril::io {

// Metadata value types (gguf_type).
enum class GgufValueType : uint32_t {
  u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7, string = 8, array = 9,
  u64 = 10, i64 = 11, f64 = 12,
};

struct GgufValue {
  GgufValueType type = GgufValueType::u32;
  uint64_t u = 0;    // u8..u64, bool
  int64_t i = 0;     // i8..i64
  double f = 0;      // f32, f64
  std::string s;     // string
  GgufValueType element_type = GgufValueType::u8;  // array
  std::vector<GgufValue> array;

  static GgufValue of_string(std::string v);
  static GgufValue of_u32(uint32_t v);
  static GgufValue of_u64(uint64_t v);
  static GgufValue of_f32(float v);
};

// The ggml tensor types this reader knows the block layout of (id, name, elements per block,
// bytes per block). Ids it does not know are rejected by number.
struct GgmlTypeInfo {
  uint32_t id;
  std::string_view name;
  int64_t block_elements;
  int64_t block_bytes;
};
const GgmlTypeInfo* ggml_type_info(uint32_t id);  // nullptr when unknown
inline constexpr uint32_t kGgmlF32 = 0, kGgmlF16 = 1, kGgmlQ4_0 = 2, kGgmlQ8_0 = 8, kGgmlI8 = 24, kGgmlI32 = 26,
                          kGgmlI64 = 27, kGgmlF64 = 28, kGgmlBF16 = 30;

struct GgufTensor {
  std::string name;
  std::vector<uint64_t> ne;  // ggml order: ne[0] is the innermost (contiguous) dimension
  uint32_t type = kGgmlF32;
  std::string data;          // the raw bytes, row after row
  Shape shape() const;       // NumPy order (ne reversed)
};

struct GgufFile {
  uint32_t version = 3;
  uint32_t alignment = 32;  // general.alignment when the file has it
  std::vector<std::pair<std::string, GgufValue>> metadata;  // in file order
  std::vector<GgufTensor> tensors;                          // in file order

  const GgufValue* find(std::string_view key) const;
  const GgufTensor* tensor(std::string_view name) const;
  // A string value; a missing key or another type is a ValueError naming the key and `what`.
  const std::string& string_value(std::string_view key, std::string_view what) const;
};

GgufFile parse_gguf(std::string_view bytes, const std::string& what);
// Writes general.alignment when the alignment is not 32 and the metadata lacks it.
std::string gguf_bytes(const GgufFile& file);
GgufFile read_gguf(const std::string& path);
void write_gguf(const std::string& path, const GgufFile& file);  // atomic

// A tensor of ours as GGUF (f64, f32, f16, bf16, i8, i32, i64) and back; a quantized or other
// type in gguf_to_tensor is a DTypeError naming the tensor and the type.
GgufTensor tensor_to_gguf(const std::string& name, const Tensor& t);
Tensor gguf_to_tensor(const GgufTensor& t);

}  // namespace mithril::io
