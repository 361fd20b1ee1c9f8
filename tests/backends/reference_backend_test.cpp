// The reference backend through the public API: models compiled with compile(model,
// ReferenceBackend::make(), options) give the outputs and gradients of the cpu backend, fusion
// is off on it, and what it cannot run is refused with a reason.
#include <gtest/gtest.h>

#include "mithril/backends/cpu/cpu_backend.h"
#include "mithril/backends/reference/reference_backend.h"
#include "mithril/core/error.h"
#include "mithril/logical/library.h"
#include "mithril/logical/train_model.h"
#include "mithril/runtime/compile.h"
#include "support/gradcheck.h"

namespace mithril {
namespace {

using logical::Model;

DataMap mlp_inputs(DType t) {
  const std::map<std::string, Shape> shapes = {{"input", {5, 4}}, {"weight0", {6, 4}}, {"bias0", {6}},
                                               {"weight1", {3, 6}}, {"bias1", {3}}};
  DataMap in;
  uint64_t seed = 11;
  for (const auto& [key, shape] : shapes) in[key] = testing::random_tensor(shape, t, seed++, -1, 1);
  return in;
}

void expect_same_maps(const DataMap& got, const DataMap& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [key, d] : want) {
    SCOPED_TRACE(key);
    ASSERT_TRUE(got.count(key));
    testing::expect_close(got.at(key).tensor, d.tensor, tol, tol);
  }
}

TEST(ReferenceBackend, ModelOutputsAndGradientsMatchTheCpuBackend) {
  const Model mlp = logical::MLP({Model::primitive("Tanh"), Model::primitive("Sigmoid")}, {6, 3});
  for (DType t : {DType::f64, DType::f32}) {
    SCOPED_TRACE(std::string(dtype_name(t)));
    const PhysicalModel ref = compile(mlp, ReferenceBackend::make({.precision = t}));
    const PhysicalModel cpu = compile(mlp, CpuBackend::make({.precision = t}));
    const DataMap in = mlp_inputs(t);
    const DataMap ct = {{"output", testing::random_tensor({5, 3}, t, 3, -1, 1)}};
    const auto r = ref.evaluate(in, ct), c = cpu.evaluate(in, ct);
    const double tol = t == DType::f64 ? 1e-12 : 1e-5;
    expect_same_maps(r.outputs, c.outputs, tol);
    expect_same_maps(r.gradients, c.gradients, tol);
    EXPECT_FALSE(r.gradients.empty());
  }
}

TEST(ReferenceBackend, TrainingModelLossAndGradientsMatchTheCpuBackend) {
  logical::TrainModel tm(logical::MLP({Model::primitive("Relu"), Model::primitive("Softplus")}, {6, 3}));
  tm.add_loss({Model::primitive("SquaredError"), "output", std::string("target"), {}});
  const Model m = tm.build();
  const PhysicalModel ref = compile(m, ReferenceBackend::make());
  const PhysicalModel cpu = compile(m, CpuBackend::make());
  DataMap in = mlp_inputs(DType::f64);
  in["target"] = testing::random_tensor({5, 3}, DType::f64, 40, -1, 1);
  const DataMap ct = {{"final_cost", Tensor::scalar(1.0, DType::f64)}};
  const auto r = ref.evaluate(in, ct), c = cpu.evaluate(in, ct);
  expect_same_maps(r.outputs, c.outputs, 1e-12);
  expect_same_maps(r.gradients, c.gradients, 1e-12);
  EXPECT_TRUE(r.gradients.count("weight0"));
}

TEST(ReferenceBackend, TurnsFusionOffAndKeepsEveryValue) {
  const Model mlp = logical::MLP({Model::primitive("Tanh"), Model::primitive("Sigmoid")}, {6, 3});
  const PhysicalModel ref = compile(mlp, ReferenceBackend::make(), {.inference = true});
  const DataMap in = mlp_inputs(DType::f64);
  const ProgramReport report = ref.program_report(in);
  EXPECT_EQ(report.graph.find("fused"), std::string::npos) << report.graph;
  // The same model fuses on the cpu backend.
  const PhysicalModel cpu = compile(mlp, CpuBackend::make(), {.inference = true});
  EXPECT_NE(cpu.program_report(in).graph.find("fused"), std::string::npos);
  EXPECT_FALSE(ReferenceBackend().passes({}).operator_fusion);
}

TEST(ReferenceBackend, RejectsQuantizationAndUnknownDevices) {
  EXPECT_THROW(ReferenceBackend::from_options({.quantize = "q8_0"}), ValueError);
  EXPECT_THROW(ReferenceBackend(ReferenceOptions{.device = "cuda"}), ValueError);
}

}  // namespace
}  // namespace mithril
