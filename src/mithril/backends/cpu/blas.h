// Typed wrappers over the OpenBLAS CBLAS calls (row-major throughout): the GEMM of gemm.h's
// engine on CPUs without AVX2 and the matrix-vector product, plus our own GEMV for a row vector
// times a matrix.
//
// Threads: OpenBLAS is set to one thread (set_blas_single_threaded) and every parallel split
// is ours (see gemm.h).
#pragma once

#include <cblas.h>

#include <cstdint>

#include "mithril/backends/cpu/gemm.h"

namespace mithril::cpu {

// Makes OpenBLAS single-threaded (once; called when the kernel registry is built).
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

// y = op(A) x with A (rows x cols) row-major; never reads y.
inline void blas_gemv(bool ta, int64_t rows, int64_t cols, const float* a, int64_t lda, const float* x, float* y) {
  cblas_sgemv(CblasRowMajor, blas_trans(ta), static_cast<blasint>(rows), static_cast<blasint>(cols), 1.0f, a,
              static_cast<blasint>(lda), x, 1, 0.0f, y, 1);
}
inline void blas_gemv(bool ta, int64_t rows, int64_t cols, const double* a, int64_t lda, const double* x, double* y) {
  cblas_dgemv(CblasRowMajor, blas_trans(ta), static_cast<blasint>(rows), static_cast<blasint>(cols), 1.0, a,
              static_cast<blasint>(lda), x, 1, 0.0, y, 1);
}

// y (n) = x (k) @ B (k x n), B row-major with row stride ldb: the batch-1 Linear. Streams B
// once, a block of columns at a time held in vector registers, split over the pool by column
// blocks. (A GEMM with m = 1 packs B first and costs several times more.)
void gemv_rowvec(const float* x, const float* b, int64_t ldb, float* y, int64_t k, int64_t n);
void gemv_rowvec(const double* x, const double* b, int64_t ldb, double* y, int64_t k, int64_t n);

}  // namespace mithril::cpu
