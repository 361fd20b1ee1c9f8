// Our GEMVs (gemv.h), each with an AVX2+FMA body chosen at run time and a portable body for
// other CPUs. The row vector times a matrix keeps a block of kCols column accumulators in
// registers while the rows of B stream past; the matrix times a vector takes the dot products
// of four rows at once.
#include <algorithm>

#include "mithril/backends/cpu/gemv.h"

#include <type_traits>

#include "mithril/backends/cpu/avx2_read.h"
#include "mithril/backends/cpu/gemm.h"
#include "mithril/backends/cpu/convert.h"
#include "mithril/core/error.h"
#include "mithril/core/cpu_features.h"

namespace mithril::cpu {

namespace {

// 64 floats or 32 doubles: eight 256-bit accumulators.
template <typename T>
inline constexpr int64_t kCols = 256 / sizeof(T);

#define MITHRIL_GEMV_BODY                                                        \
  for (int64_t c = c0; c < c1; ++c) {                                            \
    const int64_t j0 = c * kCols<T>;                                             \
    if (j0 + kCols<T> <= n) {                                                    \
      T acc[kCols<T>] = {};                                                      \
      for (int64_t p = 0; p < k; ++p) {                                          \
        const T xp = x[p];                                                       \
        const T* row = b + p * ldb + j0;                                         \
        for (int64_t j = 0; j < kCols<T>; ++j) acc[j] += xp * row[j];            \
      }                                                                          \
      std::copy(acc, acc + kCols<T>, y + j0);                                    \
    } else {                                                                     \
      const int64_t w = n - j0;                                                  \
      T acc[kCols<T>] = {};                                                      \
      for (int64_t p = 0; p < k; ++p) {                                          \
        const T xp = x[p];                                                       \
        const T* row = b + p * ldb + j0;                                         \
        for (int64_t j = 0; j < w; ++j) acc[j] += xp * row[j];                   \
      }                                                                          \
      std::copy(acc, acc + w, y + j0);                                           \
    }                                                                            \
  }

template <typename T>
void gemv_blocks_portable(const T* x, const T* b, int64_t ldb, T* y, int64_t k, int64_t n, int64_t c0, int64_t c1) {
  MITHRIL_GEMV_BODY
}

#if defined(__x86_64__) || defined(__i386__)
template <typename T>
__attribute__((target("avx2,fma"))) void gemv_blocks_avx2(const T* x, const T* b, int64_t ldb, T* y, int64_t k, int64_t n,
                                                          int64_t c0, int64_t c1) {
  MITHRIL_GEMV_BODY
}
#endif
#undef MITHRIL_GEMV_BODY

template <typename T>
void gemv_rowvec_impl(const T* x, const T* b, int64_t ldb, T* y, int64_t k, int64_t n) {
  if (n <= 0) return;
  if (k == 0) {
    std::fill(y, y + n, T(0));
    return;
  }
  static const bool avx2 = cpu_has(Isa::avx2_fma);
  const int64_t blocks = (n + kCols<T> - 1) / kCols<T>;
  parallel_for(0, blocks, std::max<int64_t>(1, kMinParallelMacs / std::max<int64_t>(1, k * kCols<T>)),
               [&](int64_t c0, int64_t c1) {
#if defined(__x86_64__) || defined(__i386__)
                 if (avx2) return gemv_blocks_avx2(x, b, ldb, y, k, n, c0, c1);
#endif
                 gemv_blocks_portable(x, b, ldb, y, k, n, c0, c1);
               });
}

// The batch-1 product is bound by reading B, so a 16-bit B is streamed once in its stored form
// and widened a row segment at a time in L1.
void gemv_rowvec_16bit(DType b_type, const float* x, const uint16_t* b, int64_t ldb, float* y, int64_t k, int64_t n) {
  constexpr int64_t kSegment = 256;
  const int64_t col_blocks = (n + kSegment - 1) / kSegment;
  parallel_for(0, col_blocks, std::max<int64_t>(1, kMinParallelMacs / std::max<int64_t>(1, k * kSegment)),
               [&](int64_t c0, int64_t c1) {
                 alignas(64) float row[kSegment];
                 alignas(64) float acc[kSegment];
                 for (int64_t c = c0; c < c1; ++c) {
                   const int64_t j0 = c * kSegment, w = std::min(kSegment, n - j0);
                   std::fill(acc, acc + w, 0.0f);
                   for (int64_t p = 0; p < k; ++p) {
                     widen_to_f32(b_type, b + p * ldb + j0, row, w);
                     const float xp = x[p];
                     for (int64_t j = 0; j < w; ++j) acc[j] += xp * row[j];
                   }
                   std::copy(acc, acc + w, y + j0);
                 }
               });
}

}  // namespace

void gemv_rowvec(const float* x, const void* b, DType b_type, int64_t ldb, float* y, int64_t k, int64_t n) {
  MI_ASSERT(b_type == DType::f32 || b_type == DType::bf16 || b_type == DType::f16);
  if (b_type == DType::f32) gemv_rowvec_impl(x, static_cast<const float*>(b), ldb, y, k, n);
  else gemv_rowvec_16bit(b_type, x, static_cast<const uint16_t*>(b), ldb, y, k, n);
}
void gemv_rowvec(const double* x, const void* b, DType b_type, int64_t ldb, double* y, int64_t k, int64_t n) {
  MI_ASSERT(b_type == DType::f64);
  gemv_rowvec_impl(x, static_cast<const double*>(b), ldb, y, k, n);
}

// ---- y = A x: one dot product per row of A ----

namespace {

template <typename T>
void gemv_rows_portable(const void* a, DType a_type, int64_t lda, const T* x, T* y, int64_t r0, int64_t r1, int64_t k) {
  for (int64_t r = r0; r < r1; ++r) {
    T s = 0;
    if constexpr (std::is_same_v<T, float>) {
      if (a_type != DType::f32) {  // a row in 16 bits, widened on the fly
        const uint16_t* row = static_cast<const uint16_t*>(a) + r * lda;
        for (int64_t p = 0; p < k; ++p) s += (a_type == DType::bf16 ? bf16_to_float(row[p]) : f16_to_float(row[p])) * x[p];
        y[r] = s;
        continue;
      }
    }
    const T* row = static_cast<const T*>(a) + r * lda;
    for (int64_t p = 0; p < k; ++p) s += row[p] * x[p];
    y[r] = s;
  }
}

#if defined(__x86_64__) || defined(__i386__)
MI_AVX2_INLINE float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
MI_AVX2_INLINE double hsum(__m256d v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

// Rows r0..r1 four at a time: two accumulators per row (eight FMA chains) over the k steps,
// each row's stored values widened by R as they stream past.
template <typename R>
MI_AVX2 void gemv_rows_avx2(const typename R::Storage* a, int64_t lda, const typename R::Value* x, typename R::Value* y,
                            int64_t r0, int64_t r1, int64_t k) {
  using T = typename R::Value;
  using S = Simd<T>;
  using V = typename S::V;
  constexpr int L = S::kLanes;
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) {
    const typename R::Storage* row[4] = {a + r * lda, a + (r + 1) * lda, a + (r + 2) * lda, a + (r + 3) * lda};
    V acc[8];
    for (V& v : acc) v = S::zero();
    int64_t p = 0;
    for (; p + 2 * L <= k; p += 2 * L) {
      const V x0 = S::loadu(x + p), x1 = S::loadu(x + p + L);
      for (int i = 0; i < 4; ++i) {
        acc[2 * i] = S::fma(load_vec<R>(row[i] + p), x0, acc[2 * i]);
        acc[2 * i + 1] = S::fma(load_vec<R>(row[i] + p + L), x1, acc[2 * i + 1]);
      }
    }
    for (int i = 0; i < 4; ++i) {
      T s = hsum(S::add(acc[2 * i], acc[2 * i + 1]));
      for (int64_t q = p; q < k; ++q) s += R::one(row[i] + q) * x[q];
      y[r + i] = s;
    }
  }
  for (; r < r1; ++r) {
    const typename R::Storage* row = a + r * lda;
    V acc = S::zero();
    int64_t p = 0;
    for (; p + L <= k; p += L) acc = S::fma(load_vec<R>(row + p), S::loadu(x + p), acc);
    T s = hsum(acc);
    for (; p < k; ++p) s += R::one(row + p) * x[p];
    y[r] = s;
  }
}
#endif

template <typename T>
void gemv_rows_impl(const void* a, DType a_type, int64_t lda, const T* x, T* y, int64_t rows, int64_t k) {
  if (rows <= 0) return;
  static const bool avx2 = cpu_has(Isa::avx2_fma);
  parallel_for(0, rows, std::max<int64_t>(4, kMinParallelMacs / std::max<int64_t>(1, k)), [&](int64_t r0, int64_t r1) {
#if defined(__x86_64__) || defined(__i386__)
    if (avx2) {
      if constexpr (std::is_same_v<T, double>) {
        return gemv_rows_avx2<ReadF64>(static_cast<const double*>(a), lda, x, y, r0, r1, k);
      } else {
        if (a_type == DType::bf16) return gemv_rows_avx2<ReadBf16>(static_cast<const uint16_t*>(a), lda, x, y, r0, r1, k);
        if (a_type == DType::f16) return gemv_rows_avx2<ReadF16>(static_cast<const uint16_t*>(a), lda, x, y, r0, r1, k);
        return gemv_rows_avx2<ReadF32>(static_cast<const float*>(a), lda, x, y, r0, r1, k);
      }
    }
#endif
    gemv_rows_portable(a, a_type, lda, x, y, r0, r1, k);
  });
}

}  // namespace

void gemv_rows(const void* a, DType a_type, int64_t lda, const float* x, float* y, int64_t rows, int64_t k) {
  MI_ASSERT(a_type == DType::f32 || a_type == DType::bf16 || a_type == DType::f16);
  gemv_rows_impl(a, a_type, lda, x, y, rows, k);
}
void gemv_rows(const void* a, DType a_type, int64_t lda, const double* x, double* y, int64_t rows, int64_t k) {
  MI_ASSERT(a_type == DType::f64);
  gemv_rows_impl(a, a_type, lda, x, y, rows, k);
}

}  // namespace mithril::cpu
