// The GEMM engine (backends/cpu/gemm.h) against a float64 triple loop: random shapes around the
// register-tile and cache-block edges, transposed operands, sums of products whose k chunks
// span several products, accumulation, sub-blocks of C, the bias/relu epilogue and the
// threaded split. Runs whichever engine this CPU gets (the AVX2 one, or OpenBLAS under
// MITHRIL_ISA=baseline in the kernels.baseline_isa test).
#include "mithril/backends/cpu/gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace mithril::cpu {
namespace {

template <typename T>
struct Operands {
  std::vector<std::vector<T>> a, b;
  std::vector<GemmProduct<T>> products;
};

// Products of random data for an m x n result; the k of each and the transposes as given.
template <typename T>
Operands<T> make_products(std::mt19937& rng, int64_t m, int64_t n, const std::vector<int64_t>& ks,
                          const std::vector<std::pair<bool, bool>>& trans, int64_t pad) {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  Operands<T> ops;
  ops.a.resize(ks.size());
  ops.b.resize(ks.size());
  for (size_t j = 0; j < ks.size(); ++j) {
    const int64_t k = ks[j];
    const auto [ta, tb] = trans[j];
    const int64_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad;
    ops.a[j].resize(static_cast<size_t>((ta ? k : m) * lda + 1));
    ops.b[j].resize(static_cast<size_t>((tb ? n : k) * ldb + 1));
    for (T& x : ops.a[j]) x = static_cast<T>(u(rng));
    for (T& x : ops.b[j]) x = static_cast<T>(u(rng));
    ops.products.push_back({ops.a[j].data(), lda, ta, ops.b[j].data(), ldb, tb, k});
  }
  return ops;
}

// The float64 reference of gemm_tile on rows i0..i1, columns j0..j1 of c.
template <typename T>
void reference(const std::vector<GemmProduct<T>>& products, int64_t i0, int64_t i1, int64_t j0, int64_t j1, bool accumulate,
               std::vector<double>& c, int64_t ldc, const GemmEpilogue<T>& ep) {
  for (int64_t i = i0; i < i1; ++i)
    for (int64_t j = j0; j < j1; ++j) {
      double s = accumulate ? c[static_cast<size_t>(i * ldc + j)] : 0.0;
      for (const auto& p : products)
        for (int64_t q = 0; q < p.k; ++q) {
          const double a = p.trans_a ? p.a[q * p.lda + i] : p.a[i * p.lda + q];
          const double b = p.trans_b ? p.b[j * p.ldb + q] : p.b[q * p.ldb + j];
          s += a * b;
        }
      if (ep.bias) s += ep.bias[ep.scalar_bias ? 0 : j];
      if (ep.relu) s = s < 0 ? 0 : s;
      c[static_cast<size_t>(i * ldc + j)] = s;
    }
}

template <typename T>
double tolerance(int64_t k_total) {
  return (sizeof(T) == 4 ? 1e-5 : 1e-13) * static_cast<double>(std::max<int64_t>(k_total, 1));
}

template <typename T>
void random_cases(int cases, bool threaded) {
  std::mt19937 rng(threaded ? 7 : 3);
  std::uniform_int_distribution<int> coin(0, 1);
  for (int t = 0; t < cases; ++t) {
    // Sizes around the 6-row / 16-column tiles, the 72-row blocks and the few-rows path.
    const int64_t m = std::uniform_int_distribution<int64_t>(1, coin(rng) ? 40 : 300)(rng);
    const int64_t n = std::uniform_int_distribution<int64_t>(1, coin(rng) ? 40 : 200)(rng);
    const int count = std::uniform_int_distribution<int>(1, 4)(rng);
    std::vector<int64_t> ks;
    std::vector<std::pair<bool, bool>> trans;
    int64_t k_total = 0;
    for (int j = 0; j < count; ++j) {
      ks.push_back(std::uniform_int_distribution<int64_t>(0, coin(rng) ? 40 : 600)(rng));
      trans.emplace_back(coin(rng), coin(rng));
      k_total += ks.back();
    }
    const int64_t pad = coin(rng) * 3;
    Operands<T> ops = make_products<T>(rng, m, n, ks, trans, pad);
    const int64_t ldc = n + coin(rng) * 5;
    std::vector<T> c(static_cast<size_t>(m * ldc)), bias(static_cast<size_t>(n));
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    for (T& x : c) x = static_cast<T>(u(rng));
    for (T& x : bias) x = static_cast<T>(u(rng));
    std::vector<double> expect(c.begin(), c.end());
    GemmEpilogue<T> ep;
    if (coin(rng)) {
      ep.bias = bias.data();
      ep.scalar_bias = coin(rng) && coin(rng);
    }
    ep.relu = coin(rng);
    const bool accumulate = coin(rng);
    int64_t i0 = 0, i1 = m, j0 = 0, j1 = n;
    if (!threaded && coin(rng)) {  // a sub-block, as the threaded split hands out
      i0 = std::uniform_int_distribution<int64_t>(0, m - 1)(rng);
      j0 = std::uniform_int_distribution<int64_t>(0, n - 1)(rng);
      i1 = std::uniform_int_distribution<int64_t>(i0 + 1, m)(rng);
      j1 = std::uniform_int_distribution<int64_t>(j0 + 1, n)(rng);
    }
    reference(ops.products, i0, i1, j0, j1, accumulate, expect, ldc, ep);
    if (threaded) gemm<T>(ops.products, m, n, accumulate, c.data(), ldc, ep);
    else gemm_tile(std::span<const GemmProduct<T>>(ops.products), i0, i1, j0, j1, accumulate, c.data(), ldc, ep);
    double worst = 0;
    for (size_t i = 0; i < c.size(); ++i) worst = std::max(worst, std::abs(static_cast<double>(c[i]) - expect[i]));
    ASSERT_LE(worst, tolerance<T>(k_total)) << "case " << t << ": m=" << m << " n=" << n << " products=" << count
                                            << " k_total=" << k_total << " block [" << i0 << "," << i1 << ")x[" << j0
                                            << "," << j1 << ") accumulate=" << accumulate << " engine=" << gemm_engine();
  }
}

TEST(Gemm, RandomShapesMatchReferenceF32) { random_cases<float>(200, false); }
TEST(Gemm, RandomShapesMatchReferenceF64) { random_cases<double>(200, false); }
TEST(Gemm, ThreadedSplitMatchesReferenceF32) { random_cases<float>(40, true); }
TEST(Gemm, ThreadedSplitMatchesReferenceF64) { random_cases<double>(40, true); }

// Many short products (an unrolled recurrence's weight gradient: 64 steps with k = batch 32)
// sum into one result; the chunks of the concatenated k span several products each.
TEST(Gemm, ManyShortProductsSumIntoOneResult) {
  std::mt19937 rng(11);
  const std::vector<int64_t> ks(64, 32);
  const std::vector<std::pair<bool, bool>> trans(64, {true, false});
  Operands<float> ops = make_products<float>(rng, 100, 160, ks, trans, 0);
  std::vector<float> c(100 * 160);
  std::vector<double> expect(c.size());
  reference(ops.products, 0, 100, 0, 160, false, expect, 160, GemmEpilogue<float>{});
  gemm<float>(ops.products, 100, 160, false, c.data(), 160);
  for (size_t i = 0; i < c.size(); ++i) ASSERT_NEAR(c[i], expect[i], tolerance<float>(64 * 32)) << i;
}

// Without products (k = 0) C is zero, or kept when accumulating, and the epilogue still runs.
TEST(Gemm, EmptyInnerDimensionGivesEpilogueOfZeroOrC) {
  const std::vector<GemmProduct<double>> none = {{nullptr, 1, false, nullptr, 1, false, 0}};
  const double bias[3] = {1.0, -2.0, 3.0};
  std::vector<double> c = {5, 5, 5, 5, 5, 5};
  gemm_tile(std::span<const GemmProduct<double>>(none), 0, 2, 0, 3, false, c.data(), 3, {bias, false, true});
  EXPECT_EQ(c, (std::vector<double>{1, 0, 3, 1, 0, 3}));
  gemm_tile(std::span<const GemmProduct<double>>(none), 0, 2, 0, 3, true, c.data(), 3, {});
  EXPECT_EQ(c, (std::vector<double>{1, 0, 3, 1, 0, 3}));
}

// relu in the epilogue lets NaN through and keeps the sign of zero, as `v < 0 ? 0 : v` does.
TEST(Gemm, ReluEpilogueKeepsNaN) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> a(6 * 2, 1.0f), b(2 * 16, -1.0f), c(6 * 16);
  a[0] = nan;  // row 0 of the product is NaN
  const GemmProduct<float> p{a.data(), 2, false, b.data(), 16, false, 2};
  gemm_tile(std::span<const GemmProduct<float>>(&p, 1), 0, 6, 0, 16, false, c.data(), 16, {nullptr, false, true});
  for (int j = 0; j < 16; ++j) {
    EXPECT_TRUE(std::isnan(c[j])) << j;
    EXPECT_EQ(c[16 + j], 0.0f) << j;
  }
}

}  // namespace
}  // namespace mithril::cpu
