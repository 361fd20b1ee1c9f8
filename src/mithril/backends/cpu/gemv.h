// Matrix-vector products of our own, for batch-1 layers: a GEMM with m = 1 packs the whole
// matrix first and costs several times more, and OpenBLAS's GEMV runs on one thread inside our
// split. Each streams the matrix once, split over the pool by column blocks or rows.
#pragma once

#include <cstdint>

#include "mithril/core/dtype.h"

namespace mithril::cpu {

// The matrix is stored as its `type`: the compute type (f32 or f64), or for a float32 product
// also bf16 or f16, widened to float32 as it streams past.

// y (n) = x (k) @ B (k x n), B row-major with row stride ldb: the batch-1 x @ w.
void gemv_rowvec(const float* x, const void* b, DType b_type, int64_t ldb, float* y, int64_t k, int64_t n);
void gemv_rowvec(const double* x, const void* b, DType b_type, int64_t ldb, double* y, int64_t k, int64_t n);

// y (rows) = A (rows x k, row stride lda) @ x (k): a matrix times a column vector, and the
// batch-1 x @ w^T of a Linear (one dot product per row of w).
void gemv_rows(const void* a, DType a_type, int64_t lda, const float* x, float* y, int64_t rows, int64_t k);
void gemv_rows(const void* a, DType a_type, int64_t lda, const double* x, double* y, int64_t rows, int64_t k);

}  // namespace mithril::cpu
