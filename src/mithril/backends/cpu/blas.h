// Typed wrappers over the OpenBLAS CBLAS calls used by the matmul and convolution kernels
// (row-major throughout), our own GEMV for a row vector times a matrix, and the rule deciding
// how a batch of products is spread over threads.
//
// Threads: OpenBLAS is set to one thread (set_blas_single_threaded) and every parallel split
// is ours. Otherwise OpenBLAS's own workers, which spin after each call, compete with our pool
// (and with oneDNN/OpenMP workers in the same process) for the same cores: measured on two cores,
// interleaving OpenBLAS-threaded GEMMs with other threaded work cost up to a scheduler tick
// (~8 ms) per call. A large product is cut into one column (or row) block per thread instead.
#pragma once

#include <cblas.h>

#include <algorithm>
#include <cstdint>

#include "mithril/core/thread_pool.h"

namespace mithril::cpu {

// Products with at least this many multiply-adds are split over the pool; smaller ones run on
// the calling thread (a wake-up of the pool costs about as much as 2^16 FMAs).
inline constexpr int64_t kBlasThreadedMacs = int64_t{1} << 17;
// Total multiply-adds below which a batch of small products stays on one thread.
inline constexpr int64_t kMinParallelMacs = int64_t{1} << 15;

// Makes OpenBLAS single-threaded (once; called when the kernel registry is built).
void set_blas_single_threaded();

// Runs fn(begin, end) over [0, items), where each item issues BLAS calls of at most
// `macs_per_call` multiply-adds and `macs_per_item` in total: items are spread over the pool
// when there are at least as many as threads or the calls are small (each call then runs on
// its thread), otherwise they run in order and each large call splits itself.
template <typename F>
void run_batch(int64_t items, int64_t macs_per_call, int64_t macs_per_item, F&& fn) {
  if (items <= 0) return;
  if (macs_per_call >= kBlasThreadedMacs && items < num_threads()) {
    fn(int64_t{0}, items);
    return;
  }
  parallel_for(0, items, std::max<int64_t>(1, kMinParallelMacs / std::max<int64_t>(1, macs_per_item)), fn);
}

inline CBLAS_TRANSPOSE blas_trans(bool t) { return t ? CblasTrans : CblasNoTrans; }

// One single-threaded CBLAS GEMM.
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

// Runs block(i0, i1, j0, j1) over the blocks of an (m x n) product of `macs` multiply-adds: one
// block when it is small (or there is one thread), else the longer of m and n is cut into one
// block per thread (blocks of whole 16-column / 8-row tiles), each computed by single-threaded
// GEMMs.
template <typename F>
void for_gemm_blocks(int64_t m, int64_t n, int64_t macs, F&& block) {
  if (macs < kBlasThreadedMacs || num_threads() == 1) {
    block(int64_t{0}, m, int64_t{0}, n);
  } else if (n >= m) {
    parallel_for(0, (n + 15) / 16, 1, [&](int64_t t0, int64_t t1) { block(int64_t{0}, m, t0 * 16, std::min(n, t1 * 16)); });
  } else {
    parallel_for(0, (m + 7) / 8, 1, [&](int64_t t0, int64_t t1) { block(t0 * 8, std::min(m, t1 * 8), int64_t{0}, n); });
  }
}

// The block (i0..i1, j0..j1) of C = alpha * op(A) op(B) + beta * C as one single-threaded GEMM.
template <typename T>
void gemm_block(bool ta, bool tb, int64_t i0, int64_t i1, int64_t j0, int64_t j1, int64_t k, T alpha, const T* a, int64_t lda,
                const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  gemm_call(ta, tb, i1 - i0, j1 - j0, k, alpha, ta ? a + i0 : a + i0 * lda, lda, tb ? b + j0 * ldb : b + j0, ldb, beta,
            c + i0 * ldc + j0, ldc);
}

// C (m x n) = alpha * op(A) (m x k) * op(B) (k x n) + beta * C; beta == 0 never reads C.
template <typename T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b, int64_t ldb,
          T beta, T* c, int64_t ldc) {
  for_gemm_blocks(m, n, m * n * k, [&](int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
    gemm_block(ta, tb, i0, i1, j0, j1, k, alpha, a, lda, b, ldb, beta, c, ldc);
  });
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
