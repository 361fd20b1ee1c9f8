// f16/bf16 support: the bulk conversions against the scalar RNE conversions in core/dtype, every
// op family's 16-bit kernels against the float32 kernels on the same (16-bit representable)
// inputs, and whole models compiled in bf16/f16, forward and gradients, against float32.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>

#include <fmt/format.h>

#include "mithril/backends/cpu/convert.h"
#include "mithril/backends/cpu/registry.h"
#include "mithril/logical/library.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/conv.h"
#include "mithril/ops/linalg.h"
#include "mithril/ops/loss.h"
#include "mithril/ops/reduce.h"
#include "mithril/ops/unary.h"
#include "mithril/runtime/compile.h"
#include "support/gradcheck.h"

namespace mithril {
namespace {

using testing::evaluate;
using testing::GraphFn;
using testing::random_tensor;

TEST(LowPrecision, WidenMatchesScalarConversionForEveryBitPattern) {
  std::vector<uint16_t> bits(65536);
  for (size_t i = 0; i < bits.size(); ++i) bits[i] = static_cast<uint16_t>(i);
  std::vector<float> out(bits.size());
  for (DType t : {DType::f16, DType::bf16}) {
    cpu::widen_to_f32(t, bits.data(), out.data(), static_cast<int64_t>(bits.size()));
    for (size_t i = 0; i < bits.size(); ++i) {
      const float ref = t == DType::f16 ? f16_to_float(bits[i]) : bf16_to_float(bits[i]);
      if (std::isnan(ref)) ASSERT_TRUE(std::isnan(out[i])) << dtype_name(t) << " bits " << i;
      else ASSERT_EQ(std::bit_cast<uint32_t>(out[i]), std::bit_cast<uint32_t>(ref)) << dtype_name(t) << " bits " << i;
    }
  }
}

TEST(LowPrecision, NarrowRoundsToNearestEvenLikeTheScalarConversion) {
  std::vector<float> x = {0.0f, -0.0f, 1.0f, -1.5f, 65504.0f, 65520.0f, 1e-8f, 5.96e-8f, 3e38f,
                          std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                          std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::denorm_min()};
  // Exact ties in both formats: 1 + 2^-8 (bf16 tie) and 1 + 2^-11 (f16 tie), and their odd neighbours.
  for (float t : {1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, 1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f}) {
    x.push_back(t);
    x.push_back(-t);
  }
  std::mt19937 rng(3);
  std::uniform_int_distribution<uint32_t> any_bits;
  for (int i = 0; i < 100000; ++i) x.push_back(std::bit_cast<float>(any_bits(rng)));
  std::vector<uint16_t> out(x.size());
  for (DType t : {DType::f16, DType::bf16}) {
    cpu::narrow_from_f32(t, x.data(), out.data(), static_cast<int64_t>(x.size()));
    for (size_t i = 0; i < x.size(); ++i) {
      const uint16_t ref = t == DType::f16 ? float_to_f16(x[i]) : float_to_bf16(x[i]);
      if (std::isnan(x[i])) {
        const float back = t == DType::f16 ? f16_to_float(out[i]) : bf16_to_float(out[i]);
        ASSERT_TRUE(std::isnan(back)) << dtype_name(t) << " value " << x[i];
      } else {
        ASSERT_EQ(out[i], ref) << dtype_name(t) << " value " << x[i];
      }
    }
  }
}

TEST(LowPrecision, EveryOpWithAFloat32KernelHas16BitKernels) {
  const auto& r = cpu::kernel_table();
  for (int i = 0; i < kNumOps; ++i) {
    const auto k = static_cast<OpKind>(i);
    if (!r.has(k, DType::f32)) continue;
    EXPECT_TRUE(r.has(k, DType::bf16)) << op_name(k) << " lacks a bf16 kernel";
    EXPECT_TRUE(r.has(k, DType::f16)) << op_name(k) << " lacks an f16 kernel";
  }
}

// Half an ulp of the 16-bit format (the output rounding) plus float32 noise.
double rtol_for(DType t) { return t == DType::bf16 ? 0x1p-8 : 0x1p-11; }

// Runs `fn` on the inputs rounded to each 16-bit type, and on the same values in float32;
// each float output must be the float32 result rounded (within the format's half ulp, plus
// `extra_rtol` for kernels that sum in another order, such as the 16-bit GEMV).
void expect_matches_f32(const GraphFn& fn, const std::vector<Tensor>& inputs, double extra_rtol = 0,
                        double atol = 1e-6) {
  for (DType t : {DType::bf16, DType::f16}) {
    std::vector<Tensor> low, f32;
    for (const Tensor& x : inputs) {
      low.push_back(is_float(x.dtype()) ? x.astype(t) : x);
      f32.push_back(is_float(x.dtype()) ? low.back().astype(DType::f32) : x);
    }
    const std::vector<Tensor> got = evaluate(fn, low), ref = evaluate(fn, f32);
    ASSERT_EQ(got.size(), ref.size());
    for (size_t o = 0; o < got.size(); ++o) {
      SCOPED_TRACE(fmt::format("{} output {}", dtype_name(t), o));
      if (is_float(ref[o].dtype())) EXPECT_EQ(got[o].dtype(), t);
      testing::expect_close(got[o], ref[o], rtol_for(t) + extra_rtol, atol);
    }
  }
}

Tensor rand(const Shape& s, uint64_t seed, double lo = -2, double hi = 2) { return random_tensor(s, DType::f32, seed, lo, hi); }

TEST(LowPrecision, UnaryOps) {
  const Tensor x = rand({3, 50000}, 1);  // large enough for the blocked, threaded path
  const Tensor pos = rand({7, 11}, 2, 0.1, 3);
  for (OpKind k : {OpKind::Neg, OpKind::Abs, OpKind::Square, OpKind::Exp, OpKind::Sin, OpKind::Cos, OpKind::Tanh,
                   OpKind::Sigmoid, OpKind::Relu, OpKind::LeakyRelu, OpKind::Softplus, OpKind::Gelu, OpKind::Erf,
                   OpKind::Floor, OpKind::Sign}) {
    SCOPED_TRACE(std::string(op_name(k)));
    expect_matches_f32([k](Graph&, const std::vector<Var>& v) { return std::vector{ops::unary(k, v[0])}; }, {x});
  }
  expect_matches_f32([](Graph&, const std::vector<Var>& v) { return std::vector{ops::stable_reciprocal(v[0], 0.5)}; }, {x});
  for (OpKind k : {OpKind::Sqrt, OpKind::Log, OpKind::Log1p, OpKind::Reciprocal}) {
    SCOPED_TRACE(std::string(op_name(k)));
    expect_matches_f32([k](Graph&, const std::vector<Var>& v) { return std::vector{ops::unary(k, v[0])}; }, {pos});
  }
}

TEST(LowPrecision, BinaryOpsWithBroadcastingAndBoolResults) {
  const Tensor a = rand({4, 9000}, 3), b = rand({4, 9000}, 4), row = rand({9000}, 5), pos = rand({4, 9000}, 6, 0.5, 2);
  for (OpKind k : {OpKind::Add, OpKind::Sub, OpKind::Mul, OpKind::Div, OpKind::Maximum, OpKind::Minimum, OpKind::Less,
                   OpKind::GreaterEqual, OpKind::Equal}) {
    SCOPED_TRACE(std::string(op_name(k)));
    expect_matches_f32([k](Graph&, const std::vector<Var>& v) { return std::vector{ops::binary(k, v[0], v[1])}; }, {a, b});
    expect_matches_f32([k](Graph&, const std::vector<Var>& v) { return std::vector{ops::binary(k, v[0], v[1])}; }, {a, row});
  }
  expect_matches_f32([](Graph&, const std::vector<Var>& v) { return std::vector{ops::pow(v[0], v[1])}; }, {pos, b});
  expect_matches_f32(
      [](Graph&, const std::vector<Var>& v) { return std::vector{ops::where(ops::less(v[0], v[1]), v[0], v[1])}; }, {a, b});
}

TEST(LowPrecision, Reductions) {
  const Tensor x = rand({6, 40, 30}, 7);
  auto check = [&](auto f) { expect_matches_f32([f](Graph&, const std::vector<Var>& v) { return std::vector{f(v[0])}; }, {x}); };
  check([](const Var& v) { return ops::sum(v, Axes{1}); });
  check([](const Var& v) { return ops::mean(v, Axes{0, 2}, true); });
  check([](const Var& v) { return ops::max(v, Axes{2}); });
  check([](const Var& v) { return ops::variance(v, Axes{1}); });
  check([](const Var& v) { return ops::logsumexp(v, Axes{2}); });
  check([](const Var& v) { return ops::softmax(v, -1); });
  check([](const Var& v) { return ops::log_softmax(v, 1); });
  check([](const Var& v) { return ops::cumsum(v, 1); });
  check([](const Var& v) { return ops::argmax(v, 2); });
}

TEST(LowPrecision, MatMulGemvAndGemmPaths) {
  auto mm = [](Graph&, const std::vector<Var>& v) { return std::vector{ops::matmul(v[0], v[1])}; };
  // Batch-1 rows: the 16-bit GEMV (sums in another order than OpenBLAS: allow k * eps(f32)).
  expect_matches_f32(mm, {rand({1, 300}, 8), rand({300, 700}, 9)}, 1e-4, 1e-4);
  expect_matches_f32(mm, {rand({300}, 10), rand({300, 5}, 11)}, 1e-4, 1e-4);
  // General and batched products go through the float32 GEMM.
  expect_matches_f32(mm, {rand({17, 64}, 12), rand({64, 33}, 13)}, 1e-5, 1e-5);
  expect_matches_f32(mm, {rand({3, 5, 8}, 14), rand({3, 8, 6}, 15)}, 1e-5, 1e-5);
}

TEST(LowPrecision, ConvolutionPoolingAndLosses) {
  Conv2dParams cp;
  cp.stride = {2, 2};
  cp.padding = {1, 1, 1, 1};
  expect_matches_f32([cp](Graph&, const std::vector<Var>& v) { return std::vector{ops::conv2d(v[0], v[1], cp)}; },
                     {rand({2, 3, 12, 12}, 16), rand({4, 3, 3, 3}, 17)}, 1e-5, 1e-5);
  Pool2dParams pp;
  pp.kernel = {2, 2};
  expect_matches_f32([pp](Graph&, const std::vector<Var>& v) { return std::vector{ops::max_pool2d(v[0], pp)}; },
                     {rand({2, 3, 8, 8}, 18)});
  expect_matches_f32([pp](Graph&, const std::vector<Var>& v) { return std::vector{ops::avg_pool2d(v[0], pp)}; },
                     {rand({2, 3, 8, 8}, 19)});
  const Tensor a = rand({16, 10}, 20), b = rand({16, 10}, 21);
  expect_matches_f32([](Graph&, const std::vector<Var>& v) { return std::vector{ops::squared_error(v[0], v[1])}; }, {a, b});
  expect_matches_f32([](Graph&, const std::vector<Var>& v) { return std::vector{ops::absolute_error(v[0], v[1])}; }, {a, b});
  const Tensor labels = Tensor::from_vector<int64_t>({0, 3, 9, 2, 5, 1, 1, 7, 8, 0, 4, 6, 2, 3, 9, 5}, {16});
  expect_matches_f32([](Graph&, const std::vector<Var>& v) { return std::vector{ops::cross_entropy(v[0], v[1])}; },
                     {a, labels});
}

// An MLP with a loss, compiled in each 16-bit dtype, against the same model in float32 on the
// same (rounded) parameters: outputs and gradients agree to a few 16-bit ulps.
// Batch 16 (the fused 16-bit GEMM with a bias/relu epilogue) and batch 1 (the 16-bit GEMVs).
TEST(LowPrecision, CompiledModelRunsForwardAndBackward) {
  using namespace logical;
  for (const int64_t batch : {16, 1})
  for (const char* act : {"Sigmoid", "Relu"})
  for (DType t : {DType::bf16, DType::f16}) {
    const Model mlp = MLP({Model::primitive(act), Model::primitive("Tanh")}, {32, 8});
    SCOPED_TRACE(fmt::format("{} batch {} {}", dtype_name(t), batch, act));
    CompileOptions lo;
    lo.set_precision(t);
    CompileOptions hi;
    hi.set_precision(DType::f32);
    const PhysicalModel low = compile(mlp, lo), ref = compile(mlp, hi);
    DataMap in_low, in_ref;
    const std::map<std::string, Shape> shapes = {{"input", {batch, 20}}, {"weight0", {32, 20}}, {"bias0", {32}},
                                                 {"weight1", {8, 32}}, {"bias1", {8}}};
    uint64_t seed = 30;
    for (const auto& [key, shape] : shapes) {
      const Tensor v = random_tensor(shape, t, seed++, -1, 1);
      in_low[key] = v;
      in_ref[key] = v.astype(DType::f32);
    }
    const Tensor cot = random_tensor({batch, 8}, DType::f32, 99, -1, 1);
    const auto r_low = low.evaluate(in_low, {{"output", cot.astype(t)}});
    const auto r_ref = ref.evaluate(in_ref, {{"output", cot.astype(t).astype(DType::f32)}});
    const double tol = 8 * rtol_for(t);
    EXPECT_EQ(r_low.outputs.at("output").tensor.dtype(), t);
    testing::expect_close(r_low.outputs.at("output").tensor, r_ref.outputs.at("output").tensor, tol, tol);
    ASSERT_EQ(r_low.gradients.size(), r_ref.gradients.size());
    for (const auto& [key, g] : r_ref.gradients) {
      SCOPED_TRACE(key);
      EXPECT_EQ(r_low.gradients.at(key).tensor.dtype(), t);
      testing::expect_close(r_low.gradients.at(key).tensor, g.tensor, tol, 4 * tol);
    }
  }
}

}  // namespace
}  // namespace mithril
