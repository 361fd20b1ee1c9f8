// The ggml backend end to end: which products it quantizes (and says so), how close the quantized
// model stays to float32, the mem_size check at compile time, and its options from JSON.
#include <gtest/gtest.h>

#include <cmath>

#include "mithril/backends/cpu/cpu_backend.h"
#include "mithril/backends/ggml/ggml_backend.h"
#include "mithril/core/error.h"
#include "mithril/core/random.h"
#include "mithril/runtime/compile.h"
#include "mithril/runtime/compile_options.h"
#include "mithril/train/models.h"

namespace mithril {
namespace {

struct Mlp {
  train::Network net;
  train::TensorMap params;
};

// w0 is (hidden, inputs), w1 (classes, hidden).
Mlp mlp(int64_t inputs, int64_t hidden, int64_t classes) {
  Mlp m{train::mlp_classifier(inputs, {hidden}, classes), {}};
  Rng rng(42);
  m.params = train::init_params(m.net.params, rng, DType::f32);
  return m;
}

CompileOptions with_params(const Mlp& m) {
  CompileOptions o;
  o.inference = true;
  for (const auto& [k, t] : m.params) o.constant_tensors[k] = Data(t);
  return o;
}

Tensor random_input(int64_t rows, int64_t cols, uint64_t seed) {
  Rng rng(seed);
  std::vector<double> v(static_cast<size_t>(rows * cols));
  for (double& x : v) x = rng.normal();
  return Tensor::from_doubles(v, {rows, cols}, DType::f32);
}

// max |a - b| / max |b|
double relative_error(const Tensor& a, const Tensor& b) {
  const auto x = a.to_doubles(), y = b.to_doubles();
  double err = 0, mag = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    err = std::max(err, std::fabs(x[i] - y[i]));
    mag = std::max(mag, std::fabs(y[i]));
  }
  return err / mag;
}

TEST(GgmlBackend, QuantizedMlpStaysCloseToFloat32) {
  const Mlp m = mlp(64, 256, 10);
  const Tensor x = random_input(5, 64, 1);
  const Tensor ref = compile(m.net.model, CpuBackend({.precision = DType::f32}), with_params(m))
                         .evaluate({{"input", x}}).at("output").tensor;
  for (const auto& [format, tolerance] : {std::pair{"q8_0", 0.02}, {"int8", 0.02}, {"q4_0", 0.2}}) {
    const PhysicalModel pm = compile(m.net.model, GgmlBackend({.quantize = format}), with_params(m));
    const Tensor y = pm.evaluate({{"input", x}}).at("output").tensor;
    EXPECT_EQ(y.dtype(), DType::f32);
    EXPECT_LT(relative_error(y, ref), tolerance) << format;
    // One row at a time (the GEMV path) gives the bits of the batch (the GEMM path).
    const Tensor y0 = pm.evaluate({{"input", x.slice(0, 0, 1).contiguous()}}).at("output").tensor;
    EXPECT_EQ(y0.to_doubles(), y.slice(0, 0, 1).contiguous().to_doubles()) << format;
  }
  // Without quantize it is a float32 backend.
  const Tensor f = compile(m.net.model, GgmlBackend({.quantize = ""}), with_params(m)).evaluate({{"input", x}}).at("output").tensor;
  EXPECT_LT(relative_error(f, ref), 1e-5);
}

TEST(GgmlBackend, ReportSaysWhichLayersAreQuantizedAndWhy) {
  const Mlp m = mlp(40, 64, 10);  // w0 has rows of 40 values: not a multiple of 32
  const PhysicalModel pm = compile(m.net.model, GgmlBackend({.quantize = "q4_0"}), with_params(m));
  const std::string report = pm.program_report({{"input", {3, 40}}}).backend_report;
  EXPECT_NE(report.find("quantize q4_0"), std::string::npos) << report;
  EXPECT_NE(report.find("10x64        q4_0"), std::string::npos) << report;
  EXPECT_NE(report.find("in floating point: rows of 40 values are not a multiple of 32"), std::string::npos) << report;
  EXPECT_NE(report.find("weights "), std::string::npos) << report;

  // A weight fed at run time cannot be quantized at compile time.
  CompileOptions o;
  o.inference = true;
  const PhysicalModel runtime_w = compile(m.net.model, GgmlBackend({.quantize = "q8_0"}), o);
  std::map<std::string, Shape> shapes{{"input", {2, 40}}};
  for (const auto& [k, t] : m.params) shapes[k] = t.shape();
  const std::string r2 = runtime_w.program_report(shapes).backend_report;
  EXPECT_NE(r2.find("the weight is not a constant"), std::string::npos) << r2;
}

TEST(GgmlBackend, MemSizeIsCheckedAtCompileTimeWithTheBreakdown) {
  const Mlp m = mlp(64, 256, 10);
  CompileOptions o = with_params(m);
  o.static_inference = true;
  o.shapes = {{"input", {4, 64}}};
  try {
    compile(m.net.model, GgmlBackend({.quantize = "q8_0", .mem_size = 4096}), o);
    FAIL() << "expected a ValueError";
  } catch (const ValueError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("mem_size is 4096 bytes"), std::string::npos) << msg;
    EXPECT_NE(msg.find("for weights ("), std::string::npos) << msg;
    EXPECT_NE(msg.find("for activations ("), std::string::npos) << msg;
  }
  // Enough room: q8_0 weights are 34/128 of float32 (w0 64x256 and w1 256x10 quantized; biases float).
  const PhysicalModel pm = compile(m.net.model, GgmlBackend({.quantize = "q8_0", .mem_size = 40000}), o);
  EXPECT_EQ(pm.evaluate({{"input", random_input(4, 64, 3)}}).at("output").tensor.shape(), (Shape{4, 10}));
}

TEST(GgmlBackend, OptionsFromJsonAndTheirErrors) {
  const CompileOptions o = compile_options_from_json(
      logical::json::parse(R"({"backend": {"name": "ggml", "quantize": "int8", "precision": "float32", "mem_size": 1000000}})"));
  ASSERT_TRUE(o.backend);
  EXPECT_EQ(o.backend->name(), "ggml");
  EXPECT_EQ(o.backend->options().quantize, "int8");
  EXPECT_EQ(o.backend->options().mem_size, 1000000);
  try {
    make_backend("ggml", {.quantize = "q5_1"});
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_EQ(std::string(e.what()), "[backend ggml] quantize 'q5_1' is not available: formats: int8, q8_0, q4_0");
  }
  EXPECT_THROW(make_backend("ggml", {.precision = DType::bf16}), ValueError);
}

}  // namespace
}  // namespace mithril
