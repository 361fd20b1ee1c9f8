// The AVX2+FMA GEMM engine behind gemm_tile (gemm.h): packing, the 6 x kNr register tile and
// the cache-blocked loops around it, for float32 (6 x 16) and float64 (6 x 8).
//
// Loop nest (BLIS): for each kNc-column block of C, for each kKc-long chunk of the concatenated
// k of all products, B's chunk is packed into column panels ([p][kNr], kKc x kNr each, kept in
// L1 by the tile loop) and, for each kMc-row block, A's chunk into row panels ([p][kMr], kept in
// L2); then every kMr x kNr tile of the block runs the micro-kernel over the chunk. A block of
// few rows (a batch of 128) takes the chunk loop outermost instead: A is packed once per chunk
// and B a few panels at a time, right before their tiles (see the blocking constants). The tile
// accumulates in twelve vector registers (six rows, two vectors of columns); the first chunk
// overwrites C (unless accumulating), later ones add to it, and the last applies the epilogue.
// Chunks may span products: the packing reads each product's own operands, so a sum of
// products needs no concatenated copies and C is loaded and stored once per chunk of work.
//
// Everything here is compiled for AVX2+FMA(+F16C) through function attributes (MI_AVX2, avx2_read.h) (never for the whole
// file, so no inline function of a shared header is emitted with AVX2 code); gemm.cpp calls it
// only when the CPU has AVX2+FMA.
#include "mithril/backends/cpu/gemm_avx2.h"

#include "mithril/backends/cpu/avx2_read.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <new>
#include <type_traits>

namespace mithril::cpu {
namespace {

constexpr int kMr = 6;  // rows of the register tile
template <typename T>
constexpr int kNr = 2 * Simd<T>::kLanes;  // columns of the register tile: two vectors

// Cache blocking (L1 32 KiB, L2 512 KiB per core, L3 shared), measured on the 2-core EPYC
// machines with each candidate alternated in fresh processes:
//   - large products (more than kSmallM rows in the block): kKc-long chunks, A blocks of kMc
//     rows (72 x 512 floats = 144 KiB, in L2), B blocks of kNc columns (in L3). kKc = 512 for
//     float32 was 5% faster than 256 at 1024^2 and 2048^2 on two threads: C is loaded and
//     stored once per chunk, and with both cores streaming C that traffic is what limits.
//   - few rows (at most kSmallM, a training batch): A is packed once per chunk of
//     kSmallKc and stays in L2 (<= 256 KiB), and B is packed kSmallGroup panels at a time
//     (128 KiB, in L2) right before the tiles that use it. Packing B is the cost at such m (a
//     128 x 2048 x 1024 product spent 30% of its time packing B panel by panel); rows of eight
//     panels are 512 contiguous bytes of a row-major B, which the prefetchers stream.
template <typename T>
constexpr int64_t kKc = sizeof(T) == 4 ? 512 : 256;
constexpr int64_t kMc = 72;
constexpr int64_t kNc = 2048;
constexpr int64_t kSmallKc = 256;
template <typename T>
constexpr int64_t kSmallM = (256 << 10) / (kSmallKc * static_cast<int64_t>(sizeof(T)));  // 256 f32, 128 f64 rows
constexpr int64_t kSmallGroup = 8;

// ---- the epilogue on one vector (full tiles; partial tiles use GemmEpilogue::apply) ----

// Stores one row of a full tile: (load_c ? C : 0) + acc, then the epilogue when ep is set.
template <typename T>
MI_AVX2_INLINE void store_row(T* c, typename Simd<T>::V v0, typename Simd<T>::V v1, bool load_c, const GemmEpilogue<T>* ep,
                              int64_t col) {
  using S = Simd<T>;
  constexpr int L = S::kLanes;
  if (load_c) {
    v0 = S::add(v0, S::loadu(c));
    v1 = S::add(v1, S::loadu(c + L));
  }
  if (ep) {
    if (ep->bias) {
      if (ep->scalar_bias) {
        const typename S::V b = S::broadcast(ep->bias);
        v0 = S::add(v0, b);
        v1 = S::add(v1, b);
      } else {
        v0 = S::add(v0, S::loadu(ep->bias + col));
        v1 = S::add(v1, S::loadu(ep->bias + col + L));
      }
    }
    if (ep->relu) {
      v0 = S::relu(v0);
      v1 = S::relu(v1);
    }
  }
  S::storeu(c, v0);
  S::storeu(c + L, v1);
}

// ---- the micro-kernel: C tile (kMr x kNr at c, row stride ldc) from kc steps of packed panels ----
//
// The loop over k is inline assembly: compiled from intrinsics, a 4-step unrolled loop with
// twelve accumulators, two B vectors and the broadcasts needs all sixteen vector registers, and
// GCC spilled accumulators to the stack (measured ~10% slower than OpenBLAS). Written out, each
// step is two aligned loads of B (ymm0, ymm1), six broadcasts of A alternating ymm2 and ymm3,
// and twelve FMAs into the accumulators (operands, so the compiler keeps them in the other
// twelve registers); the A panel, which streams from L2, is prefetched 16 steps ahead.

// One step of the float32 kernel, P = 0..3 within the unrolled loop (A 24 bytes/step, B 64).
#define MI_F32_STEP(P)                              \
  "vmovaps " #P "*64(%[b]), %%ymm0\n\t"              \
  "vmovaps " #P "*64+32(%[b]), %%ymm1\n\t"           \
  "vbroadcastss " #P "*24(%[a]), %%ymm2\n\t"         \
  "vbroadcastss " #P "*24+4(%[a]), %%ymm3\n\t"       \
  "vfmadd231ps %%ymm0, %%ymm2, %[c00]\n\t"            \
  "vfmadd231ps %%ymm1, %%ymm2, %[c01]\n\t"            \
  "vbroadcastss " #P "*24+8(%[a]), %%ymm2\n\t"       \
  "vfmadd231ps %%ymm0, %%ymm3, %[c10]\n\t"            \
  "vfmadd231ps %%ymm1, %%ymm3, %[c11]\n\t"            \
  "vbroadcastss " #P "*24+12(%[a]), %%ymm3\n\t"      \
  "vfmadd231ps %%ymm0, %%ymm2, %[c20]\n\t"            \
  "vfmadd231ps %%ymm1, %%ymm2, %[c21]\n\t"            \
  "vbroadcastss " #P "*24+16(%[a]), %%ymm2\n\t"      \
  "vfmadd231ps %%ymm0, %%ymm3, %[c30]\n\t"            \
  "vfmadd231ps %%ymm1, %%ymm3, %[c31]\n\t"            \
  "vbroadcastss " #P "*24+20(%[a]), %%ymm3\n\t"      \
  "vfmadd231ps %%ymm0, %%ymm2, %[c40]\n\t"            \
  "vfmadd231ps %%ymm1, %%ymm2, %[c41]\n\t"            \
  "vfmadd231ps %%ymm0, %%ymm3, %[c50]\n\t"            \
  "vfmadd231ps %%ymm1, %%ymm3, %[c51]\n\t"

// The same for float64 (A 48 bytes/step, B 64).
#define MI_F64_STEP(P)                              \
  "vmovapd " #P "*64(%[b]), %%ymm0\n\t"              \
  "vmovapd " #P "*64+32(%[b]), %%ymm1\n\t"           \
  "vbroadcastsd " #P "*48(%[a]), %%ymm2\n\t"         \
  "vbroadcastsd " #P "*48+8(%[a]), %%ymm3\n\t"       \
  "vfmadd231pd %%ymm0, %%ymm2, %[c00]\n\t"            \
  "vfmadd231pd %%ymm1, %%ymm2, %[c01]\n\t"            \
  "vbroadcastsd " #P "*48+16(%[a]), %%ymm2\n\t"      \
  "vfmadd231pd %%ymm0, %%ymm3, %[c10]\n\t"            \
  "vfmadd231pd %%ymm1, %%ymm3, %[c11]\n\t"            \
  "vbroadcastsd " #P "*48+24(%[a]), %%ymm3\n\t"      \
  "vfmadd231pd %%ymm0, %%ymm2, %[c20]\n\t"            \
  "vfmadd231pd %%ymm1, %%ymm2, %[c21]\n\t"            \
  "vbroadcastsd " #P "*48+32(%[a]), %%ymm2\n\t"      \
  "vfmadd231pd %%ymm0, %%ymm3, %[c30]\n\t"            \
  "vfmadd231pd %%ymm1, %%ymm3, %[c31]\n\t"            \
  "vbroadcastsd " #P "*48+40(%[a]), %%ymm3\n\t"      \
  "vfmadd231pd %%ymm0, %%ymm2, %[c40]\n\t"            \
  "vfmadd231pd %%ymm1, %%ymm2, %[c41]\n\t"            \
  "vfmadd231pd %%ymm0, %%ymm3, %[c50]\n\t"            \
  "vfmadd231pd %%ymm1, %%ymm3, %[c51]\n\t"

#define MI_GEMM_OPERANDS                                                                                      \
  : [a] "+r"(a), [b] "+r"(b), [k4] "+r"(k4), [c00] "+x"(c00), [c01] "+x"(c01), [c10] "+x"(c10),              \
    [c11] "+x"(c11), [c20] "+x"(c20), [c21] "+x"(c21), [c30] "+x"(c30), [c31] "+x"(c31), [c40] "+x"(c40),     \
    [c41] "+x"(c41), [c50] "+x"(c50), [c51] "+x"(c51)                                                         \
  :                                                                                                           \
  : "xmm0", "xmm1", "xmm2", "xmm3", "cc", "memory"

// Full tile: a has kMr values per step, b has kNr; the result goes to c as store_row says.
template <typename T>
MI_AVX2 void micro_kernel(int64_t kc, const T* a, const T* b, T* c, int64_t ldc, bool load_c, const GemmEpilogue<T>* ep,
                          int64_t col) {
  using S = Simd<T>;
  using V = typename S::V;
  constexpr int L = S::kLanes;
  V c00 = S::zero(), c01 = S::zero(), c10 = S::zero(), c11 = S::zero(), c20 = S::zero(), c21 = S::zero();
  V c30 = S::zero(), c31 = S::zero(), c40 = S::zero(), c41 = S::zero(), c50 = S::zero(), c51 = S::zero();

  for (int i = 0; i < kMr; ++i) {  // the tile of C is needed at the end: start fetching it now
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + kNr<T> - 1), _MM_HINT_T0);
  }
  int64_t k4 = kc / 4;
  if (k4 > 0) {
    if constexpr (sizeof(T) == 4) {
      asm volatile(
          "1:\n\t"
          "prefetcht0 384(%[a])\n\t" MI_F32_STEP(0) MI_F32_STEP(1) "prefetcht0 448(%[a])\n\t" MI_F32_STEP(2) MI_F32_STEP(3)
          "add $96, %[a]\n\t"
          "add $256, %[b]\n\t"
          "dec %[k4]\n\t"
          "jnz 1b\n\t" MI_GEMM_OPERANDS);
    } else {
      asm volatile(
          "1:\n\t"
          "prefetcht0 768(%[a])\n\t" MI_F64_STEP(0) "prefetcht0 832(%[a])\n\t" MI_F64_STEP(1)
          "prefetcht0 896(%[a])\n\t" MI_F64_STEP(2) MI_F64_STEP(3)
          "add $192, %[a]\n\t"
          "add $256, %[b]\n\t"
          "dec %[k4]\n\t"
          "jnz 1b\n\t" MI_GEMM_OPERANDS);
    }
  }
  for (int64_t p = 4 * (kc / 4); p < kc; ++p) {
    const V b0 = S::load(b), b1 = S::load(b + L);
    V x0 = S::broadcast(a + 0), x1 = S::broadcast(a + 1);
    c00 = S::fma(x0, b0, c00), c01 = S::fma(x0, b1, c01), c10 = S::fma(x1, b0, c10), c11 = S::fma(x1, b1, c11);
    x0 = S::broadcast(a + 2), x1 = S::broadcast(a + 3);
    c20 = S::fma(x0, b0, c20), c21 = S::fma(x0, b1, c21), c30 = S::fma(x1, b0, c30), c31 = S::fma(x1, b1, c31);
    x0 = S::broadcast(a + 4), x1 = S::broadcast(a + 5);
    c40 = S::fma(x0, b0, c40), c41 = S::fma(x0, b1, c41), c50 = S::fma(x1, b0, c50), c51 = S::fma(x1, b1, c51);
    a += kMr;
    b += kNr<T>;
  }
  store_row<T>(c, c00, c01, load_c, ep, col);
  store_row<T>(c + ldc, c10, c11, load_c, ep, col);
  store_row<T>(c + 2 * ldc, c20, c21, load_c, ep, col);
  store_row<T>(c + 3 * ldc, c30, c31, load_c, ep, col);
  store_row<T>(c + 4 * ldc, c40, c41, load_c, ep, col);
  store_row<T>(c + 5 * ldc, c50, c51, load_c, ep, col);
}
#undef MI_GEMM_OPERANDS
#undef MI_F64_STEP
#undef MI_F32_STEP

// A tile of mr x nr (at most kMr x kNr) at the edge of C: computed in full into a local tile
// (the packed panels are zero-padded), then the valid part merged into C.
template <typename T>
MI_AVX2 void edge_kernel(int64_t kc, const T* a, const T* b, T* c, int64_t ldc, int64_t mr, int64_t nr, bool load_c,
                         const GemmEpilogue<T>* ep, int64_t col) {
  constexpr int NR = kNr<T>;
  alignas(64) T tile[kMr * NR];
  micro_kernel<T>(kc, a, b, tile, NR, false, nullptr, 0);
  for (int64_t i = 0; i < mr; ++i) {
    T* row = c + i * ldc;
    for (int64_t j = 0; j < nr; ++j) {
      T v = load_c ? row[j] + tile[i * NR + j] : tile[i * NR + j];
      row[j] = ep ? ep->apply(v, col + j) : v;
    }
  }
}

// ---- transposes for packing ----

// r[i] holds row i of an 8 x 8 block; afterwards r[p] holds column p.
MI_AVX2_INLINE void transpose8(__m256 r[8]) {
  __m256 t[8], s[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int h = 0; h < 2; ++h) {  // rows 0-3 and rows 4-7
    s[4 * h + 0] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0x44);
    s[4 * h + 1] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0xEE);
    s[4 * h + 2] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0x44);
    s[4 * h + 3] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_permute2f128_ps(s[i], s[4 + i], 0x20);
    r[4 + i] = _mm256_permute2f128_ps(s[i], s[4 + i], 0x31);
  }
}

// r[i] holds row i of a 4 x 4 block; afterwards r[p] holds column p.
MI_AVX2_INLINE void transpose4(__m256d r[4]) {
  const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
  const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
  r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
  r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
  r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
  r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}

// ---- packing ----
// A piece is the part of one product that falls in a chunk: its k indices q0..q0+len, placed at
// steps off..off+len of the chunk (a chunk has kc steps).

template <typename T>
struct Piece {
  const GemmProduct<T>* product;
  int64_t q0, len, off;
};

// The packing reads operands through the storage readers of avx2_read.h: float32 products may
// have operands stored in 16 bits (bf16, f16), widened as they are packed, so a 16-bit model
// reads its weights in 16 bits and computes in float32 registers.
template <typename R, typename T>
const typename R::Storage* a_data(const GemmProduct<T>& pr) {
  return static_cast<const typename R::Storage*>(pr.a);
}
template <typename R, typename T>
const typename R::Storage* b_data(const GemmProduct<T>& pr) {
  return static_cast<const typename R::Storage*>(pr.b);
}

// op(A)[i][q] and op(B)[q][j] one at a time (edge panels).
template <typename R, typename T>
T a_value(const GemmProduct<T>& pr, int64_t i, int64_t q) {
  const auto* a = a_data<R>(pr);
  return R::one(pr.trans_a ? a + q * pr.lda + i : a + i * pr.lda + q);
}
template <typename R, typename T>
T b_value(const GemmProduct<T>& pr, int64_t q, int64_t j) {
  const auto* b = b_data<R>(pr);
  return R::one(pr.trans_b ? b + j * pr.ldb + q : b + q * pr.ldb + j);
}

// Six rows of op(A) (rows r..r+6, all valid) into one panel d ([p][kMr]), steps 0..len of the piece.
template <typename R>
MI_AVX2 void pack_a_panel(const GemmProduct<float>& pr, int64_t r, int64_t q0, int64_t len, float* d) {
  const typename R::Storage* a = a_data<R>(pr);
  if (pr.trans_a) {  // column q of op(A) is contiguous: six values per step
    const typename R::Storage* src = a + q0 * pr.lda + r;
    for (int64_t p = 0; p < len; ++p) {
      const typename R::Storage* col = src + p * pr.lda;
      float* out = d + p * kMr;
      if constexpr (std::is_same_v<R, ReadF32>) {
        _mm_storeu_ps(out, _mm_loadu_ps(col));
        // an 8-byte move with no alignment requirement (movq), for values 4 and 5
        _mm_storel_epi64(reinterpret_cast<__m128i*>(out + 4), _mm_loadl_epi64(reinterpret_cast<const __m128i*>(col + 4)));
      } else {
        for (int i = 0; i < kMr; ++i) out[i] = R::one(col + i);
      }
    }
    return;
  }
  const typename R::Storage* rows[kMr];
  for (int i = 0; i < kMr; ++i) rows[i] = a + (r + i) * pr.lda + q0;
  int64_t p = 0;
  for (; p + 8 <= len; p += 8) {  // 6 x 8 block through an 8 x 8 transpose (two zero rows)
    __m256 v[8];
    for (int i = 0; i < kMr; ++i) v[i] = R::load8(rows[i] + p);
    v[6] = v[7] = _mm256_setzero_ps();
    transpose8(v);
    for (int s = 0; s < 8; ++s) {
      float* out = d + (p + s) * kMr;
      _mm_storeu_ps(out, _mm256_castps256_ps128(v[s]));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(out + 4), _mm_castps_si128(_mm256_extractf128_ps(v[s], 1)));
    }
  }
  for (; p < len; ++p)
    for (int i = 0; i < kMr; ++i) d[p * kMr + i] = R::one(rows[i] + p);
}

template <typename R>
MI_AVX2 void pack_a_panel(const GemmProduct<double>& pr, int64_t r, int64_t q0, int64_t len, double* d) {
  const double* a = a_data<ReadF64>(pr);
  if (pr.trans_a) {
    const double* src = a + q0 * pr.lda + r;
    for (int64_t p = 0; p < len; ++p) {
      _mm256_storeu_pd(d + p * kMr, _mm256_loadu_pd(src + p * pr.lda));
      _mm_storeu_pd(d + p * kMr + 4, _mm_loadu_pd(src + p * pr.lda + 4));
    }
    return;
  }
  const double* rows[kMr];
  for (int i = 0; i < kMr; ++i) rows[i] = a + (r + i) * pr.lda + q0;
  int64_t p = 0;
  for (; p + 4 <= len; p += 4) {  // rows 0-3 and rows 4-5 (two zero rows) through 4 x 4 transposes
    __m256d lo[4], hi[4];
    for (int i = 0; i < 4; ++i) lo[i] = _mm256_loadu_pd(rows[i] + p);
    hi[0] = _mm256_loadu_pd(rows[4] + p);
    hi[1] = _mm256_loadu_pd(rows[5] + p);
    hi[2] = hi[3] = _mm256_setzero_pd();
    transpose4(lo);
    transpose4(hi);
    for (int s = 0; s < 4; ++s) {
      double* out = d + (p + s) * kMr;
      _mm256_storeu_pd(out, lo[s]);
      _mm_storeu_pd(out + 4, _mm256_castpd256_pd128(hi[s]));
    }
  }
  for (; p < len; ++p)
    for (int i = 0; i < kMr; ++i) d[p * kMr + i] = rows[i][p];
}

// kNr columns of a transposed op(B) (columns j..j+kNr, all valid; each a row of B) into one
// panel d ([p][kNr]), through 8 x 8 (4 x 4) transposes.
template <typename R>
MI_AVX2 void pack_b_panel(const GemmProduct<float>& pr, int64_t j, int64_t q0, int64_t len, float* d) {
  constexpr int NR = kNr<float>;
  const typename R::Storage* cols = b_data<R>(pr) + j * pr.ldb + q0;  // column jj of op(B) is row j + jj of B
  int64_t p = 0;
  for (; p + 8 <= len; p += 8) {
    for (int h = 0; h < 2; ++h) {
      __m256 v[8];
      for (int i = 0; i < 8; ++i) v[i] = R::load8(cols + (8 * h + i) * pr.ldb + p);
      transpose8(v);
      for (int s = 0; s < 8; ++s) _mm256_store_ps(d + (p + s) * NR + 8 * h, v[s]);
    }
  }
  for (; p < len; ++p)
    for (int jj = 0; jj < NR; ++jj) d[p * NR + jj] = R::one(cols + jj * pr.ldb + p);
}

template <typename R>
MI_AVX2 void pack_b_panel(const GemmProduct<double>& pr, int64_t j, int64_t q0, int64_t len, double* d) {
  constexpr int NR = kNr<double>;
  const double* cols = b_data<ReadF64>(pr) + j * pr.ldb + q0;
  int64_t p = 0;
  for (; p + 4 <= len; p += 4) {
    for (int h = 0; h < 2; ++h) {
      __m256d v[4];
      for (int i = 0; i < 4; ++i) v[i] = _mm256_loadu_pd(cols + (4 * h + i) * pr.ldb + p);
      transpose4(v);
      for (int s = 0; s < 4; ++s) _mm256_store_pd(d + (p + s) * NR + 4 * h, v[s]);
    }
  }
  for (; p < len; ++p)
    for (int jj = 0; jj < NR; ++jj) d[p * NR + jj] = cols[jj * pr.ldb + p];
}

// One piece: rows ic..ic+mc of op(A) into panels at dst (panel i at dst + i*kMr*kc), steps at
// pc.off of each.
template <typename R, typename T>
MI_AVX2 void pack_a_piece(const Piece<T>& pc, int64_t ic, int64_t mc, int64_t kc, T* dst) {
  for (int64_t ir = 0; ir < mc; ir += kMr) {
    T* d = dst + ir * kc + pc.off * kMr;
    const int64_t mr = std::min<int64_t>(kMr, mc - ir);
    if (mr == kMr) {
      pack_a_panel<R>(*pc.product, ic + ir, pc.q0, pc.len, d);
    } else {  // the last rows: zero-padded to a full panel
      for (int64_t p = 0; p < pc.len; ++p)
        for (int64_t i = 0; i < kMr; ++i) d[p * kMr + i] = i < mr ? a_value<R>(*pc.product, ic + ir + i, pc.q0 + p) : T(0);
    }
  }
}

// One piece: columns jc..jc+nc of op(B) into panels at dst (panel j at dst + j*kNr*kc). A
// row-major B is copied row by row across up to kSmallGroup panels at a time, so each row is
// read as one contiguous run instead of kNr values per panel.
template <typename R, typename T>
MI_AVX2 void pack_b_piece(const Piece<T>& pc, int64_t jc, int64_t nc, int64_t kc, T* dst) {
  constexpr int NR = kNr<T>;
  const GemmProduct<T>& pr = *pc.product;
  const int64_t full = nc / NR * NR;
  if (pr.trans_b) {
    for (int64_t jr = 0; jr < full; jr += NR) pack_b_panel<R>(pr, jc + jr, pc.q0, pc.len, dst + jr * kc + pc.off * NR);
  } else {
    const typename R::Storage* b = b_data<R>(pr);
    for (int64_t jg = 0; jg < full; jg += kSmallGroup * NR) {
      const int64_t panels = std::min<int64_t>(kSmallGroup, (full - jg) / NR);
      const typename R::Storage* src = b + pc.q0 * pr.ldb + jc + jg;
      T* d0 = dst + jg * kc + pc.off * NR;
      for (int64_t p = 0; p < pc.len; ++p) {
        const typename R::Storage* row = src + p * pr.ldb;
        T* d = d0 + p * NR;
        for (int64_t g = 0; g < panels; ++g) {
          Simd<T>::store(d + g * NR * kc, load_vec<R>(row + g * NR));
          Simd<T>::store(d + g * NR * kc + Simd<T>::kLanes, load_vec<R>(row + g * NR + Simd<T>::kLanes));
        }
      }
    }
  }
  if (full < nc) {  // the last columns: zero-padded to a full panel
    T* d = dst + full * kc + pc.off * NR;
    for (int64_t p = 0; p < pc.len; ++p)
      for (int64_t j = 0; j < NR; ++j) d[p * NR + j] = full + j < nc ? b_value<R>(pr, pc.q0 + p, jc + full + j) : T(0);
  }
}

// Rows ic..ic+mc of op(A) for one chunk (kc steps) into panels at dst, each piece read from
// its product's storage type.
MI_AVX2 void pack_a(std::span<const Piece<float>> pieces, int64_t ic, int64_t mc, int64_t kc, float* dst) {
  for (const Piece<float>& pc : pieces) {
    switch (pc.product->a_type) {
      case DType::bf16: pack_a_piece<ReadBf16>(pc, ic, mc, kc, dst); break;
      case DType::f16: pack_a_piece<ReadF16>(pc, ic, mc, kc, dst); break;
      default: pack_a_piece<ReadF32>(pc, ic, mc, kc, dst); break;
    }
  }
}
MI_AVX2 void pack_a(std::span<const Piece<double>> pieces, int64_t ic, int64_t mc, int64_t kc, double* dst) {
  for (const Piece<double>& pc : pieces) pack_a_piece<ReadF64>(pc, ic, mc, kc, dst);
}

// Columns jc..jc+nc of op(B) for one chunk into panels at dst.
MI_AVX2 void pack_b(std::span<const Piece<float>> pieces, int64_t jc, int64_t nc, int64_t kc, float* dst) {
  for (const Piece<float>& pc : pieces) {
    switch (pc.product->b_type) {
      case DType::bf16: pack_b_piece<ReadBf16>(pc, jc, nc, kc, dst); break;
      case DType::f16: pack_b_piece<ReadF16>(pc, jc, nc, kc, dst); break;
      default: pack_b_piece<ReadF32>(pc, jc, nc, kc, dst); break;
    }
  }
}
MI_AVX2 void pack_b(std::span<const Piece<double>> pieces, int64_t jc, int64_t nc, int64_t kc, double* dst) {
  for (const Piece<double>& pc : pieces) pack_b_piece<ReadF64>(pc, jc, nc, kc, dst);
}

// ---- per-thread packing buffers ----

struct AlignedBuffer {
  void* data = nullptr;
  size_t bytes = 0;
  ~AlignedBuffer() { std::free(data); }
  template <typename T>
  T* get(size_t elements) {
    const size_t need = (elements * sizeof(T) + 63) / 64 * 64;
    if (need > bytes) {
      std::free(data);
      data = nullptr;
      bytes = 0;
      data = std::aligned_alloc(64, need);
      if (!data) throw std::bad_alloc();
      bytes = need;
    }
    return static_cast<T*>(data);
  }
};

struct PackBuffers {
  AlignedBuffer a, b, pieces;
};

PackBuffers& pack_buffers() {
  thread_local PackBuffers buffers;
  return buffers;
}

inline int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

// Walks the concatenated k of the products in chunks: next(kc) fills `pieces` with the parts
// of the products that make up the next kc steps.
template <typename T>
class ChunkWalker {
 public:
  ChunkWalker(std::span<const GemmProduct<T>> products, Piece<T>* pieces) : products_(products), pieces_(pieces) {}

  std::span<const Piece<T>> next(int64_t kc) {
    size_t count = 0;
    for (int64_t off = 0; off < kc;) {
      while (q_ == products_[prod_].k) {  // skip finished (and empty) products
        ++prod_;
        q_ = 0;
      }
      const int64_t len = std::min(kc - off, products_[prod_].k - q_);
      pieces_[count++] = {&products_[prod_], q_, len, off};
      q_ += len;
      off += len;
    }
    return {pieces_, count};
  }

 private:
  std::span<const GemmProduct<T>> products_;
  Piece<T>* pieces_;
  size_t prod_ = 0;  // the next chunk starts at step q_ of products_[prod_]
  int64_t q_ = 0;
};

// The tiles of rows ic..ic+mc x columns jc..jc+nc of C from packed A (mc rows) and packed B
// (nc columns) over one chunk of kc steps.
template <typename T>
MI_AVX2 void run_tiles(const T* packed_a, int64_t ic, int64_t mc, const T* packed_b, int64_t jc, int64_t nc, int64_t kc, T* c,
                       int64_t ldc, bool load_c, const GemmEpilogue<T>* ep) {
  constexpr int NR = kNr<T>;
  for (int64_t jr = 0; jr < nc; jr += NR) {
    const int64_t nr = std::min<int64_t>(NR, nc - jr);
    for (int64_t ir = 0; ir < mc; ir += kMr) {
      const int64_t mr = std::min<int64_t>(kMr, mc - ir);
      T* tile = c + (ic + ir) * ldc + jc + jr;
      if (mr == kMr && nr == NR)
        micro_kernel<T>(kc, packed_a + ir * kc, packed_b + jr * kc, tile, ldc, load_c, ep, jc + jr);
      else
        edge_kernel<T>(kc, packed_a + ir * kc, packed_b + jr * kc, tile, ldc, mr, nr, load_c, ep, jc + jr);
    }
  }
}

// ---- very few rows times a transposed B: dot products, no packing ----
//
// x @ w^T with a handful of rows (a batch of 2 to 8 through a Linear) spends longer packing w
// than multiplying. When op(A) and op(B) are both read along k (A row-major, B transposed: each
// column of op(B) is a row of w), a 3 x 4 tile of C can be twelve dot products of contiguous
// rows instead: the four rows of w stay in L1 while every group of three rows of A passes
// them, and w is read once, in place. Measured against the packed path (alternated processes,
// medians): 2.4x at 4 x 1024 x 1024, 2.0x at 8 x 1024 x 1024, but 0.94x at 12 rows and 0.82x
// at 32 (32 x 1024 x 384), where the packed tiles reuse each loaded vector more; hence the limit.

constexpr int kDotRows = 3, kDotCols = 4;
constexpr int64_t kDotMaxRows = 8;

// [sum(a0), sum(a1), sum(a2), sum(a3)] of four vectors.
MI_AVX2_INLINE __m128 sum4(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
  const __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
  return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}
MI_AVX2_INLINE void store_sum4(float* out, __m256 a0, __m256 a1, __m256 a2, __m256 a3) { _mm_storeu_ps(out, sum4(a0, a1, a2, a3)); }
MI_AVX2_INLINE void store_sum4(double* out, __m256d a0, __m256d a1, __m256d a2, __m256d a3) {
  const __m256d t0 = _mm256_hadd_pd(a0, a1), t1 = _mm256_hadd_pd(a2, a3);
  _mm256_storeu_pd(out, _mm256_add_pd(_mm256_permute2f128_pd(t0, t1, 0x20), _mm256_permute2f128_pd(t0, t1, 0x31)));
}

// Rows i0..i1 x columns j0..j1 of C (the twelve outputs of each tile summed over k, then C and
// the epilogue as store_row does). Missing rows/columns of an edge tile read row i0 / j0 again
// and are not stored.
template <typename R, typename T>
MI_AVX2 void dot_tiles(const GemmProduct<T>& pr, int64_t i0, int64_t i1, int64_t j0, int64_t j1, bool accumulate, T* c,
                       int64_t ldc, const GemmEpilogue<T>* ep) {
  using S = Simd<T>;
  using V = typename S::V;
  constexpr int L = S::kLanes;
  const typename R::Storage* a = a_data<R>(pr);
  const typename R::Storage* b = b_data<R>(pr);
  const int64_t k = pr.k, kv = k / L * L;
  for (int64_t j = j0; j < j1; j += kDotCols) {
    const int64_t nj = std::min<int64_t>(kDotCols, j1 - j);
    const typename R::Storage* w[kDotCols];
    for (int q = 0; q < kDotCols; ++q) w[q] = b + (j + (q < nj ? q : 0)) * pr.ldb;
    for (int64_t i = i0; i < i1; i += kDotRows) {
      const int64_t ni = std::min<int64_t>(kDotRows, i1 - i);
      const typename R::Storage* x[kDotRows];
      for (int r = 0; r < kDotRows; ++r) x[r] = a + (i + (r < ni ? r : 0)) * pr.lda;
      V acc[kDotRows][kDotCols];
      for (auto& row : acc)
        for (V& v : row) v = S::zero();
      for (int64_t p = 0; p < kv; p += L) {
        const V w0 = load_vec<R>(w[0] + p), w1 = load_vec<R>(w[1] + p), w2 = load_vec<R>(w[2] + p), w3 = load_vec<R>(w[3] + p);
        for (int r = 0; r < kDotRows; ++r) {
          const V xv = load_vec<R>(x[r] + p);
          acc[r][0] = S::fma(xv, w0, acc[r][0]);
          acc[r][1] = S::fma(xv, w1, acc[r][1]);
          acc[r][2] = S::fma(xv, w2, acc[r][2]);
          acc[r][3] = S::fma(xv, w3, acc[r][3]);
        }
      }
      T sums[kDotRows][kDotCols];
      for (int r = 0; r < kDotRows; ++r) store_sum4(sums[r], acc[r][0], acc[r][1], acc[r][2], acc[r][3]);
      for (int r = 0; r < ni; ++r) {
        T* row = c + (i + r) * ldc + j;
        for (int q = 0; q < nj; ++q) {
          T v = sums[r][q];
          for (int64_t p = kv; p < k; ++p) v += R::one(x[r] + p) * R::one(w[q] + p);
          if (accumulate) v = row[q] + v;
          row[q] = ep ? ep->apply(v, j + q) : v;
        }
      }
    }
  }
}

// Whether gemm_tile takes the dot-product path: one product, A row-major, B transposed, few
// rows, all of A in L2.
template <typename T>
bool dot_product_fits(std::span<const GemmProduct<T>> products, int64_t m) {
  if (products.size() != 1) return false;
  const GemmProduct<T>& p = products[0];
  return !p.trans_a && p.trans_b && m <= kDotMaxRows && p.k >= Simd<T>::kLanes &&
         m * p.k * static_cast<int64_t>(sizeof(T)) <= (int64_t{256} << 10);
}

MI_AVX2 void dot_product_gemm(const GemmProduct<float>& p, int64_t i0, int64_t i1, int64_t j0, int64_t j1, bool accumulate,
                              float* c, int64_t ldc, const GemmEpilogue<float>* ep) {
  // Both operands are read through one reader: mixed storage types take the packed path.
  switch (p.a_type) {
    case DType::bf16: return dot_tiles<ReadBf16>(p, i0, i1, j0, j1, accumulate, c, ldc, ep);
    case DType::f16: return dot_tiles<ReadF16>(p, i0, i1, j0, j1, accumulate, c, ldc, ep);
    default: return dot_tiles<ReadF32>(p, i0, i1, j0, j1, accumulate, c, ldc, ep);
  }
}
MI_AVX2 void dot_product_gemm(const GemmProduct<double>& p, int64_t i0, int64_t i1, int64_t j0, int64_t j1, bool accumulate,
                              double* c, int64_t ldc, const GemmEpilogue<double>* ep) {
  dot_tiles<ReadF64>(p, i0, i1, j0, j1, accumulate, c, ldc, ep);
}

}  // namespace

template <typename T>
MI_AVX2 void gemm_tile_avx2(std::span<const GemmProduct<T>> products, int64_t i0, int64_t i1, int64_t j0, int64_t j1,
                            bool accumulate, T* c, int64_t ldc, const GemmEpilogue<T>& epilogue) {
  constexpr int NR = kNr<T>;
  const int64_t m = i1 - i0, n = j1 - j0;
  if (m <= 0 || n <= 0) return;
  int64_t k_total = 0;
  for (const auto& p : products) k_total += p.k;
  const GemmEpilogue<T>* ep = epilogue.empty() ? nullptr : &epilogue;
  if (k_total == 0) {  // no products: C is 0 (or itself), then the epilogue
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t j = j0; j < j1; ++j) {
        const T v = accumulate ? c[i * ldc + j] : T(0);
        c[i * ldc + j] = epilogue.apply(v, j);
      }
    return;
  }
  if (dot_product_fits(products, m) && products[0].a_type == products[0].b_type) {
    dot_product_gemm(products[0], i0, i1, j0, j1, accumulate, c, ldc, ep);
    return;
  }
  PackBuffers& buf = pack_buffers();
  Piece<T>* pieces = buf.pieces.get<Piece<T>>(products.size());

  if (m <= kSmallM<T>) {  // few rows: chunks outermost, B packed a group of panels at a time
    const int64_t kc_max = std::min(kSmallKc, k_total);
    const int64_t nc_max = std::min(kSmallGroup * NR, round_up(n, NR));
    T* packed_a = buf.a.get<T>(static_cast<size_t>(round_up(m, kMr) * kc_max));
    T* packed_b = buf.b.get<T>(static_cast<size_t>(nc_max * kc_max));
    ChunkWalker<T> walker(products, pieces);
    for (int64_t done = 0; done < k_total;) {
      const int64_t kc = std::min(kSmallKc, k_total - done);
      const std::span<const Piece<T>> chunk = walker.next(kc);
      const bool load_c = accumulate || done > 0;
      const GemmEpilogue<T>* chunk_ep = done + kc == k_total ? ep : nullptr;
      pack_a(chunk, i0, m, kc, packed_a);
      for (int64_t jc = j0; jc < j1; jc += kSmallGroup * NR) {
        const int64_t nc = std::min(kSmallGroup * NR, j1 - jc);
        pack_b(chunk, jc, nc, kc, packed_b);
        run_tiles<T>(packed_a, i0, m, packed_b, jc, nc, kc, c, ldc, load_c, chunk_ep);
      }
      done += kc;
    }
    return;
  }

  const int64_t kc_max = std::min(kKc<T>, k_total);
  T* packed_b = buf.b.get<T>(static_cast<size_t>(std::min(kNc, round_up(n, NR)) * kc_max));
  T* packed_a = buf.a.get<T>(static_cast<size_t>(kMc * kc_max));
  for (int64_t jc = j0; jc < j1; jc += kNc) {
    const int64_t nc = std::min(kNc, j1 - jc);
    ChunkWalker<T> walker(products, pieces);
    for (int64_t done = 0; done < k_total;) {
      const int64_t kc = std::min(kKc<T>, k_total - done);
      const std::span<const Piece<T>> chunk = walker.next(kc);
      const bool load_c = accumulate || done > 0;
      const GemmEpilogue<T>* chunk_ep = done + kc == k_total ? ep : nullptr;
      pack_b(chunk, jc, nc, kc, packed_b);
      for (int64_t ic = i0; ic < i1; ic += kMc) {
        const int64_t mc = std::min(kMc, i1 - ic);
        pack_a(chunk, ic, mc, kc, packed_a);
        run_tiles<T>(packed_a, ic, mc, packed_b, jc, nc, kc, c, ldc, load_c, chunk_ep);
      }
      done += kc;
    }
  }
}

template void gemm_tile_avx2<float>(std::span<const GemmProduct<float>>, int64_t, int64_t, int64_t, int64_t, bool, float*,
                                    int64_t, const GemmEpilogue<float>&);
template void gemm_tile_avx2<double>(std::span<const GemmProduct<double>>, int64_t, int64_t, int64_t, int64_t, bool, double*,
                                     int64_t, const GemmEpilogue<double>&);

}  // namespace mithril::cpu
