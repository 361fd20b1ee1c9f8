// gemm_tile: our AVX2 engine when the CPU has AVX2+FMA, otherwise single-threaded OpenBLAS
// calls (one per product, accumulating with beta = 1) and a loop for the epilogue.
#include "mithril/backends/cpu/gemm.h"

#include <algorithm>
#include <type_traits>
#include <vector>

#include "mithril/backends/cpu/blas.h"
#include "mithril/backends/cpu/convert.h"
#include "mithril/backends/cpu/gemm_avx2.h"
#include "mithril/core/cpu_features.h"
#include "mithril/core/error.h"

namespace mithril::cpu {

void set_blas_single_threaded() {
  static const bool done = [] {
    openblas_set_num_threads(1);
    return true;
  }();
  (void)done;
}

namespace {

bool use_avx2_engine() {
  static const bool avx2 = [] {
    const bool has = cpu_has(Isa::avx2_fma);
    if (!has) set_blas_single_threaded();  // every split is ours
    return has;
  }();
  return avx2;
}

// An operand as T: itself, or (float32 products) a float32 copy of its first `elements` 16-bit values.
template <typename T>
const T* operand_as(const void* data, DType type, int64_t elements, std::vector<float>& wide) {
  if (type == dtype_of_v<T>) return static_cast<const T*>(data);
  if constexpr (std::is_same_v<T, float>) {
    wide.resize(static_cast<size_t>(elements));
    widen_to_f32(type, static_cast<const uint16_t*>(data), wide.data(), elements);
    return wide.data();
  }
  MI_ASSERT(false);
  return nullptr;
}

template <typename T>
void gemm_tile_blas(std::span<const GemmProduct<T>> products, int64_t i0, int64_t i1, int64_t j0, int64_t j1, bool accumulate,
                    T* c, int64_t ldc, const GemmEpilogue<T>& ep) {
  if (i1 <= i0 || j1 <= j0) return;
  bool written = accumulate;
  std::vector<float> wide_a, wide_b;
  for (const GemmProduct<T>& p : products) {
    if (p.k == 0) continue;
    const T* pa = operand_as<T>(p.a, p.a_type, (p.trans_a ? p.k : i1) * p.lda, wide_a);
    const T* pb = operand_as<T>(p.b, p.b_type, (p.trans_b ? j1 : p.k) * p.ldb, wide_b);
    const T* a = p.trans_a ? pa + i0 : pa + i0 * p.lda;
    const T* b = p.trans_b ? pb + j0 * p.ldb : pb + j0;
    gemm_call(p.trans_a, p.trans_b, i1 - i0, j1 - j0, p.k, T(1), a, p.lda, b, p.ldb, written ? T(1) : T(0), c + i0 * ldc + j0,
              ldc);
    written = true;
  }
  for (int64_t i = i0; i < i1; ++i) {
    T* row = c + i * ldc;
    if (!written) std::fill(row + j0, row + j1, T(0));
    if (!ep.empty())
      for (int64_t j = j0; j < j1; ++j) row[j] = ep.apply(row[j], j);
  }
}

template <typename T>
void gemm_tile_impl(std::span<const GemmProduct<T>> products, int64_t i0, int64_t i1, int64_t j0, int64_t j1, bool accumulate,
                    T* c, int64_t ldc, const GemmEpilogue<T>& ep) {
  if (use_avx2_engine()) gemm_tile_avx2<T>(products, i0, i1, j0, j1, accumulate, c, ldc, ep);
  else gemm_tile_blas<T>(products, i0, i1, j0, j1, accumulate, c, ldc, ep);
}

}  // namespace

void gemm_tile(std::span<const GemmProduct<float>> products, int64_t i0, int64_t i1, int64_t j0, int64_t j1, bool accumulate,
               float* c, int64_t ldc, const GemmEpilogue<float>& epilogue) {
  gemm_tile_impl(products, i0, i1, j0, j1, accumulate, c, ldc, epilogue);
}
void gemm_tile(std::span<const GemmProduct<double>> products, int64_t i0, int64_t i1, int64_t j0, int64_t j1, bool accumulate,
               double* c, int64_t ldc, const GemmEpilogue<double>& epilogue) {
  gemm_tile_impl(products, i0, i1, j0, j1, accumulate, c, ldc, epilogue);
}

const char* gemm_engine() { return use_avx2_engine() ? "avx2" : "openblas"; }

}  // namespace mithril::cpu
