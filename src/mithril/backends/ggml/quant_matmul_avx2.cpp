// The AVX2 bodies of the quantized products (compiled for AVX2+FMA+F16C per function, chosen
// at run time). A weight block is widened to 32 signed bytes, multiplied with the activation
// block by maddubs (|w| times x with w's sign, so the unsigned-by-signed instruction serves
// signed pairs; |q| <= 128 keeps each 16-bit pair sum below saturation) and summed into eight
// int32 lanes by madd; the lanes are scaled and accumulated exactly as dot_ref does.
#include <immintrin.h>

#include "mithril/backends/ggml/quant_matmul.h"
#include "mithril/core/dtype.h"

namespace mithril::ggml::detail {

namespace {

#define MI_AVX2 __attribute__((target("avx2,fma,f16c"), always_inline)) inline

MI_AVX2 __m256 block_lanes(__m256i w, __m256i x) {
  const __m256i ax = _mm256_sign_epi8(w, w);
  const __m256i sy = _mm256_sign_epi8(x, w);
  const __m256i dot16 = _mm256_maddubs_epi16(ax, sy);
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(dot16, _mm256_set1_epi16(1)));
}

MI_AVX2 float hsum(__m256 v) {  // ((0+4)+(2+6)) + ((1+5)+(3+7)), as dot_ref
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

MI_AVX2 float half(uint16_t h) { return _cvtsh_ss(h); }

template <QuantType T>
MI_AVX2 __m256i load_weights(const uint8_t* row, int64_t b, float& d) {
  if constexpr (T == QuantType::q8_0) {
    const BlockQ8_0* blk = reinterpret_cast<const BlockQ8_0*>(row) + b;
    d = half(blk->d);
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk->qs));
  } else {
    const BlockQ4_0* blk = reinterpret_cast<const BlockQ4_0*>(row) + b;
    d = half(blk->d);
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk->qs));
    const __m128i mask = _mm_set1_epi8(0x0F);
    const __m128i lo = _mm_and_si128(packed, mask);                      // elements 0..15
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(packed, 4), mask);  // elements 16..31
    return _mm256_sub_epi8(_mm256_set_m128i(hi, lo), _mm256_set1_epi8(8));
  }
}

// One tile: activation rows [i0, i0 + XR) by weight rows [j0, j0 + WR).
template <QuantType T, int XR, int WR>
__attribute__((target("avx2,fma,f16c"))) void tile(const QuantMatrix& w, const BlockQ8_0* xq, int64_t nb, int64_t i0,
                                                   int64_t j0, float* y, int64_t n) {
  __m256 acc[XR][WR];
#pragma GCC unroll 4
  for (int r = 0; r < XR; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < WR; ++c) acc[r][c] = _mm256_setzero_ps();
  const uint8_t* rows[WR];
  for (int c = 0; c < WR; ++c) rows[c] = w.row(j0 + c);
  for (int64_t b = 0; b < nb; ++b) {
    __m256i wv[WR];
    float dw[WR];
#pragma GCC unroll 4
    for (int c = 0; c < WR; ++c) wv[c] = load_weights<T>(rows[c], b, dw[c]);
#pragma GCC unroll 4
    for (int r = 0; r < XR; ++r) {
      const BlockQ8_0& xb = xq[(i0 + r) * nb + b];
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.qs));
      const float dx = half(xb.d);
#pragma GCC unroll 4
      for (int c = 0; c < WR; ++c)
        acc[r][c] = _mm256_fmadd_ps(block_lanes(wv[c], xv), _mm256_set1_ps(dw[c] * dx), acc[r][c]);
    }
  }
  for (int r = 0; r < XR; ++r)
    for (int c = 0; c < WR; ++c) y[(i0 + r) * n + j0 + c] = hsum(acc[r][c]);
}

template <QuantType T, int WR>
void column_block(const QuantMatrix& w, const BlockQ8_0* xq, int64_t m, int64_t nb, int64_t j, float* y) {
  for (int64_t i = 0; i < m; i += 4) {
    switch (std::min<int64_t>(4, m - i)) {
      case 4: tile<T, 4, WR>(w, xq, nb, i, j, y, w.rows); break;
      case 3: tile<T, 3, WR>(w, xq, nb, i, j, y, w.rows); break;
      case 2: tile<T, 2, WR>(w, xq, nb, i, j, y, w.rows); break;
      default: tile<T, 1, WR>(w, xq, nb, i, j, y, w.rows); break;
    }
  }
}

template <QuantType T>
void rows(const QuantMatrix& w, const BlockQ8_0* xq, int64_t m, int64_t j0, int64_t j1, float* y) {
  const int64_t nb = w.cols / kBlock;
  int64_t j = j0;
  if (m == 1) {  // GEMV: four weight rows share each activation block load
    for (; j + 4 <= j1; j += 4) tile<T, 1, 4>(w, xq, nb, 0, j, y, w.rows);
  } else {  // GEMM: 4 x 2 tiles, each weight block loaded once per four rows
    for (; j + 2 <= j1; j += 2) column_block<T, 2>(w, xq, m, nb, j, y);
  }
  for (; j < j1; ++j) column_block<T, 1>(w, xq, m, nb, j, y);
}

}  // namespace

__attribute__((target("avx2,fma,f16c"))) void quantize_activations_avx2(const float* x, int64_t k, BlockQ8_0* out) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t b = 0; b < k / kBlock; ++b) {
    const float* xb = x + b * kBlock;
    __m256 v[4];
    for (int i = 0; i < 4; ++i) v[i] = _mm256_loadu_ps(xb + 8 * i);
    __m256 mx = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1])),
                              _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3])));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
    const float amax = _mm_cvtss_f32(m4);
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out[b].d = float_to_f16(d);
    const __m256 vid = _mm256_set1_ps(id), half_v = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    __m256i q[4];
    for (int i = 0; i < 4; ++i) {
      const __m256 p = _mm256_mul_ps(v[i], vid);
      // roundf (half away from zero): truncate, then step away from zero when |fraction| >= 0.5.
      __m256 t = _mm256_round_ps(p, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
      const __m256 frac = _mm256_andnot_ps(sign, _mm256_sub_ps(p, t));
      const __m256 step = _mm256_or_ps(_mm256_and_ps(p, sign), one);
      t = _mm256_add_ps(t, _mm256_and_ps(_mm256_cmp_ps(frac, half_v, _CMP_GE_OQ), step));
      q[i] = _mm256_cvtps_epi32(t);
    }
    const __m256i q01 = _mm256_packs_epi32(q[0], q[1]);
    const __m256i q23 = _mm256_packs_epi32(q[2], q[3]);
    const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(q01, q23),
                                                      _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[b].qs), bytes);
  }
}

void quant_rows_avx2(const QuantMatrix& w, const BlockQ8_0* xq, int64_t m, int64_t j0, int64_t j1, float* y) {
  if (w.type == QuantType::q8_0) rows<QuantType::q8_0>(w, xq, m, j0, j1, y);
  else rows<QuantType::q4_0>(w, xq, m, j0, j1, y);
}

}  // namespace mithril::ggml::detail
