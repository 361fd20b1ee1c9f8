// Run-time ISA detection: the levels, their names, and the consistency of what the machine
// reports (each level implies the one below it), whatever this machine has.
#include "mithril/core/cpu_features.h"

#include <gtest/gtest.h>

#include "mithril/core/error.h"
#include "support/error_of.h"

namespace mithril {
namespace {

using testing::error_of;

TEST(CpuFeatures, LevelNamesParse) {
  EXPECT_EQ(parse_isa_level("baseline", "x"), IsaLevel::baseline);
  EXPECT_EQ(parse_isa_level("scalar", "x"), IsaLevel::baseline);
  EXPECT_EQ(parse_isa_level("x86-64-v2", "x"), IsaLevel::x86_64_v2);
  EXPECT_EQ(parse_isa_level("x86-64-v3", "x"), IsaLevel::x86_64_v3);
  EXPECT_EQ(parse_isa_level("AVX2", "x"), IsaLevel::x86_64_v3);
  EXPECT_EQ(parse_isa_level("x86-64-v4", "x"), IsaLevel::x86_64_v4);
  EXPECT_EQ(parse_isa_level("avx512", "x"), IsaLevel::x86_64_v4);
  EXPECT_EQ(parse_isa_level("amx", "x"), IsaLevel::amx);
  EXPECT_EQ(parse_isa_level("native", "x"), hardware_isa_level());
  EXPECT_EQ(error_of<ValueError>([] { (void)parse_isa_level("sse9", "MITHRIL_ISA"); }),
            "MITHRIL_ISA='sse9' is not one of native, baseline, x86-64-v2, x86-64-v3 (avx2), x86-64-v4 (avx512), amx");
  for (IsaLevel l : {IsaLevel::baseline, IsaLevel::x86_64_v2, IsaLevel::x86_64_v3, IsaLevel::x86_64_v4, IsaLevel::amx})
    EXPECT_EQ(parse_isa_level(level_name(l), "x"), l);
}

TEST(CpuFeatures, EveryIsaImpliesItsLevelBelow) {
  EXPECT_TRUE(cpu_hardware_has(Isa::baseline));
  auto implies = [](Isa a, Isa b) { return !cpu_hardware_has(a) || cpu_hardware_has(b); };
  EXPECT_TRUE(implies(Isa::avx2_fma, Isa::x86_64_v2));
  EXPECT_TRUE(implies(Isa::avx512f, Isa::avx2_fma));
  EXPECT_TRUE(implies(Isa::avx512, Isa::avx512f));
  for (Isa i : {Isa::avx512_vnni, Isa::avx512_bf16, Isa::avx512_fp16, Isa::amx_bf16, Isa::amx_int8})
    EXPECT_TRUE(implies(i, Isa::avx512)) << isa_name(i);
  const IsaLevel hw = hardware_isa_level();
  EXPECT_EQ(hw >= IsaLevel::x86_64_v3, cpu_hardware_has(Isa::avx2_fma));
  EXPECT_EQ(hw >= IsaLevel::x86_64_v4, cpu_hardware_has(Isa::avx512));
  EXPECT_EQ(hw >= IsaLevel::amx, cpu_hardware_has(Isa::amx_bf16));
  // What MITHRIL_ISA admits is a subset of the hardware, and a cap admits nothing above it.
  for (Isa i : {Isa::baseline, Isa::x86_64_v2, Isa::avx2_fma, Isa::avx512f, Isa::avx512, Isa::amx_bf16}) {
    EXPECT_TRUE(!cpu_has(i) || cpu_hardware_has(i)) << isa_name(i);
    EXPECT_EQ(cpu_has(i, IsaLevel::baseline), i == Isa::baseline) << isa_name(i);
    EXPECT_TRUE(!cpu_has(i, IsaLevel::x86_64_v3) || isa_level(i) <= IsaLevel::x86_64_v3) << isa_name(i);
  }
  EXPECT_TRUE(cpu_has(best_isa()));
  EXPECT_NE(cpu_features_string().find("(kernels: " + isa_name(best_isa())), std::string::npos);
}

}  // namespace
}  // namespace mithril
