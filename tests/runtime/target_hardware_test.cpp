// The target_hardware compile option: a cap on the ISA of the kernels a program picks, checked
// against the machine it runs on.
#include <gtest/gtest.h>

#include "mithril/backends/cpu/cpu_backend.h"
#include "mithril/core/cpu_features.h"
#include "mithril/core/error.h"
#include "mithril/logical/model.h"
#include "mithril/runtime/compile.h"
#include "mithril/runtime/compile_options.h"
#include "support/error_of.h"

namespace mithril {
namespace {

using logical::Model;
using testing::error_of;

// The ISA of the kernel of a one-op program (tanh has a baseline and an AVX2 kernel).
std::string tanh_kernel_isa(const std::string& target) {
  CompileOptions o = compile_options_from_json({{"target_hardware", target}, {"inference", true}},
                                               {.backend = CpuBackend::make({.precision = DType::f32})});
  const PhysicalModel pm = compile(Model::primitive("Tanh"), o);
  const ProgramReport r = pm.program_report(std::map<std::string, Shape>{{"input", {64}}});
  EXPECT_FALSE(r.heaviest_steps.empty());
  return r.heaviest_steps.empty() ? "" : r.heaviest_steps[0].isa;
}

TEST(TargetHardware, CapsTheKernelsOfTheProgram) {
  EXPECT_EQ(tanh_kernel_isa("baseline"), "baseline");
  EXPECT_EQ(tanh_kernel_isa("native"), cpu_has(Isa::avx2_fma) ? "avx2" : "baseline");
  if (cpu_hardware_has(Isa::x86_64_v2)) EXPECT_EQ(tanh_kernel_isa("x86-64-v2"), "baseline");
  if (cpu_hardware_has(Isa::avx2_fma)) EXPECT_EQ(tanh_kernel_isa("x86-64-v3"), cpu_has(Isa::avx2_fma) ? "avx2" : "baseline");
}

TEST(TargetHardware, ALevelTheMachineLacksIsAnErrorNamingWhatItHas) {
  for (IsaLevel l : {IsaLevel::x86_64_v2, IsaLevel::x86_64_v3, IsaLevel::x86_64_v4, IsaLevel::amx}) {
    if (l <= hardware_isa_level()) continue;
    const std::string name = level_name(l);
    const std::string expected = "[compile options] target_hardware '" + name + "' is not available: this machine has " +
                                 hardware_isa_list() + " (at most '" + level_name(hardware_isa_level()) + "')";
    EXPECT_EQ(error_of<ValueError>([&] { (void)compile_options_from_json({{"target_hardware", name}}); }), expected);
    CompileOptions o;
    o.target_hardware.name = name;
    EXPECT_EQ(error_of<ValueError>([&] { (void)compile(Model::primitive("Tanh"), o); }), expected);
  }
  EXPECT_EQ(error_of<ValueError>([] { (void)compile_options_from_json({{"target_hardware", "tpu"}}); }),
            "[compile options] target_hardware='tpu' is not one of native, baseline, x86-64-v2, x86-64-v3 (avx2), "
            "x86-64-v4 (avx512), amx");
  EXPECT_THROW((void)compile_options_from_json({{"target_hardware", 3}}), ValueError);
}

TEST(TargetHardware, RoundTripsThroughJson) {
  const CompileOptions o = compile_options_from_json({{"target_hardware", "baseline"}});
  EXPECT_EQ(o.target_hardware.name, "baseline");
  EXPECT_EQ(compile_options_to_json(o).at("target_hardware"), "baseline");
  EXPECT_EQ(compile_options_to_json(CompileOptions{}).at("target_hardware"), "native");
}

}  // namespace
}  // namespace mithril
