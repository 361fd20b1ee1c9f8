// Typed wrappers over the OpenBLAS CBLAS calls used by the matmul and convolution kernels
// (row-major throughout), and the rule deciding who parallelises a batch of them.
#pragma once

#include <cblas.h>

#include <algorithm>
#include <cstdint>

#include "mithril/core/thread_pool.h"

namespace mithril::cpu {

// OpenBLAS runs a GEMM whose m*n*k is at most 65536 * GEMM_MULTITHREAD_THRESHOLD (4 by
// default) on the calling thread only. Batches of such calls are spread over our own pool;
// larger calls are issued one after another and OpenBLAS threads each of them.
inline constexpr int64_t kBlasThreadedMacs = int64_t{1} << 18;
// Total multiply-adds below which a batch of small products stays on one thread.
inline constexpr int64_t kMinParallelMacs = int64_t{1} << 15;

// Runs fn(begin, end) over [0, items), where each item issues BLAS calls of at most
// `macs_per_call` multiply-adds and `macs_per_item` in total: serially when OpenBLAS threads
// the calls itself, otherwise split over our pool (small batches stay on one thread).
template <typename F>
void run_batch(int64_t items, int64_t macs_per_call, int64_t macs_per_item, F&& fn) {
  if (macs_per_call > kBlasThreadedMacs) {
    if (items > 0) fn(int64_t{0}, items);
    return;
  }
  parallel_for(0, items, std::max<int64_t>(1, kMinParallelMacs / std::max<int64_t>(1, macs_per_item)), fn);
}

inline CBLAS_TRANSPOSE blas_trans(bool t) { return t ? CblasTrans : CblasNoTrans; }

// C (m x n) = alpha * op(A) (m x k) * op(B) (k x n) + beta * C; beta == 0 never reads C.
inline void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, blas_trans(ta), blas_trans(tb), static_cast<blasint>(m), static_cast<blasint>(n),
              static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c,
              static_cast<blasint>(ldc));
}
inline void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
                 const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, blas_trans(ta), blas_trans(tb), static_cast<blasint>(m), static_cast<blasint>(n),
              static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c,
              static_cast<blasint>(ldc));
}

// y = op(A) x with A (rows x cols) row-major; beta == 0 never reads y.
inline void gemv(bool ta, int64_t rows, int64_t cols, const float* a, int64_t lda, const float* x, float* y) {
  cblas_sgemv(CblasRowMajor, blas_trans(ta), static_cast<blasint>(rows), static_cast<blasint>(cols), 1.0f, a,
              static_cast<blasint>(lda), x, 1, 0.0f, y, 1);
}
inline void gemv(bool ta, int64_t rows, int64_t cols, const double* a, int64_t lda, const double* x, double* y) {
  cblas_dgemv(CblasRowMajor, blas_trans(ta), static_cast<blasint>(rows), static_cast<blasint>(cols), 1.0, a,
              static_cast<blasint>(lda), x, 1, 0.0, y, 1);
}

}  // namespace mithril::cpu
