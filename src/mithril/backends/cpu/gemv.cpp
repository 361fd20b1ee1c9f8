// The row-vector GEMV y = x @ B (blas.h), with an AVX2+FMA body chosen at run time and a
// portable body for other CPUs. Both are the same loop: for a block of kCols columns, the
// accumulators stay in registers while the rows of B stream past.
#include <algorithm>

#include "mithril/backends/cpu/blas.h"
#include "mithril/core/cpu_features.h"

namespace mithril::cpu {

void set_blas_single_threaded() {
  static const bool done = [] {
    openblas_set_num_threads(1);
    return true;
  }();
  (void)done;
}

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

}  // namespace

void gemv_rowvec(const float* x, const float* b, int64_t ldb, float* y, int64_t k, int64_t n) {
  gemv_rowvec_impl(x, b, ldb, y, k, n);
}
void gemv_rowvec(const double* x, const double* b, int64_t ldb, double* y, int64_t k, int64_t n) {
  gemv_rowvec_impl(x, b, ldb, y, k, n);
}

}  // namespace mithril::cpu
