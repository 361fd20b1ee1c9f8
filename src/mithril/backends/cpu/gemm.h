// Our GEMM: C = sum_j op(A_j) op(B_j) (+ C), with a bias/relu epilogue, for float32 and float64.
//
// With AVX2+FMA (chosen at run time) it is a packed, cache-blocked GEMM of our own in the
// BLIS arrangement (gemm_avx2.cpp): B is packed into panels of kNr columns that stay in L3, A
// into micro-panels of 6 rows that stay in L2, and a 6 x kNr register tile accumulates a block
// of k. Being ours it can do what a BLAS call cannot:
//   - a sum of products is one GEMM over their concatenated k (the packing reads each product's
//     operands in place), so the 64 per-step weight gradients of an unrolled recurrence or a
//     bias gradient summed over steps cost one pass over C, not 64;
//   - transposed operands are read by the packing, never copied;
//   - the epilogue (bias add, relu) runs on each register tile as it is stored, so C is written
//     once;
//   - a tile runs on the calling thread and never starts threads of its own: `gemm` splits a
//     product over our pool, so the only threads are the pool's.
// Without AVX2 the same contract is kept with single-threaded OpenBLAS calls and a loop for the
// epilogue.
//
// Threads: OpenBLAS's own workers spin after each call and, on two cores, fought our pool (and
// any OpenMP runtime in the process) for the CPU: interleaving OpenBLAS-threaded GEMMs with
// other threaded work cost up to a scheduler tick (~8 ms) per call. A large product is cut into
// one column (or row) block per pool thread instead, each block one gemm_tile.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>

#include "mithril/core/dtype.h"
#include "mithril/core/thread_pool.h"

namespace mithril::cpu {

// One product op(A) op(B): op(A) is m x k, A stored row-major as (m, k) with row stride lda, or
// as (k, m) when trans_a (read transposed in place); op(B) is k x n, B stored as (k, n), or as
// (n, k) when trans_b. Rows and columns are addressed in the full product: a block of C reads
// the matching rows of op(A) and columns of op(B). Operands are stored as T, except that a
// float32 product may read either operand stored as bf16 or f16 (a_type / b_type), widened to
// float32 as it is packed (the AVX2 engine) or into a float32 copy (the OpenBLAS fallback).
template <typename T>
struct GemmProduct {
  const void* a = nullptr;
  int64_t lda = 0;
  bool trans_a = false;
  const void* b = nullptr;
  int64_t ldb = 0;
  bool trans_b = false;
  int64_t k = 0;
  DType a_type = dtype_of_v<T>;
  DType b_type = dtype_of_v<T>;
};

// Applied to every element of C after the last product, in this order: + bias (bias[j] for
// column j, or bias[0] for every element when scalar_bias), then relu (NaN stays NaN).
template <typename T>
struct GemmEpilogue {
  const T* bias = nullptr;
  bool scalar_bias = false;
  bool relu = false;
  bool empty() const { return bias == nullptr && !relu; }
  // The epilogue on one element of column `col`.
  T apply(T v, int64_t col) const {
    if (bias) v = v + bias[scalar_bias ? 0 : col];
    if (relu) v = v < T(0) ? T(0) : v;
    return v;
  }
};

// C[i0:i1, j0:j1] (row stride ldc) = (accumulate ? C : 0) + sum of the products, then the
// epilogue; on the calling thread.
void gemm_tile(std::span<const GemmProduct<float>> products, int64_t i0, int64_t i1, int64_t j0, int64_t j1,
               bool accumulate, float* c, int64_t ldc, const GemmEpilogue<float>& epilogue = {});
void gemm_tile(std::span<const GemmProduct<double>> products, int64_t i0, int64_t i1, int64_t j0, int64_t j1,
               bool accumulate, double* c, int64_t ldc, const GemmEpilogue<double>& epilogue = {});

// The name of the engine gemm_tile uses on this CPU ("avx2" or "openblas"), for logs and benchmarks.
const char* gemm_engine();

// Products with at least this many multiply-adds are split over the pool; smaller ones run on
// the calling thread (a wake-up of the pool costs about as much as 2^16 FMAs).
inline constexpr int64_t kGemmThreadedMacs = int64_t{1} << 17;
// Total multiply-adds below which a batch of small products stays on one thread.
inline constexpr int64_t kMinParallelMacs = int64_t{1} << 15;

// Runs fn(begin, end) over [0, items), where each item issues GEMMs of at most `macs_per_call`
// multiply-adds and `macs_per_item` in total: items are spread over the pool when there are at
// least as many as threads or the calls are small (each call then runs on its thread),
// otherwise they run in order and each large call splits itself.
template <typename F>
void run_batch(int64_t items, int64_t macs_per_call, int64_t macs_per_item, F&& fn) {
  if (items <= 0) return;
  if (macs_per_call >= kGemmThreadedMacs && items < num_threads()) {
    fn(int64_t{0}, items);
    return;
  }
  parallel_for(0, items, std::max<int64_t>(1, kMinParallelMacs / std::max<int64_t>(1, macs_per_item)), fn);
}

// Runs block(i0, i1, j0, j1) over the blocks of an (m x n) product of `macs` multiply-adds: one
// block when it is small (or there is one thread), else the longer of m and n is cut into one
// block per thread, in whole register tiles (16 columns, 6 rows).
template <typename F>
void for_gemm_blocks(int64_t m, int64_t n, int64_t macs, F&& block) {
  if (macs < kGemmThreadedMacs || num_threads() == 1) {
    block(int64_t{0}, m, int64_t{0}, n);
  } else if (n >= m) {
    parallel_for(0, (n + 15) / 16, 1, [&](int64_t t0, int64_t t1) { block(int64_t{0}, m, t0 * 16, std::min(n, t1 * 16)); });
  } else {
    parallel_for(0, (m + 5) / 6, 1, [&](int64_t t0, int64_t t1) { block(t0 * 6, std::min(m, t1 * 6), int64_t{0}, n); });
  }
}

// C (m x n, row stride ldc) = (accumulate ? C : 0) + sum of the products, then the epilogue,
// split over the pool.
template <typename T>
void gemm(std::span<const GemmProduct<T>> products, int64_t m, int64_t n, bool accumulate, T* c, int64_t ldc,
          const GemmEpilogue<T>& epilogue = {}) {
  int64_t k = 0;
  for (const auto& p : products) k += p.k;
  for_gemm_blocks(m, n, m * n * k, [&](int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
    gemm_tile(products, i0, i1, j0, j1, accumulate, c, ldc, epilogue);
  });
}

// One product: C (m x n) = op(A) (m x k) op(B) (k x n) (+ C when accumulate).
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb,
          bool accumulate, T* c, int64_t ldc) {
  const GemmProduct<T> p{a, lda, trans_a, b, ldb, trans_b, k};
  gemm<T>(std::span<const GemmProduct<T>>(&p, 1), m, n, accumulate, c, ldc);
}

}  // namespace mithril::cpu
