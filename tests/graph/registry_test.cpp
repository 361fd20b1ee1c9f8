// Checks that span the op table: every op has kernels, every differentiable op has a
// GradCheck test, and the table is consistent.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "mithril/backends/cpu/registry.h"

namespace mithril {
namespace {

// Ops defined only on bool or integer data; every other op must have f64 and f32 kernels.
bool non_float_op(OpKind k) {
  return k == OpKind::LogicalNot || k == OpKind::LogicalAnd || k == OpKind::LogicalOr || k == OpKind::LogicalXor ||
         k == OpKind::ShiftLeft || k == OpKind::ShiftRight;
}

TEST(Registry, EveryOpHasCpuKernels) {
  const auto& r = cpu::kernel_table();
  for (int i = 0; i < kNumOps; ++i) {
    const auto k = static_cast<OpKind>(i);
    if (non_float_op(k)) {
      bool any = false;
      for (int d = 0; d < kNumDTypes; ++d) any = any || r.has(k, static_cast<DType>(d));
      EXPECT_TRUE(any) << op_name(k) << " has no kernel";
      continue;
    }
    EXPECT_TRUE(r.has(k, DType::f64)) << op_name(k) << " lacks a float64 kernel";
    EXPECT_TRUE(r.has(k, DType::f32)) << op_name(k) << " lacks a float32 kernel";
  }
}

TEST(Registry, EveryDifferentiableOpHasAGradCheck) {
  std::set<std::string> tests;
  const auto* unit = ::testing::UnitTest::GetInstance();
  for (int s = 0; s < unit->total_test_suite_count(); ++s) {
    const auto* suite = unit->GetTestSuite(s);
    if (std::string(suite->name()) != "GradCheck") continue;
    for (int t = 0; t < suite->total_test_count(); ++t) tests.insert(suite->GetTestInfo(t)->name());
  }
  for (const OpInfo& info : kOpTable)
    if (info.differentiable) EXPECT_TRUE(tests.count(std::string(info.kind))) << "missing GradCheck." << info.kind;
}

TEST(Registry, NamesRoundTrip) {
  for (int i = 0; i < kNumOps; ++i) {
    const auto k = static_cast<OpKind>(i);
    ASSERT_EQ(op_kind_from_name(op_name(k)), k);
  }
  EXPECT_FALSE(op_kind_from_name("no_such_op").has_value());
}

}  // namespace
}  // namespace mithril
