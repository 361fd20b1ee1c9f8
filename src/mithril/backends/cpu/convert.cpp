#include "mithril/backends/cpu/convert.h"


#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MITHRIL_X86 1
#endif

#include "mithril/backends/cpu/loops.h"
#include "mithril/core/cpu_features.h"
#include "mithril/core/error.h"

namespace mithril::cpu {
namespace {

// The inline, branch-free conversions of core/dtype.h: GCC vectorizes these loops for the
// baseline ISA.
void widen_bf16(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_float(src[i]);
}

void narrow_bf16(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = float_to_bf16(src[i]);
}

void widen_f16_scalar(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_float(src[i]);
}
void narrow_f16_scalar(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = float_to_f16(src[i]);
}

#ifdef MITHRIL_X86
// F16C converts 8 halves per instruction with the same rounding (nearest even) and NaN/inf rules.
__attribute__((target("avx,f16c"))) void widen_f16_f16c(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  widen_f16_scalar(src + i, dst + i, n - i);
}
__attribute__((target("avx,f16c"))) void narrow_f16_f16c(const float* src, uint16_t* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  narrow_f16_scalar(src + i, dst + i, n - i);
}
#endif

using WidenFn = void (*)(const uint16_t*, float*, int64_t);
using NarrowFn = void (*)(const float*, uint16_t*, int64_t);

WidenFn f16_widener() {
#ifdef MITHRIL_X86
  if (cpu_has(Isa::avx2_fma)) return widen_f16_f16c;
#endif
  return widen_f16_scalar;
}
NarrowFn f16_narrower() {
#ifdef MITHRIL_X86
  if (cpu_has(Isa::avx2_fma)) return narrow_f16_f16c;
#endif
  return narrow_f16_scalar;
}

}  // namespace

void widen_to_f32(DType from, const uint16_t* src, float* dst, int64_t n) {
  static const WidenFn f16 = f16_widener();
  MI_ASSERT(is_low_precision(from));
  if (from == DType::bf16) widen_bf16(src, dst, n);
  else f16(src, dst, n);
}

void narrow_from_f32(DType to, const float* src, uint16_t* dst, int64_t n) {
  static const NarrowFn f16 = f16_narrower();
  MI_ASSERT(is_low_precision(to));
  if (to == DType::bf16) narrow_bf16(src, dst, n);
  else f16(src, dst, n);
}

void widen_into(const Tensor& src, Tensor& dst) {
  MI_ASSERT(src.numel() == dst.numel());
  const auto* s = static_cast<const uint16_t*>(src.raw_data());
  float* d = dst.data<float>();
  const DType from = src.dtype();
  parallel_for(0, src.numel(), kElementwiseGrain, [&](int64_t b, int64_t e) { widen_to_f32(from, s + b, d + b, e - b); });
}

Tensor widen_tensor(const Tensor& t) {
  Tensor out = Tensor::empty(t.shape(), DType::f32);
  widen_into(t, out);
  return out;
}

void narrow_tensor(const Tensor& src, Tensor& dst) {
  MI_ASSERT(src.numel() == dst.numel());
  const float* s = src.data<float>();
  auto* d = static_cast<uint16_t*>(dst.raw_data());
  const DType to = dst.dtype();
  parallel_for(0, src.numel(), kElementwiseGrain, [&](int64_t b, int64_t e) { narrow_from_f32(to, s + b, d + b, e - b); });
}

}  // namespace mithril::cpu
