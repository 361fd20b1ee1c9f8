// The vector layer of the AVX2 kernels that compute in float32/float64 registers, shared by the
// GEMM (gemm_avx2.cpp) and the GEMVs (gemv.cpp):
//   - storage readers: R::load8 (float32) or R::load4 (float64) loads one vector from contiguous
//     stored elements, widening 16-bit floats (bf16: a shift; f16: F16C), R::one reads a single
//     value, and R::Value is the compute type;
//   - Simd<T>: the vector operations of one compute type, so a kernel is written once for both.
//
// MI_AVX2 marks a function compiled for AVX2+FMA+F16C; call such functions only when
// cpu_has(Isa::avx2_fma) (which checks F16C too). Whole files are never compiled with -mavx2, so
// no inline function of a shared header is emitted with AVX2 code.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <type_traits>

#include "mithril/core/dtype.h"

#define MI_AVX2 __attribute__((target("avx2,fma,f16c")))
#define MI_AVX2_INLINE __attribute__((target("avx2,fma,f16c"), always_inline)) inline

namespace mithril::cpu {

struct ReadF32 {
  using Storage = float;
  using Value = float;
  MI_AVX2_INLINE static __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
  static float one(const float* p) { return *p; }
};
struct ReadBf16 {
  using Storage = uint16_t;
  using Value = float;
  MI_AVX2_INLINE static __m256 load8(const uint16_t* p) {
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  }
  static float one(const uint16_t* p) { return bf16_to_float(*p); }
};
struct ReadF16 {
  using Storage = uint16_t;
  using Value = float;
  MI_AVX2_INLINE static __m256 load8(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static float one(const uint16_t* p) { return f16_to_float(*p); }
};
struct ReadF64 {
  using Storage = double;
  using Value = double;
  MI_AVX2_INLINE static __m256d load4(const double* p) { return _mm256_loadu_pd(p); }
  static double one(const double* p) { return *p; }
};

// ---- vector operations, one set per compute type ----

template <typename T>
struct Simd;

template <>
struct Simd<float> {
  using V = __m256;
  static constexpr int kLanes = 8;
  MI_AVX2_INLINE static V zero() { return _mm256_setzero_ps(); }
  MI_AVX2_INLINE static V load(const float* p) { return _mm256_load_ps(p); }
  MI_AVX2_INLINE static V loadu(const float* p) { return _mm256_loadu_ps(p); }
  MI_AVX2_INLINE static void store(float* p, V v) { _mm256_store_ps(p, v); }
  MI_AVX2_INLINE static void storeu(float* p, V v) { _mm256_storeu_ps(p, v); }
  MI_AVX2_INLINE static V broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  MI_AVX2_INLINE static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  MI_AVX2_INLINE static V add(V a, V b) { return _mm256_add_ps(a, b); }
  // max(0, v) with v second: NaN and -0 come through unchanged, as `v < 0 ? 0 : v` does.
  MI_AVX2_INLINE static V relu(V v) { return _mm256_max_ps(_mm256_setzero_ps(), v); }
};

template <>
struct Simd<double> {
  using V = __m256d;
  static constexpr int kLanes = 4;
  MI_AVX2_INLINE static V zero() { return _mm256_setzero_pd(); }
  MI_AVX2_INLINE static V load(const double* p) { return _mm256_load_pd(p); }
  MI_AVX2_INLINE static V loadu(const double* p) { return _mm256_loadu_pd(p); }
  MI_AVX2_INLINE static void store(double* p, V v) { _mm256_store_pd(p, v); }
  MI_AVX2_INLINE static void storeu(double* p, V v) { _mm256_storeu_pd(p, v); }
  MI_AVX2_INLINE static V broadcast(const double* p) { return _mm256_broadcast_sd(p); }
  MI_AVX2_INLINE static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  MI_AVX2_INLINE static V add(V a, V b) { return _mm256_add_pd(a, b); }
  MI_AVX2_INLINE static V relu(V v) { return _mm256_max_pd(_mm256_setzero_pd(), v); }
};

// One vector of the compute type from contiguous stored elements.
template <typename R>
MI_AVX2_INLINE auto load_vec(const typename R::Storage* p) {
  if constexpr (std::is_same_v<R, ReadF64>) return R::load4(p);
  else return R::load8(p);
}

}  // namespace mithril::cpu
