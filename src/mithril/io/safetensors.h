// safetensors files (Hugging Face's format; layout in shared/FORMATS.md): an 8-byte little-endian
// header length N, N bytes of JSON mapping each tensor name to {"dtype", "shape", "data_offsets"}
// (plus an optional "__metadata__" string map), then the packed little-endian row-major data.
//
// The reader validates what the reference reader does (header size, JSON form, known dtypes,
// duplicate names, offsets that tile the data buffer exactly with no gap or overlap, shape x
// dtype size equal to the span, overflow-checked) and throws ValueError naming the file and the
// reason; nothing is returned half-read. The writer sorts tensors by dtype alignment (descending)
// then name, pads the header with spaces to a multiple of 8, and writes atomically with fsync.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "mithril/core/tensor.h"

namespace mithril::io {

struct SafeTensors {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;  // the "__metadata__" map, empty when absent
};

// Parses the bytes of a safetensors file; `what` names it in errors. Dtypes F64, F32, F16, BF16,
// I64, I32, I8, BOOL map to ours; U8 is read as i32 (holds every value); any other dtype (U16,
// F8_E4M3, ...) is a DTypeError naming the tensor and dtype.
SafeTensors parse_safetensors(std::string_view bytes, const std::string& what);
std::string safetensors_bytes(const std::map<std::string, Tensor>& tensors,
                              const std::map<std::string, std::string>& metadata = {});

SafeTensors read_safetensors(const std::string& path);
void write_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace mithril::io
