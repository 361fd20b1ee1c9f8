#include "mithril/backends/cpu/vec_math.h"

#include <cmath>
#include <limits>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MITHRIL_VEC_X86 1
#endif

namespace mithril::cpu::vec {
namespace {

// Scalar references used for tails and out-of-range lanes (the same formulas as the baseline
// kernels in unary.cpp).
template <typename T>
T sigmoid_ref(T x) {
  const T e = std::exp(-std::abs(x));
  const T r = T(1) / (T(1) + e);
  return x >= T(0) ? r : e * r;
}

}  // namespace

#ifdef MITHRIL_VEC_X86
#define MI_AVX2 __attribute__((target("avx2,fma")))

namespace {

// ---- float32 ----
// e^x = e^r 2^n with n = round(x log2 e), r = x - n ln2 (two-part ln2), e^r by Cephes expf's
// degree-5 polynomial. Returns e^r and sets n.
MI_AVX2 inline __m256 exp_reduced(__m256 x, __m256& n) {
  n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500E-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507E-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073E-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894E-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459E-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201E-1f));
  const __m256 r2 = _mm256_mul_ps(r, r);
  return _mm256_add_ps(_mm256_fmadd_ps(p, r2, r), _mm256_set1_ps(1.0f));
}

// 2^n for integer n in [-126, 127], built in the exponent field.
MI_AVX2 inline __m256 pow2i(__m256i n) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23)); }

// e^x for x in [-87.3, 88.7] (normal results).
MI_AVX2 inline __m256 exp_core(__m256 x) {
  __m256 n;
  const __m256 y = exp_reduced(x, n);
  return _mm256_mul_ps(y, pow2i(_mm256_cvtps_epi32(n)));
}

// Lanes outside [lo, hi] (or NaN) need libm.
MI_AVX2 inline int out_of_range(__m256 x, float lo, float hi) {
  const __m256 ok = _mm256_and_ps(_mm256_cmp_ps(x, _mm256_set1_ps(lo), _CMP_GE_OQ), _mm256_cmp_ps(x, _mm256_set1_ps(hi), _CMP_LE_OQ));
  return _mm256_movemask_ps(ok) != 0xff;
}

constexpr float kExpLo = -87.3f, kExpHi = 88.0f;  // n = round(x log2 e) stays in [-126, 127]

// exp_core for x in [-150, 88.0], subnormal and zero results included (softmax of widely spread
// scores lands there often, and libm's underflow path is slow): 2^n is applied as 2^n1 2^n2 with
// n1 = floor(n / 2), both normal, so the only rounding beyond exp_core's is the final one.
MI_AVX2 inline __m256 exp_core_wide(__m256 x) {
  __m256 n;
  const __m256 y = exp_reduced(x, n);
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i n1 = _mm256_srai_epi32(ni, 1);
  return _mm256_mul_ps(_mm256_mul_ps(y, pow2i(n1)), pow2i(_mm256_sub_epi32(ni, n1)));
}

MI_AVX2 void exp_f32(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    // Below -150 the result is 0 (and exp_core_wide's n must stay small): clamp.
    const __m256 r = exp_core_wide(_mm256_max_ps(v, _mm256_set1_ps(-150.0f)));
    if (out_of_range(v, -std::numeric_limits<float>::infinity(), kExpHi)) {
      alignas(32) float in[8];  // x may alias y: keep the inputs before storing
      _mm256_store_ps(in, v);
      for (int k = 0; k < 8; ++k) y[i + k] = std::exp(in[k]);
    } else {
      _mm256_storeu_ps(y + i, r);
    }
  }
  for (; i < n; ++i) y[i] = std::exp(x[i]);
}

// tanh: |x| < 0.625: Cephes tanhf's odd polynomial; otherwise sign(x) (1 - 2 / (e^{2|x|} + 1)),
// with |x| clamped to 9 (tanh is 1 to float precision there, and e^18 stays finite).
MI_AVX2 inline __m256 tanh_core(__m256 x) {
  const __m256 sign = _mm256_and_ps(x, _mm256_set1_ps(-0.0f));
  const __m256 a = _mm256_min_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), x), _mm256_set1_ps(9.0f));
  const __m256 z = _mm256_mul_ps(x, x);
  __m256 p = _mm256_set1_ps(-5.70498872745E-3f);
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(2.06390887954E-2f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-5.37397155531E-2f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.33314422036E-1f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.33332819422E-1f));
  const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
  const __m256 e = exp_core(_mm256_add_ps(a, a));
  const __m256 big = _mm256_sub_ps(_mm256_set1_ps(1.0f), _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, _mm256_set1_ps(1.0f))));
  const __m256 use_small = _mm256_cmp_ps(a, _mm256_set1_ps(0.625f), _CMP_LT_OQ);
  return _mm256_blendv_ps(_mm256_or_ps(big, sign), small, use_small);
}

MI_AVX2 void tanh_f32(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256 r = tanh_core(v);
    if (_mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q))) {  // NaN lanes
      alignas(32) float in[8];
      _mm256_store_ps(in, v);
      for (int k = 0; k < 8; ++k) y[i + k] = std::tanh(in[k]);
    } else {
      _mm256_storeu_ps(y + i, r);
    }
  }
  for (; i < n; ++i) y[i] = std::tanh(x[i]);
}

MI_AVX2 void sigmoid_f32(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  const __m256 one = _mm256_set1_ps(1.0f);
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
    const __m256 e = exp_core(_mm256_sub_ps(_mm256_setzero_ps(), a));
    const __m256 r = _mm256_div_ps(one, _mm256_add_ps(one, e));
    const __m256 neg = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
    const __m256 res = _mm256_blendv_ps(r, _mm256_mul_ps(e, r), neg);
    if (out_of_range(a, 0.0f, -kExpLo)) {  // e^-|x| subnormal, or NaN
      alignas(32) float in[8];
      _mm256_store_ps(in, v);
      for (int k = 0; k < 8; ++k) y[i + k] = sigmoid_ref(in[k]);
    } else {
      _mm256_storeu_ps(y + i, res);
    }
  }
  for (; i < n; ++i) y[i] = sigmoid_ref(x[i]);
}

// ---- float64 ----
// e^x for x in [-708, 709]: Cephes exp: r = x - n ln2 (two-part), e^r = 1 + 2 r P(r^2) /
// (Q(r^2) - r P(r^2)), times 2^n.
MI_AVX2 inline __m256d exp_core(__m256d x) {
  const __m256d n = _mm256_round_pd(_mm256_mul_pd(x, _mm256_set1_pd(1.4426950408889634073599)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256d r = _mm256_fnmadd_pd(n, _mm256_set1_pd(6.93145751953125E-1), x);
  r = _mm256_fnmadd_pd(n, _mm256_set1_pd(1.42860682030941723212E-6), r);
  const __m256d rr = _mm256_mul_pd(r, r);
  __m256d p = _mm256_set1_pd(1.26177193074810590878E-4);
  p = _mm256_fmadd_pd(p, rr, _mm256_set1_pd(3.02994407707441961300E-2));
  p = _mm256_fmadd_pd(p, rr, _mm256_set1_pd(9.99999999999999999910E-1));
  const __m256d px = _mm256_mul_pd(p, r);
  __m256d q = _mm256_set1_pd(3.00198505138664455042E-6);
  q = _mm256_fmadd_pd(q, rr, _mm256_set1_pd(2.52448340349684104192E-3));
  q = _mm256_fmadd_pd(q, rr, _mm256_set1_pd(2.27265548208155028766E-1));
  q = _mm256_fmadd_pd(q, rr, _mm256_set1_pd(2.00000000000000000009E0));
  const __m256d frac = _mm256_div_pd(px, _mm256_sub_pd(q, px));
  const __m256d y = _mm256_fmadd_pd(_mm256_set1_pd(2.0), frac, _mm256_set1_pd(1.0));
  // 2^n: n + 1023 into the exponent field of each 64-bit lane.
  const __m128i ni = _mm256_cvtpd_epi32(n);
  const __m256i e = _mm256_slli_epi64(_mm256_add_epi64(_mm256_cvtepi32_epi64(ni), _mm256_set1_epi64x(1023)), 52);
  return _mm256_mul_pd(y, _mm256_castsi256_pd(e));
}

MI_AVX2 inline int out_of_range(__m256d x, double lo, double hi) {
  const __m256d ok = _mm256_and_pd(_mm256_cmp_pd(x, _mm256_set1_pd(lo), _CMP_GE_OQ), _mm256_cmp_pd(x, _mm256_set1_pd(hi), _CMP_LE_OQ));
  return _mm256_movemask_pd(ok) != 0xf;
}

constexpr double kExpLoD = -708.0, kExpHiD = 709.0;

MI_AVX2 void exp_f64(const double* x, double* y, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256d v = _mm256_loadu_pd(x + i);
    const __m256d r = exp_core(v);
    if (out_of_range(v, kExpLoD, kExpHiD)) {
      alignas(32) double in[4];
      _mm256_store_pd(in, v);
      for (int k = 0; k < 4; ++k) y[i + k] = std::exp(in[k]);
    } else {
      _mm256_storeu_pd(y + i, r);
    }
  }
  for (; i < n; ++i) y[i] = std::exp(x[i]);
}

// tanh: |x| < 0.625: Cephes tanh's x + x s P(s)/Q(s), s = x^2; otherwise 1 - 2/(e^{2|x|} + 1)
// with |x| clamped to 20 (tanh is 1 to double precision there).
MI_AVX2 inline __m256d tanh_core(__m256d x) {
  const __m256d sign = _mm256_and_pd(x, _mm256_set1_pd(-0.0));
  const __m256d a = _mm256_min_pd(_mm256_andnot_pd(_mm256_set1_pd(-0.0), x), _mm256_set1_pd(20.0));
  const __m256d s = _mm256_mul_pd(x, x);
  __m256d p = _mm256_set1_pd(-9.64399179425052238628E-1);
  p = _mm256_fmadd_pd(p, s, _mm256_set1_pd(-9.92877231001918586564E1));
  p = _mm256_fmadd_pd(p, s, _mm256_set1_pd(-1.61468768441708447952E3));
  __m256d q = _mm256_add_pd(s, _mm256_set1_pd(1.12811678491632931402E2));
  q = _mm256_fmadd_pd(q, s, _mm256_set1_pd(2.23548839060100448583E3));
  q = _mm256_fmadd_pd(q, s, _mm256_set1_pd(4.84406305325125486048E3));
  const __m256d small = _mm256_fmadd_pd(_mm256_mul_pd(x, s), _mm256_div_pd(p, q), x);
  const __m256d e = exp_core(_mm256_add_pd(a, a));
  const __m256d big = _mm256_sub_pd(_mm256_set1_pd(1.0), _mm256_div_pd(_mm256_set1_pd(2.0), _mm256_add_pd(e, _mm256_set1_pd(1.0))));
  const __m256d use_small = _mm256_cmp_pd(a, _mm256_set1_pd(0.625), _CMP_LT_OQ);
  return _mm256_blendv_pd(_mm256_or_pd(big, sign), small, use_small);
}

MI_AVX2 void tanh_f64(const double* x, double* y, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256d v = _mm256_loadu_pd(x + i);
    const __m256d r = tanh_core(v);
    if (_mm256_movemask_pd(_mm256_cmp_pd(v, v, _CMP_UNORD_Q))) {
      alignas(32) double in[4];
      _mm256_store_pd(in, v);
      for (int k = 0; k < 4; ++k) y[i + k] = std::tanh(in[k]);
    } else {
      _mm256_storeu_pd(y + i, r);
    }
  }
  for (; i < n; ++i) y[i] = std::tanh(x[i]);
}

MI_AVX2 void sigmoid_f64(const double* x, double* y, int64_t n) {
  int64_t i = 0;
  const __m256d one = _mm256_set1_pd(1.0);
  for (; i + 4 <= n; i += 4) {
    const __m256d v = _mm256_loadu_pd(x + i);
    const __m256d a = _mm256_andnot_pd(_mm256_set1_pd(-0.0), v);
    const __m256d e = exp_core(_mm256_sub_pd(_mm256_setzero_pd(), a));
    const __m256d r = _mm256_div_pd(one, _mm256_add_pd(one, e));
    const __m256d neg = _mm256_cmp_pd(v, _mm256_setzero_pd(), _CMP_LT_OQ);
    const __m256d res = _mm256_blendv_pd(r, _mm256_mul_pd(e, r), neg);
    if (out_of_range(a, 0.0, -kExpLoD)) {
      alignas(32) double in[4];
      _mm256_store_pd(in, v);
      for (int k = 0; k < 4; ++k) y[i + k] = sigmoid_ref(in[k]);
    } else {
      _mm256_storeu_pd(y + i, res);
    }
  }
  for (; i < n; ++i) y[i] = sigmoid_ref(x[i]);
}

}  // namespace

void exp(const float* x, float* y, int64_t n) { exp_f32(x, y, n); }
void exp(const double* x, double* y, int64_t n) { exp_f64(x, y, n); }
void tanh(const float* x, float* y, int64_t n) { tanh_f32(x, y, n); }
void tanh(const double* x, double* y, int64_t n) { tanh_f64(x, y, n); }
void sigmoid(const float* x, float* y, int64_t n) { sigmoid_f32(x, y, n); }
void sigmoid(const double* x, double* y, int64_t n) { sigmoid_f64(x, y, n); }

#else  // not x86: never selected (the registry tags these kernels avx2_fma), but defined.

void exp(const float* x, float* y, int64_t n) { for (int64_t i = 0; i < n; ++i) y[i] = std::exp(x[i]); }
void exp(const double* x, double* y, int64_t n) { for (int64_t i = 0; i < n; ++i) y[i] = std::exp(x[i]); }
void tanh(const float* x, float* y, int64_t n) { for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]); }
void tanh(const double* x, double* y, int64_t n) { for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]); }
void sigmoid(const float* x, float* y, int64_t n) { for (int64_t i = 0; i < n; ++i) y[i] = sigmoid_ref(x[i]); }
void sigmoid(const double* x, double* y, int64_t n) { for (int64_t i = 0; i < n; ++i) y[i] = sigmoid_ref(x[i]); }

#endif

}  // namespace mithril::cpu::vec
