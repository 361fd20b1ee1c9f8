// The AVX2+FMA engine of gemm_tile (gemm.h); call it only when cpu_has(Isa::avx2_fma).
#pragma once

#include "mithril/backends/cpu/gemm.h"

namespace mithril::cpu {

template <typename T>
void gemm_tile_avx2(std::span<const GemmProduct<T>> products, int64_t i0, int64_t i1, int64_t j0, int64_t j1, bool accumulate,
                    T* c, int64_t ldc, const GemmEpilogue<T>& epilogue);

}  // namespace mithril::cpu
