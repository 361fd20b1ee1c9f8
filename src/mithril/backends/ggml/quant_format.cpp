#include "mithril/backends/ggml/quant_format.h"

#include <algorithm>
#include <cmath>

#include "mithril/core/dtype.h"
#include "mithril/core/error.h"

namespace mithril::ggml {

namespace {

constexpr QuantTraits kTraits[] = {
    {QuantType::q8_0, "q8_0", 8, sizeof(BlockQ8_0)},
    {QuantType::q4_0, "q4_0", 2, sizeof(BlockQ4_0)},
};
static_assert(std::size(kTraits) == kNumQuantTypes);

// The eight int32 partial sums of a block: lane l = sum of the products of elements 4l..4l+3.
void block_lanes(const int8_t* w, const int8_t* x, int32_t lanes[8]) {
  for (int l = 0; l < 8; ++l) {
    int32_t s = 0;
    for (int i = 4 * l; i < 4 * l + 4; ++i) s += int32_t{w[i]} * int32_t{x[i]};
    lanes[l] = s;
  }
}

void check_finite(const float* x, int64_t k, std::string_view what) {
  for (int64_t i = 0; i < k; ++i)
    MI_CHECK(std::isfinite(x[i]), ValueError, "[quantize] {} has a non-finite value at element {}: {}", what, i,
             x[i]);
}

}  // namespace

const QuantTraits& quant_traits(QuantType type) { return kTraits[static_cast<size_t>(type)]; }

QuantType parse_quant_type(std::string_view name) {
  if (name == "int8") return QuantType::q8_0;
  for (const QuantTraits& t : kTraits)
    if (t.name == name) return t.type;
  MI_THROW(ValueError, "[quantize] unknown format '{}' (formats: int8 (= q8_0), q8_0, q4_0)", name);
}

int64_t quant_row_bytes(QuantType type, int64_t k, std::string_view what) {
  MI_CHECK(k > 0 && k % kBlock == 0, ValueError,
           "[quantize] {} has {} values per row, which is not a positive multiple of the block size {}", what, k,
           kBlock);
  return k / kBlock * quant_traits(type).block_bytes;
}

void quantize_row_ref(QuantType type, const float* x, int64_t k, void* out, std::string_view what) {
  quant_row_bytes(type, k, what);
  check_finite(x, k, what);
  const int64_t nb = k / kBlock;
  if (type == QuantType::q8_0) {
    quantize_activations_ref(x, k, static_cast<BlockQ8_0*>(out));
    return;
  }
  auto* y = static_cast<BlockQ4_0*>(out);
  for (int64_t b = 0; b < nb; ++b) {
    const float* xb = x + b * kBlock;
    float amax = 0.0f, max = 0.0f;  // the signed value of largest magnitude (the first one)
    for (int64_t j = 0; j < kBlock; ++j) {
      if (amax < std::fabs(xb[j])) {
        amax = std::fabs(xb[j]);
        max = xb[j];
      }
    }
    const float d = max / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = float_to_f16(d);
    for (int64_t j = 0; j < kBlock / 2; ++j) {
      const float x0 = xb[j] * id, x1 = xb[kBlock / 2 + j] * id;
      const auto q0 = static_cast<uint8_t>(std::min(15, static_cast<int>(static_cast<int8_t>(x0 + 8.5f))));
      const auto q1 = static_cast<uint8_t>(std::min(15, static_cast<int>(static_cast<int8_t>(x1 + 8.5f))));
      y[b].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void dequantize_row_ref(QuantType type, const void* blocks, int64_t k, float* out) {
  const int64_t nb = k / kBlock;
  if (type == QuantType::q8_0) {
    const auto* y = static_cast<const BlockQ8_0*>(blocks);
    for (int64_t b = 0; b < nb; ++b) {
      const float d = f16_to_float(y[b].d);
      for (int64_t j = 0; j < kBlock; ++j) out[b * kBlock + j] = static_cast<float>(y[b].qs[j]) * d;
    }
    return;
  }
  const auto* y = static_cast<const BlockQ4_0*>(blocks);
  for (int64_t b = 0; b < nb; ++b) {
    const float d = f16_to_float(y[b].d);
    for (int64_t j = 0; j < kBlock / 2; ++j) {
      out[b * kBlock + j] = static_cast<float>((y[b].qs[j] & 0x0F) - 8) * d;
      out[b * kBlock + j + kBlock / 2] = static_cast<float>((y[b].qs[j] >> 4) - 8) * d;
    }
  }
}

void quantize_activations_ref(const float* x, int64_t k, BlockQ8_0* out) {
  for (int64_t b = 0; b < k / kBlock; ++b) {
    const float* xb = x + b * kBlock;
    float amax = 0.0f;
    for (int64_t j = 0; j < kBlock; ++j) amax = std::max(amax, std::fabs(xb[j]));
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out[b].d = float_to_f16(d);
    for (int64_t j = 0; j < kBlock; ++j) {
      const float r = std::round(xb[j] * id);  // half away from zero, like roundf
      out[b].qs[j] = static_cast<int8_t>(r >= -128.0f && r <= 127.0f ? r : -128.0f);  // NaN: -128, no UB
    }
  }
}

float dot_ref(QuantType type, const void* w_row, const BlockQ8_0* x, int64_t nb) {
  float acc[8] = {};
  int8_t w[kBlock];
  int32_t lanes[8];
  for (int64_t b = 0; b < nb; ++b) {
    uint16_t dw;
    if (type == QuantType::q8_0) {
      const BlockQ8_0& blk = static_cast<const BlockQ8_0*>(w_row)[b];
      std::copy(blk.qs, blk.qs + kBlock, w);
      dw = blk.d;
    } else {
      const BlockQ4_0& blk = static_cast<const BlockQ4_0*>(w_row)[b];
      for (int64_t j = 0; j < kBlock / 2; ++j) {
        w[j] = static_cast<int8_t>((blk.qs[j] & 0x0F) - 8);
        w[j + kBlock / 2] = static_cast<int8_t>((blk.qs[j] >> 4) - 8);
      }
      dw = blk.d;
    }
    block_lanes(w, x[b].qs, lanes);
    const float d = f16_to_float(dw) * f16_to_float(x[b].d);
    for (int l = 0; l < 8; ++l) acc[l] = std::fma(static_cast<float>(lanes[l]), d, acc[l]);
  }
  return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

}  // namespace mithril::ggml
