// Bulk conversion between the 16-bit float storage types (f16, bf16) and float32, used by the
// low-precision kernels: f16/bf16 tensors are stored in 16 bits and computed in float32.
// Narrowing rounds to nearest even (NaN stays NaN, overflow goes to inf), exactly like the
// scalar float_to_f16/float_to_bf16 in core/dtype.h.
#pragma once

#include <cstdint>

#include "mithril/core/tensor.h"

namespace mithril::cpu {

inline bool is_low_precision(DType t) { return t == DType::f16 || t == DType::bf16; }

// n elements of `from` (f16 or bf16) -> float32, and back. Serial: callers block or thread them.
void widen_to_f32(DType from, const uint16_t* src, float* dst, int64_t n);
void narrow_from_f32(DType to, const float* src, uint16_t* dst, int64_t n);

// A contiguous float32 copy of a contiguous f16/bf16 tensor (threaded for large tensors).
Tensor widen_tensor(const Tensor& t);
// dst (float32, contiguous) = src (f16/bf16, contiguous, same number of elements).
void widen_into(const Tensor& src, Tensor& dst);
// dst (f16/bf16, contiguous) = src (float32, same number of elements), rounded to nearest even.
void narrow_tensor(const Tensor& src, Tensor& dst);

}  // namespace mithril::cpu
