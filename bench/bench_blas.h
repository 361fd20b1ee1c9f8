// OpenBLAS GEMM called directly, the reference the benchmarks compare our MatrixMultiply with:
// C = A B for square row-major n x n matrices, with OpenBLAS's own threads, one per pool thread.
// The kernel registry sets OpenBLAS to one thread for the library's own calls (see
// backends/cpu/blas.h), so the thread count is raised for the call and set back after it.
#pragma once

#include <cblas.h>

#include "mithril/core/thread_pool.h"

namespace mithril::bench {

inline void openblas_gemm(const float* a, const float* b, float* c, int n) {
  openblas_set_num_threads(num_threads());
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
  openblas_set_num_threads(1);
}

inline void openblas_gemm(const double* a, const double* b, double* c, int n) {
  openblas_set_num_threads(num_threads());
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, a, n, b, n, 0.0, c, n);
  openblas_set_num_threads(1);
}

}  // namespace mithril::bench
