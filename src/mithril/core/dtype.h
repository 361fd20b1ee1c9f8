// Data types: one enum, one constexpr traits table, and the scalar conversions for the
// 16-bit float formats (round-to-nearest-even when narrowing).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

namespace mithril {

enum class DType : uint8_t { f64, f32, f16, bf16, i8, i32, i64, b8 };
inline constexpr int kNumDTypes = 8;

struct DTypeTraits {
  std::string_view name;  // short name used in messages and printing: "f32"
  size_t size;            // bytes per element
  bool is_float;
  bool is_int;  // signed integer types (bool is neither float nor int)
};

inline constexpr DTypeTraits kDTypeTraits[kNumDTypes] = {
    {"f64", 8, true, false}, {"f32", 4, true, false}, {"f16", 2, true, false},
    {"bf16", 2, true, false}, {"i8", 1, false, true}, {"i32", 4, false, true},
    {"i64", 8, false, true}, {"bool", 1, false, false},
};

constexpr const DTypeTraits& traits(DType t) { return kDTypeTraits[static_cast<int>(t)]; }
constexpr std::string_view dtype_name(DType t) { return traits(t).name; }
constexpr size_t dtype_size(DType t) { return traits(t).size; }
constexpr bool is_float(DType t) { return traits(t).is_float; }
constexpr bool is_int(DType t) { return traits(t).is_int; }

// Parses "f32", "float32", "bfloat16", "int64", "bool", ...; throws DTypeError on unknown names.
DType parse_dtype(std::string_view name);

// NumPy-like promotion: bool < ints (by width) < floats; among floats the wider wins, and
// f16 with bf16 gives f32 (neither represents the other).
DType promote(DType a, DType b);

// 16-bit float storage types. They are plain bit containers; arithmetic happens in float.
struct f16_t { uint16_t bits; };
struct bf16_t { uint16_t bits; };

float f16_to_float(uint16_t bits);
uint16_t float_to_f16(float value);  // round to nearest even, overflow to inf, NaN kept
// bf16 is the top half of a float32: widening is a shift, narrowing a rounding add. Inline and
// branch-free so that the conversion loops (backends/cpu/convert.cpp) vectorize.
inline float bf16_to_float(uint16_t bits) { return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16); }
inline uint16_t float_to_bf16(float value) {  // round to nearest even, NaN kept quiet
  const uint32_t x = std::bit_cast<uint32_t>(value);
  const uint32_t rounded = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
  const uint32_t quiet_nan = (x >> 16) | 0x40u;
  return static_cast<uint16_t>((x & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
}

// Maps a C++ storage type to its DType.
template <typename T> struct dtype_of;
template <> struct dtype_of<double> { static constexpr DType value = DType::f64; };
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<f16_t> { static constexpr DType value = DType::f16; };
template <> struct dtype_of<bf16_t> { static constexpr DType value = DType::bf16; };
template <> struct dtype_of<int8_t> { static constexpr DType value = DType::i8; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::i32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::i64; };
template <> struct dtype_of<bool> { static constexpr DType value = DType::b8; };
template <typename T> inline constexpr DType dtype_of_v = dtype_of<T>::value;

// Calls f.template operator()<T>() with T the storage type of `t`.
template <typename F>
decltype(auto) dispatch_dtype(DType t, F&& f) {
  switch (t) {
    case DType::f64: return f.template operator()<double>();
    case DType::f32: return f.template operator()<float>();
    case DType::f16: return f.template operator()<f16_t>();
    case DType::bf16: return f.template operator()<bf16_t>();
    case DType::i8: return f.template operator()<int8_t>();
    case DType::i32: return f.template operator()<int32_t>();
    case DType::i64: return f.template operator()<int64_t>();
    case DType::b8: return f.template operator()<bool>();
  }
  return f.template operator()<double>();
}

// Scalar conversion between any storage type and double (the widest type we hold).
template <typename T> inline double to_double(T v) { return static_cast<double>(v); }
template <> inline double to_double<f16_t>(f16_t v) { return f16_to_float(v.bits); }
template <> inline double to_double<bf16_t>(bf16_t v) { return bf16_to_float(v.bits); }
template <typename T> inline T from_double(double v) { return static_cast<T>(v); }
template <> inline bool from_double<bool>(double v) { return v != 0.0; }
template <> inline f16_t from_double<f16_t>(double v) { return {float_to_f16(static_cast<float>(v))}; }
template <> inline bf16_t from_double<bf16_t>(double v) { return {float_to_bf16(static_cast<float>(v))}; }
// One element converted to another dtype, as from_double(to_double(v)) but without the double
// round trip where a float32 step is exact (16-bit floats to and from float32).
template <typename D, typename S>
inline D convert_value(S v) {
  if constexpr (std::is_same_v<S, float> && std::is_same_v<D, bf16_t>) return {float_to_bf16(v)};
  else if constexpr (std::is_same_v<S, float> && std::is_same_v<D, f16_t>) return {float_to_f16(v)};
  else if constexpr (std::is_same_v<S, bf16_t> && std::is_same_v<D, float>) return bf16_to_float(v.bits);
  else if constexpr (std::is_same_v<S, f16_t> && std::is_same_v<D, float>) return f16_to_float(v.bits);
  else return from_double<D>(to_double(v));
}

}  // namespace mithril
