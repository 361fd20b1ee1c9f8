#include "mithril/core/dtype.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <string>

#include "mithril/core/error.h"

namespace mithril {

DType parse_dtype(std::string_view name) {
  struct Alias { std::string_view name; DType type; };
  static constexpr Alias kAliases[] = {
      {"f64", DType::f64}, {"float64", DType::f64}, {"double", DType::f64},
      {"f32", DType::f32}, {"float32", DType::f32}, {"float", DType::f32},
      {"f16", DType::f16}, {"float16", DType::f16}, {"half", DType::f16},
      {"bf16", DType::bf16}, {"bfloat16", DType::bf16},
      {"i8", DType::i8}, {"int8", DType::i8},
      {"i32", DType::i32}, {"int32", DType::i32},
      {"i64", DType::i64}, {"int64", DType::i64}, {"int", DType::i64},
      {"bool", DType::b8}, {"b8", DType::b8},
  };
  for (const auto& a : kAliases)
    if (a.name == name) return a.type;
  MI_THROW(DTypeError, "unknown dtype '{}': expected one of f64, f32, f16, bf16, i8, i32, i64, bool", name);
}

DType promote(DType a, DType b) {
  if (a == b) return a;
  const bool fa = is_float(a), fb = is_float(b);
  if (fa && fb) {
    if ((a == DType::f16 && b == DType::bf16) || (a == DType::bf16 && b == DType::f16)) return DType::f32;
    return dtype_size(a) >= dtype_size(b) ? a : b;
  }
  if (fa) return a;
  if (fb) return b;
  if (a == DType::b8) return b;
  if (b == DType::b8) return a;
  return dtype_size(a) >= dtype_size(b) ? a : b;
}

float f16_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do { mant <<= 1; ++e; } while ((mant & 0x400u) == 0);
      bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  return std::bit_cast<float>(bits);
}

uint16_t float_to_f16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u)  // inf or NaN
    return sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0u);
  if (absx >= 0x477ff000u) return sign | 0x7c00u;  // rounds to >= 65520: overflow to inf
  if (absx < 0x38800000u) {  // below the smallest normal half (2^-14): subnormal or zero
    // value = absx as float; half subnormal unit is 2^-24. Round to nearest even via float add.
    const float v = std::bit_cast<float>(absx);
    const float scaled = v * 16777216.0f;  // 2^24, exact
    const float r = std::nearbyint(scaled);  // default rounding mode is nearest-even
    return sign | static_cast<uint16_t>(r);
  }
  const uint32_t exp = ((absx >> 23) - 127 + 15);
  uint32_t mant = absx & 0x7fffffu;
  uint32_t half = (exp << 10) | (mant >> 13);
  const uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;  // carries into exp correctly
  return sign | static_cast<uint16_t>(half);
}

}  // namespace mithril
