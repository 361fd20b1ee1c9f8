// The GGUF block formats against hand-computed blocks and ggml's formulas, and every kernel path
// this machine has against the scalar reference: bit for bit, on random data with edge blocks
// (all zeros, ties at .5, the largest magnitudes, -128 from foreign files) and edge shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "mithril/backends/ggml/quant_matmul.h"
#include "mithril/core/dtype.h"
#include "mithril/core/error.h"

namespace mithril::ggml {
namespace {

std::vector<float> random_floats(size_t n, uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

std::vector<QuantPath> paths() {
  std::vector<QuantPath> p{QuantPath::scalar};
  if (quant_path_available(QuantPath::avx2)) p.push_back(QuantPath::avx2);
  return p;
}

TEST(GgmlFormats, TraitsMatchGguf) {
  EXPECT_EQ(quant_traits(QuantType::q8_0).ggml_type, 8u);
  EXPECT_EQ(quant_traits(QuantType::q4_0).ggml_type, 2u);
  EXPECT_EQ(quant_traits(QuantType::q8_0).block_bytes, 34);
  EXPECT_EQ(quant_traits(QuantType::q4_0).block_bytes, 18);
  EXPECT_EQ(parse_quant_type("int8"), QuantType::q8_0);
  EXPECT_EQ(parse_quant_type("q4_0"), QuantType::q4_0);
  EXPECT_EQ(quant_row_bytes(QuantType::q4_0, 96), 3 * 18);
  try {
    parse_quant_type("q5_1");
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown format 'q5_1'"), std::string::npos) << e.what();
  }
  try {
    quant_row_bytes(QuantType::q8_0, 40, "weight w");
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("weight w has 40 values per row"), std::string::npos) << e.what();
  }
}

// x_j = (j - 16) / 2: amax 8, d = 8/127, q_j = roundf(x_j * 127/8) (half away from zero).
TEST(GgmlFormats, Q8_0BlockByHand) {
  float x[32];
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16) / 2;
  BlockQ8_0 b;
  quantize_row_ref(QuantType::q8_0, x, 32, &b);
  EXPECT_EQ(b.d, float_to_f16(8.0f / 127));
  EXPECT_EQ(b.qs[0], -127);   // -8
  EXPECT_EQ(b.qs[16], 0);     // 0
  EXPECT_EQ(b.qs[17], 8);     // 0.5 * 15.875 = 7.9375
  EXPECT_EQ(b.qs[31], 119);   // 7.5 * 15.875 = 119.06
  const uint8_t* raw = reinterpret_cast<const uint8_t*>(&b);
  uint16_t d;
  std::memcpy(&d, raw, 2);  // fp16 scale first, little-endian, then the 32 bytes
  EXPECT_EQ(d, b.d);
  EXPECT_EQ(static_cast<int8_t>(raw[2]), -127);
  float y[32];
  dequantize_row_ref(QuantType::q8_0, &b, 32, y);
  for (int j = 0; j < 32; ++j) EXPECT_NEAR(y[j], x[j], f16_to_float(b.d) / 2 + 1e-6) << j;
}

// x_j = j - 16: the signed value of largest magnitude is -16, d = 2, q = min(15, (int8)(x/2 + 8.5)).
TEST(GgmlFormats, Q4_0BlockByHand) {
  float x[32];
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16);
  BlockQ4_0 b;
  quantize_row_ref(QuantType::q4_0, x, 32, &b);
  EXPECT_EQ(f16_to_float(b.d), 2.0f);
  EXPECT_EQ(b.qs[0], 0x80);              // element 0 -> 0 (low), element 16 -> 8 (high)
  EXPECT_EQ(b.qs[15], (15 << 4) | 8);    // element 15: -1 -> (int)8.0 = 8; element 31: 15 -> 16, clamped to 15
  float y[32];
  dequantize_row_ref(QuantType::q4_0, &b, 32, y);
  EXPECT_EQ(y[0], -16.0f);
  EXPECT_EQ(y[16], 0.0f);
  EXPECT_EQ(y[31], 14.0f);  // clamped to nibble 15: (15 - 8) * 2
}

TEST(GgmlFormats, NonFiniteWeightsAreRejected) {
  std::vector<float> x(32, 1.0f);
  x[5] = std::nanf("");
  BlockQ8_0 b;
  EXPECT_THROW(quantize_row_ref(QuantType::q8_0, x.data(), 32, &b, "w"), ValueError);
}

TEST(GgmlFormats, RoundTripErrorIsWithinHalfAStep) {
  const auto x = random_floats(32 * 64, 3);
  for (QuantType t : {QuantType::q8_0, QuantType::q4_0}) {
    std::vector<uint8_t> q(static_cast<size_t>(quant_row_bytes(t, 32 * 64)));
    quantize_row_ref(t, x.data(), 32 * 64, q.data());
    std::vector<float> y(x.size());
    dequantize_row_ref(t, q.data(), 32 * 64, y.data());
    for (size_t b = 0; b < 64; ++b) {
      float amax = 0;
      for (size_t j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
      const float step = t == QuantType::q8_0 ? amax / 127 : amax / 8;
      for (size_t j = 0; j < 32; ++j)
        ASSERT_LE(std::fabs(y[b * 32 + j] - x[b * 32 + j]), step * 1.01f) << quant_traits(t).name << " " << b;
    }
    // Quantizing the dequantized values gives the same blocks (what loading a GGUF file relies on).
    std::vector<uint8_t> q2(q.size());
    quantize_row_ref(t, y.data(), 32 * 64, q2.data());
    EXPECT_EQ(q, q2) << quant_traits(t).name;
  }
}

// Activation rows with edge blocks: zeros, exact ties after scaling (amax 127: id = 1), huge and tiny.
std::vector<float> edge_activations(int64_t k, uint64_t seed) {
  auto x = random_floats(static_cast<size_t>(k), seed);
  for (int64_t j = 0; j < std::min<int64_t>(k, 32); ++j) x[static_cast<size_t>(j)] = 0.0f;
  if (k >= 64)
    for (int64_t j = 32; j < 64; ++j) x[static_cast<size_t>(j)] = (j == 32) ? 127.0f : static_cast<float>(j - 48) + 0.5f;
  if (k >= 96)
    for (int64_t j = 64; j < 96; ++j) x[static_cast<size_t>(j)] *= (j % 2 ? 1e30f : 1e-30f);
  return x;
}

TEST(GgmlKernels, ActivationQuantizationMatchesTheReference) {
  for (int64_t k : {32, 96, 4096}) {
    const auto x = edge_activations(k, static_cast<uint64_t>(k));
    std::vector<BlockQ8_0> ref(static_cast<size_t>(k / 32)), got(ref.size());
    quantize_activations_ref(x.data(), k, ref.data());
    for (QuantPath p : paths()) {
      quantize_activations(x.data(), k, got.data(), p);
      EXPECT_EQ(std::memcmp(ref.data(), got.data(), ref.size() * sizeof(BlockQ8_0)), 0) << quant_path_name(p) << " k=" << k;
    }
  }
}

QuantMatrix random_matrix(QuantType t, int64_t rows, int64_t cols, uint64_t seed, bool foreign) {
  const auto v = random_floats(static_cast<size_t>(rows * cols), seed, 0.05f);
  QuantMatrix q = quantize_matrix(t, Tensor::from_vector(v, {rows, cols}), false, "w");
  if (foreign && t == QuantType::q8_0)  // a file written elsewhere may hold -128
    for (int64_t r = 0; r < rows; ++r) reinterpret_cast<BlockQ8_0*>(q.data.data() + r * q.row_bytes())->qs[3] = -128;
  return q;
}

// Every path gives dot_ref's bits for every element, over GEMV and GEMM tile edges.
TEST(GgmlKernels, EveryPathMatchesTheReferenceExactly) {
  for (QuantType t : {QuantType::q8_0, QuantType::q4_0})
    for (int64_t m : {1, 2, 3, 4, 5, 7, 32})
      for (int64_t n : {1, 2, 3, 5, 8, 17})
        for (int64_t k : {32, 96, 256}) {
          const QuantMatrix w = random_matrix(t, n, k, static_cast<uint64_t>(m * 1000 + n * 10 + k), true);
          const auto x = edge_activations(m * k, static_cast<uint64_t>(m + n + k));
          std::vector<BlockQ8_0> xq(static_cast<size_t>(m * k / 32));
          for (int64_t i = 0; i < m; ++i) quantize_activations_ref(x.data() + i * k, k, xq.data() + i * k / 32);
          std::vector<float> ref(static_cast<size_t>(m * n));
          for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) ref[static_cast<size_t>(i * n + j)] = dot_ref(t, w.row(j), xq.data() + i * k / 32, k / 32);
          for (QuantPath p : paths()) {
            std::vector<float> y(ref.size(), -1.0f);
            quant_matmul(w, x.data(), m, y.data(), p);
            ASSERT_EQ(std::memcmp(y.data(), ref.data(), y.size() * sizeof(float)), 0)
                << quant_traits(t).name << " " << quant_path_name(p) << " m=" << m << " n=" << n << " k=" << k;
          }
        }
}

// The reference dot itself against float64 sums of the dequantized blocks.
TEST(GgmlKernels, ReferenceDotIsTheDequantizedProduct) {
  const int64_t k = 512;
  for (QuantType t : {QuantType::q8_0, QuantType::q4_0}) {
    const QuantMatrix w = random_matrix(t, 3, k, 11, false);
    const auto x = random_floats(static_cast<size_t>(k), 12);
    std::vector<BlockQ8_0> xq(static_cast<size_t>(k / 32));
    quantize_activations_ref(x.data(), k, xq.data());
    std::vector<float> xd(static_cast<size_t>(k)), wd(static_cast<size_t>(k));
    dequantize_row_ref(QuantType::q8_0, xq.data(), k, xd.data());
    for (int64_t j = 0; j < 3; ++j) {
      dequantize_row_ref(t, w.row(j), k, wd.data());
      double exact = 0, mag = 0;
      for (int64_t i = 0; i < k; ++i) {
        exact += double{wd[static_cast<size_t>(i)]} * xd[static_cast<size_t>(i)];
        mag += std::fabs(double{wd[static_cast<size_t>(i)]} * xd[static_cast<size_t>(i)]);
      }
      EXPECT_NEAR(dot_ref(t, w.row(j), xq.data(), k / 32), exact, 1e-6 * mag + 1e-12) << j;
    }
  }
}

TEST(GgmlKernels, ThreadedProductMatchesOneThread) {
  const QuantMatrix w = random_matrix(QuantType::q4_0, 301, 1024, 5, false);
  const auto x = random_floats(static_cast<size_t>(9 * 1024), 6);
  std::vector<float> a(9 * 301), b(9 * 301);
  quant_matmul(w, x.data(), 9, a.data());
  for (int64_t i = 0; i < 9; ++i) quant_matmul(w, x.data() + i * 1024, 1, b.data() + i * 301);
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace mithril::ggml
