// The backend seam (backends/backend.h): backends by name and by object, options checked by the
// backend, and a backend's supports() deciding what compile() may give it.
#include <gtest/gtest.h>

#include "mithril/backends/backend.h"
#include "mithril/backends/cpu/cpu_backend.h"
#include "mithril/backends/cpu/registry.h"
#include "mithril/backends/reference/reference_backend.h"
#include "mithril/core/error.h"
#include "mithril/runtime/compile.h"
#include "support/error_of.h"
#include "support/example_model.h"

namespace mithril {
namespace {

using testing::error_of;
using testing::example_model;

DataMap example_inputs(DType dtype) {
  return {{"x", Tensor::from_doubles({1, -2, 3, 0.5, 1, -1}, {2, 3}, dtype)},
          {"w", Tensor::from_doubles({1, 0, 1, -1, 2, 0.5}, {2, 3}, dtype)},
          {"b", Tensor::from_doubles({0.25, -0.5}, {2}, dtype)}};
}

TEST(BackendRegistry, ListsTheBackendsOfThisBuildAndNamesThemOnAnUnknownOne) {
  EXPECT_EQ(BackendRegistry::instance().names(), (std::vector<std::string>{"cpu", "reference", "ggml", "jit"}));
  EXPECT_EQ(default_backend()->name(), "cpu");
  EXPECT_EQ(default_backend()->precision(), DType::f64);
  EXPECT_EQ(make_backend("reference", {.precision = DType::f32})->precision(), DType::f32);
  EXPECT_EQ(error_of<KeyError>([] { make_backend("vulkan"); }),
            "backend 'vulkan' is not available in this build (backends: cpu, reference, ggml, jit)");
}

TEST(Backend, ChecksItsOwnOptions) {
  EXPECT_EQ(error_of<ValueError>([] { CpuBackend({.precision = DType::i32}); }),
            "[backend cpu] precision i32 is not available (precisions: float64, float32, bfloat16, float16)");
  EXPECT_EQ(error_of<ValueError>([] { CpuBackend({.device = "cuda:0"}); }),
            "[backend cpu] device 'cuda:0' is not available: this build has no GPU or TPU backend (devices: cpu)");
  EXPECT_EQ(error_of<ValueError>([] { CpuBackend({.mem_size = -1}); }),
            "[backend cpu] mem_size must be >= 0 bytes, got -1");
  EXPECT_EQ(error_of<ValueError>([] { make_backend("cpu", {.quantize = "q4_0"}); }),
            "[backend cpu] quantize 'q4_0' is not available: this backend computes in floating point only "
            "(float64, float32, bfloat16, float16)");
  EXPECT_EQ(CpuBackend({.device = "CPU"}).options().device, "cpu");
}

TEST(Backend, CompileTakesABackendObjectAndItsPrecision) {
  const PhysicalModel f32 = compile(example_model(), CpuBackend({.precision = DType::f32}));
  EXPECT_EQ(f32.backend().name(), "cpu");
  // float64 inputs are cast to the backend precision: the outputs are float32.
  const Tensor y32 = f32.evaluate(example_inputs(DType::f64)).at("y").tensor;
  EXPECT_EQ(y32.dtype(), DType::f32);
  const Tensor y64 = compile(example_model(), ReferenceBackend()).evaluate(example_inputs(DType::f64)).at("y").tensor;
  ASSERT_EQ(y64.dtype(), DType::f64);
  const std::vector<double> a = y32.to_doubles(), b = y64.to_doubles();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-6);
}

// A backend of a test's own: the cpu kernels, but no relu, with the reason.
class NoReluBackend final : public Backend {
 public:
  NoReluBackend() : Backend({}, Capabilities{"no_relu", {"cpu"}, {DType::f64}, {}}) {}
  std::string_view name() const override { return "no_relu"; }
  const KernelTable& kernels() const override { return cpu::kernel_table(); }
  Support supports(const Graph& graph, const Node& node) const override {
    if (node.op->kind() == OpKind::Relu) return Support::no("relu is not offered here");
    return Backend::supports(graph, node);
  }
  std::unique_ptr<Executable> compile(const GraphProgram& program, const ExecutableOptions& options) const override {
    return CpuBackend().compile(program, options);
  }
};

TEST(Backend, ANodeItDoesNotSupportIsAKernelErrorWithItsReason) {
  CompileOptions unfused;  // fused, the relu would be the epilogue of a fused_linear node
  unfused.optimizations.operator_fusion = false;
  const PhysicalModel pm = compile(example_model(), std::make_shared<NoReluBackend>(), unfused);
  const std::string e = error_of<KernelError>([&] { pm.evaluate(example_inputs(DType::f64)); });
  EXPECT_NE(e.find("[compile] backend no_relu cannot run node"), std::string::npos) << e;
  EXPECT_NE(e.find("relu is not offered here"), std::string::npos) << e;
}

}  // namespace
}  // namespace mithril
