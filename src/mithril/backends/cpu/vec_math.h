// Vectorized transcendental functions (AVX2 + FMA, 8 floats / 4 doubles per instruction)
// over contiguous arrays. The registry selects them only on CPUs that have AVX2 and FMA (and
// MITHRIL_ISA allows them); the baseline kernels call libm.
//
// Accuracy (checked against libm in tests/ops/vec_math_test.cpp over dense and random inputs):
//   exp    f32 <= 2 ulp, f64 <= 2 ulp   (Cephes range reduction + polynomial / Pade form)
//   tanh   f32 <= 3 ulp, f64 <= 3 ulp   (odd rational near 0, 1 - 2/(e^2x + 1) elsewhere)
//   sigmoid f32 <= 3 ulp, f64 <= 3 ulp  (1/(1 + e^-|x|), mirrored for x < 0: never overflows)
// Lanes whose inputs leave the range where the polynomial is valid (results that overflow,
// become subnormal or NaN inputs) are recomputed with libm, so the special values match libm.
// x and y may be the same array (in-place).
#pragma once

#include <cstdint>

namespace mithril::cpu::vec {

void exp(const float* x, float* y, int64_t n);
void exp(const double* x, double* y, int64_t n);
void tanh(const float* x, float* y, int64_t n);
void tanh(const double* x, double* y, int64_t n);
void sigmoid(const float* x, float* y, int64_t n);
void sigmoid(const double* x, double* y, int64_t n);

}  // namespace mithril::cpu::vec
