// Typed wrappers over the OpenBLAS CBLAS GEMM (row-major), the engine of gemm.h on CPUs without
// AVX2+FMA.
//
// Threads: OpenBLAS is set to one thread (set_blas_single_threaded) and every parallel split
// is ours (see gemm.h).
#pragma once

#include <cblas.h>

#include <cstdint>

namespace mithril::cpu {

// Makes OpenBLAS single-threaded (once; when the fallback engine is chosen): every split is ours.
void set_blas_single_threaded();

inline CBLAS_TRANSPOSE blas_trans(bool t) { return t ? CblasTrans : CblasNoTrans; }

// One single-threaded CBLAS GEMM, C = alpha op(A) op(B) + beta C (the engine without AVX2).
inline void gemm_call(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                      const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, blas_trans(ta), blas_trans(tb), static_cast<blasint>(m), static_cast<blasint>(n),
              static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c,
              static_cast<blasint>(ldc));
}
inline void gemm_call(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
                      const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, blas_trans(ta), blas_trans(tb), static_cast<blasint>(m), static_cast<blasint>(n),
              static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c,
              static_cast<blasint>(ldc));
}

}  // namespace mithril::cpu
