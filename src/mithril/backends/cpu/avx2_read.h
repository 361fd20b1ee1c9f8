// Storage readers for AVX2 kernels that compute in float32/float64 registers: R::load8 (float32)
// or R::load4 (float64) loads one vector from contiguous stored elements, widening 16-bit
// floats (bf16: a shift; f16: F16C), and R::one reads a single value. Shared by the GEMM packing
// (gemm_avx2.cpp) and the GEMVs (gemv.cpp).
//
// MI_AVX2 marks a function compiled for AVX2+FMA+F16C; call such functions only when
// cpu_has(Isa::avx2_fma) (which checks F16C too). Whole files are never compiled with -mavx2, so
// no inline function of a shared header is emitted with AVX2 code.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "mithril/core/dtype.h"

#define MI_AVX2 __attribute__((target("avx2,fma,f16c")))
#define MI_AVX2_INLINE __attribute__((target("avx2,fma,f16c"), always_inline)) inline

namespace mithril::cpu {

struct ReadF32 {
  using Storage = float;
  MI_AVX2_INLINE static __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
  static float one(const float* p) { return *p; }
};
struct ReadBf16 {
  using Storage = uint16_t;
  MI_AVX2_INLINE static __m256 load8(const uint16_t* p) {
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  }
  static float one(const uint16_t* p) { return bf16_to_float(*p); }
};
struct ReadF16 {
  using Storage = uint16_t;
  MI_AVX2_INLINE static __m256 load8(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static float one(const uint16_t* p) { return f16_to_float(*p); }
};
struct ReadF64 {
  using Storage = double;
  MI_AVX2_INLINE static __m256d load4(const double* p) { return _mm256_loadu_pd(p); }
  static double one(const double* p) { return *p; }
};

}  // namespace mithril::cpu
