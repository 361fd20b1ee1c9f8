// The AVX2 transcendental kernels against libm, in ulps of the result type, over dense grids
// spanning the interesting ranges, random inputs, and special values (inf, NaN, overflow,
// underflow). Runs the vector code directly when the CPU has AVX2+FMA (else skips).
#include "mithril/backends/cpu/vec_math.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "mithril/core/cpu_features.h"

namespace mithril {
namespace {

// Distance in representable values between a and b (0 when equal, both NaN, or same inf).
template <typename T>
double ulp_distance(T a, T b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b) ? 0 : 1e30;
  if (a == b) return 0;
  if (std::isinf(a) || std::isinf(b)) return 1e30;
  const T ulp = std::nextafter(std::abs(b), std::numeric_limits<T>::infinity()) - std::abs(b);
  return std::abs(static_cast<double>(a) - static_cast<double>(b)) / static_cast<double>(ulp);
}

template <typename T>
std::vector<T> inputs(double lo, double hi) {
  std::vector<T> x;
  for (int i = 0; i <= 20000; ++i) x.push_back(static_cast<T>(lo + (hi - lo) * i / 20000.0));
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(lo, hi);
  for (int i = 0; i < 20000; ++i) x.push_back(static_cast<T>(u(rng)));
  const T inf = std::numeric_limits<T>::infinity();
  for (T s : {T(0), -T(0), inf, -inf, std::numeric_limits<T>::quiet_NaN(), T(1e-30), T(-1e-30), T(0.625), T(-0.625),
              T(88.7), T(89), T(-87.4), T(-104), T(-110), T(709.5), T(-745), T(-720), T(1000), T(-1000)})
    x.push_back(s);
  return x;
}

template <typename T>
void expect_ulps(void (*f)(const T*, T*, int64_t), T (*ref)(T), double lo, double hi, double max_ulps, const char* what) {
  const std::vector<T> x = inputs<T>(lo, hi);
  std::vector<T> y(x.size());
  f(x.data(), y.data(), static_cast<int64_t>(x.size()));
  double worst = 0;
  T worst_x = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double d = ulp_distance(y[i], ref(x[i]));
    if (d > worst) {
      worst = d;
      worst_x = x[i];
    }
  }
  EXPECT_LE(worst, max_ulps) << what << ": worst at x = " << worst_x;
  // In place (x and y the same array) gives the same results, special lanes included.
  std::vector<T> z = x;
  f(z.data(), z.data(), static_cast<int64_t>(z.size()));
  for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(ulp_distance(z[i], y[i]), 0) << what << " in place at x = " << x[i];
}

// References in the wider type, rounded once.
float exp_ref_f(float x) { return static_cast<float>(std::exp(static_cast<double>(x))); }
float tanh_ref_f(float x) { return static_cast<float>(std::tanh(static_cast<double>(x))); }
float sigmoid_ref_f(float x) { return static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(x)))); }
double exp_ref_d(double x) { return static_cast<double>(std::exp(static_cast<long double>(x))); }
double tanh_ref_d(double x) { return static_cast<double>(std::tanh(static_cast<long double>(x))); }
double sigmoid_ref_d(double x) { return static_cast<double>(1.0L / (1.0L + std::exp(-static_cast<long double>(x)))); }

class Vectorized : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cpu_has(Isa::avx2_fma)) GTEST_SKIP() << "no AVX2+FMA on this CPU (or MITHRIL_ISA excludes it)";
  }
};

TEST_F(Vectorized, ExpWithinTwoUlps) {
  expect_ulps<float>(cpu::vec::exp, exp_ref_f, -110, 90, 2, "exp f32");
  expect_ulps<float>(cpu::vec::exp, exp_ref_f, -104.5, -86, 2, "exp f32, subnormal results");
  expect_ulps<double>(cpu::vec::exp, exp_ref_d, -750, 710, 2, "exp f64");
}

TEST_F(Vectorized, TanhWithinThreeUlps) {
  expect_ulps<float>(cpu::vec::tanh, tanh_ref_f, -12, 12, 3, "tanh f32");
  expect_ulps<double>(cpu::vec::tanh, tanh_ref_d, -25, 25, 3, "tanh f64");
}

TEST_F(Vectorized, SigmoidWithinThreeUlps) {
  expect_ulps<float>(cpu::vec::sigmoid, sigmoid_ref_f, -110, 110, 3, "sigmoid f32");
  expect_ulps<double>(cpu::vec::sigmoid, sigmoid_ref_d, -750, 750, 3, "sigmoid f64");
}

}  // namespace
}  // namespace mithril
