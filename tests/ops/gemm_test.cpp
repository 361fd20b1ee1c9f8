// The GEMM engine (backends/cpu/gemm.h) and the GEMVs (gemv.h) against float64 loops: random shapes around the
// register-tile and cache-block edges, transposed operands, sums of products whose k chunks
// span several products, accumulation, sub-blocks of C, the bias/relu epilogue and the
// threaded split. Runs whichever engine this CPU gets (the AVX2 one, or OpenBLAS under
// MITHRIL_ISA=baseline in the kernels.baseline_isa test).
#include "mithril/backends/cpu/gemm.h"
#include "mithril/backends/cpu/gemv.h"

#include <gtest/gtest.h>

#include <array>
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

// Element `at` of an operand stored as T or, for float32 products, as bf16/f16.
template <typename T>
double stored_value(const void* data, DType type, int64_t at) {
  if (type == DType::bf16) return bf16_to_float(static_cast<const uint16_t*>(data)[at]);
  if (type == DType::f16) return f16_to_float(static_cast<const uint16_t*>(data)[at]);
  return static_cast<const T*>(data)[at];
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
          const double a = stored_value<T>(p.a, p.a_type, p.trans_a ? q * p.lda + i : i * p.lda + q);
          const double b = stored_value<T>(p.b, p.b_type, p.trans_b ? j * p.ldb + q : q * p.ldb + j);
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

// float32 products whose operands are stored in bf16 or f16 (a 16-bit model's GEMMs): the
// packing widens them; the result equals the float64 product of the stored values.
TEST(Gemm, SixteenBitOperandsAreWidenedExactly) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  for (const DType t : {DType::bf16, DType::f16}) {
    for (const auto [m, n, k] : {std::array<int64_t, 3>{7, 37, 45}, {130, 70, 300}, {300, 33, 20}}) {
      for (int trans = 0; trans < 4; ++trans) {
        const bool ta = trans & 1, tb = trans & 2;
        std::vector<uint16_t> a(static_cast<size_t>(m * k)), b(static_cast<size_t>(k * n));
        for (uint16_t& x : a) x = t == DType::bf16 ? float_to_bf16(static_cast<float>(u(rng))) : float_to_f16(static_cast<float>(u(rng)));
        for (uint16_t& x : b) x = t == DType::bf16 ? float_to_bf16(static_cast<float>(u(rng))) : float_to_f16(static_cast<float>(u(rng)));
        // A in 16 bits and B too, or one of them in float32.
        std::vector<float> b32(b.size());
        for (size_t i = 0; i < b.size(); ++i) b32[i] = static_cast<float>(stored_value<float>(b.data(), t, static_cast<int64_t>(i)));
        for (const bool b_wide : {false, true}) {
          const GemmProduct<float> p{a.data(), ta ? m : k, ta, b_wide ? static_cast<const void*>(b32.data()) : b.data(),
                                     tb ? k : n, tb, k, t, b_wide ? DType::f32 : t};
          std::vector<float> c(static_cast<size_t>(m * n));
          std::vector<double> expect(c.size());
          reference<float>({p}, 0, m, 0, n, false, expect, n, {});
          gemm<float>(std::span<const GemmProduct<float>>(&p, 1), m, n, false, c.data(), n);
          for (size_t i = 0; i < c.size(); ++i)
            ASSERT_NEAR(c[i], expect[i], tolerance<float>(k)) << dtype_name(t) << " m=" << m << " n=" << n << " trans=" << trans;
        }
      }
    }
  }
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

// Both GEMVs, every storage type, sizes around the four-row blocks and the vector widths.
TEST(Gemv, RowsAndRowVectorMatchReference) {
  std::mt19937 rng(21);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  for (const auto [rows, k] : {std::array<int64_t, 2>{1, 1}, {3, 17}, {9, 40}, {130, 301}, {1000, 64}}) {
    for (const DType t : {DType::f64, DType::f32, DType::bf16, DType::f16}) {
      // A (rows x k) with row stride k + 3, its values as stored.
      const int64_t lda = k + 3;
      std::vector<double> a(static_cast<size_t>(rows * lda)), x(static_cast<size_t>(k)), xr(static_cast<size_t>(rows));
      std::vector<uint16_t> a16(a.size());
      std::vector<float> a32(a.size()), x32(x.size()), xr32(xr.size());
      for (size_t i = 0; i < a.size(); ++i) {
        a32[i] = static_cast<float>(u(rng));
        a16[i] = t == DType::bf16 ? float_to_bf16(a32[i]) : float_to_f16(a32[i]);
        a[i] = t == DType::bf16 ? bf16_to_float(a16[i]) : t == DType::f16 ? f16_to_float(a16[i]) : a32[i];
      }
      for (size_t i = 0; i < x.size(); ++i) x32[i] = static_cast<float>(x[i] = static_cast<float>(u(rng)));
      for (size_t i = 0; i < xr.size(); ++i) xr32[i] = static_cast<float>(xr[i] = static_cast<float>(u(rng)));
      std::vector<double> y_ref(static_cast<size_t>(rows), 0.0), z_ref(static_cast<size_t>(k), 0.0);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t p = 0; p < k; ++p) {
          y_ref[static_cast<size_t>(r)] += a[static_cast<size_t>(r * lda + p)] * x[static_cast<size_t>(p)];
          z_ref[static_cast<size_t>(p)] += xr[static_cast<size_t>(r)] * a[static_cast<size_t>(r * lda + p)];
        }
      std::vector<double> y(static_cast<size_t>(rows)), z(static_cast<size_t>(k));
      if (t == DType::f64) {
        gemv_rows(a.data(), t, lda, x.data(), y.data(), rows, k);
        gemv_rowvec(xr.data(), a.data(), t, lda, z.data(), rows, k);
      } else {
        std::vector<float> y32(y.size()), z32(z.size());
        const void* stored = t == DType::f32 ? static_cast<const void*>(a32.data()) : a16.data();
        gemv_rows(stored, t, lda, x32.data(), y32.data(), rows, k);
        gemv_rowvec(xr32.data(), stored, t, lda, z32.data(), rows, k);
        y.assign(y32.begin(), y32.end());
        z.assign(z32.begin(), z32.end());
      }
      const double tol = (t == DType::f64 ? 1e-13 : 1e-5) * static_cast<double>(std::max(rows, k));
      for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], y_ref[i], tol) << dtype_name(t) << " rows=" << rows << " k=" << k;
      for (size_t i = 0; i < z.size(); ++i) ASSERT_NEAR(z[i], z_ref[i], tol) << dtype_name(t) << " rows=" << rows << " k=" << k;
    }
  }
}

}  // namespace
}  // namespace mithril::cpu
