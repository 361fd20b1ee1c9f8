// Quantized block formats, bit-compatible with ggml/GGUF (shared/FORMATS.md): a row of k values
// is k/32 blocks, each an fp16 scale and 32 small integers. The scalar functions here are the
// reference of the formats (ggml's quantize_row_*_ref formulas) and of the dot products the
// fast kernels (quant_matmul.h) must reproduce bit for bit.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace mithril::ggml {

inline constexpr int64_t kBlock = 32;  // elements per block, every format here

enum class QuantType : uint8_t { q8_0, q4_0 };
inline constexpr int kNumQuantTypes = 2;

// { fp16 d; int8 qs[32]; }: x = qs[j] * d.
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kBlock];
};
// { fp16 d; uint8 qs[16]; }: byte j holds element j (low nibble) and element j + 16 (high
// nibble); x = (nibble - 8) * d.
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kBlock / 2];
};
static_assert(sizeof(BlockQ8_0) == 34 && alignof(BlockQ8_0) == 2, "Q8_0 block must be ggml's 34 bytes");
static_assert(sizeof(BlockQ4_0) == 18 && alignof(BlockQ4_0) == 2, "Q4_0 block must be ggml's 18 bytes");

struct QuantTraits {
  QuantType type;
  std::string_view name;  // "q8_0"
  uint32_t ggml_type;     // enum ggml_type id in GGUF files
  int64_t block_bytes;
};
const QuantTraits& quant_traits(QuantType type);
// "q8_0", "q4_0", or "int8" (an alias of q8_0); anything else is a ValueError listing the names.
QuantType parse_quant_type(std::string_view name);
// Bytes of one row of k values; k must be a multiple of 32 (a ValueError naming `what` otherwise).
int64_t quant_row_bytes(QuantType type, int64_t k, std::string_view what = "row");

// Reference quantization of one row of k values (k a multiple of 32) into `out` (row bytes).
// Non-finite values are a ValueError naming `what`.
void quantize_row_ref(QuantType type, const float* x, int64_t k, void* out, std::string_view what = "row");
void dequantize_row_ref(QuantType type, const void* blocks, int64_t k, float* out);

// Activations are quantized to Q8_0 block by block at run time (ggml's formula; no check of
// finiteness: a NaN or inf makes that block's results meaningless, never a crash).
void quantize_activations_ref(const float* x, int64_t k, BlockQ8_0* out);

// The dot product of a quantized weight row with a Q8_0 activation row of nb blocks, in the
// order every kernel uses: per block, eight int32 partial sums of four consecutive products
// (exact), each multiplied by d_w * d_x and added into one of eight float lanes with a fused
// multiply-add; the lanes are summed pairwise at the end ((0+4)+(2+6)) + ((1+5)+(3+7)).
float dot_ref(QuantType type, const void* w_row, const BlockQ8_0* x_row, int64_t nb);

}  // namespace mithril::ggml
