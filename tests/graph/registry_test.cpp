// Checks that span the op table: every op has kernels, every differentiable op has a
// GradCheck test, every op of a family traits table has a complete declaration, and the table
// is consistent.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "mithril/backends/cpu/registry.h"
#include "mithril/core/error.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/loss.h"
#include "mithril/ops/reduce.h"
#include "mithril/ops/unary.h"

namespace mithril {
namespace {

// The ops served by a struct shared by several kinds, which read their domain, cost and
// attributes from their family's traits table: the unary family, the binary family but where,
// the reduce family and the elementwise losses. Every other op is one struct of its own.
bool table_declared(OpKind k) {
  const std::string_view family = op_info(k).family;
  return family == "unary" || (family == "binary" && k != OpKind::Where) || family == "reduce" ||
         is_elementwise_loss(k);
}

DTypeDomain declared_domain(OpKind k) {
  const std::string_view family = op_info(k).family;
  if (family == "unary") return unary_traits(k).domain;
  if (family == "binary") return binary_traits(k).domain;
  if (family == "reduce") return reduce_traits(k).domain;
  if (is_elementwise_loss(k)) return elementwise_loss_traits(k).domain;
  return DTypeDomain::floating;
}

// A dtype in the op's declared domain.
DType sample_dtype(DTypeDomain d) {
  switch (d) {
    case DTypeDomain::boolean: return DType::b8;
    case DTypeDomain::integer: return DType::i64;
    default: return DType::f64;
  }
}

// The op of kind `k` with default attributes (a valid threshold), applied to inputs of shape (2, 3).
struct Applied {
  Graph graph;
  OpPtr op;
  std::vector<Var> inputs, outputs;
};

std::unique_ptr<Applied> apply_default(OpKind k) {
  auto a = std::make_unique<Applied>();
  const std::string_view family = op_info(k).family;
  const DType t = sample_dtype(declared_domain(k));
  int arity = 1;
  if (family == "unary") {
    a->op = std::make_shared<UnaryOp>(k, UnaryAttrs{.threshold = kStableReciprocalThreshold});
  } else if (family == "binary") {
    a->op = std::make_shared<BinaryOp>(k);
    arity = 2;
  } else if (family == "reduce") {
    if (reduce_traits(k).along_axis) a->op = std::make_shared<AxisOp>(k, 1);
    else a->op = std::make_shared<ReduceOp>(k, Axes{1}, false);
  } else {
    a->op = std::make_shared<ElementwiseLossOp>(k);
    arity = 2;
  }
  for (int i = 0; i < arity; ++i) a->inputs.push_back(a->graph.input("x" + std::to_string(i), {2, 3}, t));
  a->outputs = a->graph.apply(a->op, a->inputs);
  return a;
}

bool non_float_op(OpKind k) {
  const DTypeDomain d = declared_domain(k);
  return d == DTypeDomain::boolean || d == DTypeDomain::integer;
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

TEST(Registry, FamilyTablesDeclareEveryOpOfTheirStructs) {
  for (int i = 0; i < kNumOps; ++i) {
    const auto k = static_cast<OpKind>(i);
    if (!table_declared(k)) continue;
    const std::string_view family = op_info(k).family;
    const OpKind row = family == "unary"    ? unary_traits(k).kind
                       : family == "binary" ? binary_traits(k).kind
                       : family == "reduce" ? reduce_traits(k).kind
                                            : elementwise_loss_traits(k).kind;
    EXPECT_EQ(row, k) << op_name(k) << " reads the row of " << op_name(row);
  }
}

// Every op of a traits table has a domain (inputs in it are accepted, bool or float ones outside
// it are a DTypeError) and a cost (FLOPs and bytes for a (2, 3) input).
TEST(Registry, EveryTableOpHasADomainAndACost) {
  for (int i = 0; i < kNumOps; ++i) {
    const auto k = static_cast<OpKind>(i);
    if (!table_declared(k)) continue;
    std::unique_ptr<Applied> a;
    ASSERT_NO_THROW(a = apply_default(k)) << op_name(k);
    const DTypeDomain d = declared_domain(k);
    for (DType t : {DType::f64, DType::f32, DType::i64, DType::b8}) {
      std::vector<DType> in(a->inputs.size(), t);
      if (in_domain(t, d)) EXPECT_NO_THROW(a->op->infer_dtypes(in)) << op_name(k) << " on " << dtype_name(t);
      else EXPECT_THROW(a->op->infer_dtypes(in), DTypeError) << op_name(k) << " on " << dtype_name(t);
    }
    OpSignature sig;
    for (const Var& v : a->inputs) sig.input_shapes.push_back(v.shape()), sig.input_dtypes.push_back(v.dtype());
    for (const Var& v : a->outputs) sig.output_shapes.push_back(v.shape()), sig.output_dtypes.push_back(v.dtype());
    const Cost c = a->op->cost(sig);
    EXPECT_GT(c.flops, 0) << op_name(k);
    EXPECT_GT(c.bytes, 0) << op_name(k);
  }
}

// The gradient rule of a table op is a case of its struct's vjp: every op ops.def marks
// differentiable has one, and the others have none (their vjp throws).
TEST(Registry, DifferentiableTableOpsHaveAGradientRule) {
  for (int i = 0; i < kNumOps; ++i) {
    const auto k = static_cast<OpKind>(i);
    if (!table_declared(k)) continue;
    const auto a = apply_default(k);
    const std::vector<std::optional<Var>> ct(a->outputs.begin(), a->outputs.end());
    if (!op_info(k).differentiable) {
      EXPECT_THROW(a->op->vjp(a->inputs, a->outputs, ct), ValueError) << op_name(k) << " has a gradient rule";
      continue;
    }
    std::vector<std::optional<Var>> grads;
    ASSERT_NO_THROW(grads = a->op->vjp(a->inputs, a->outputs, ct)) << op_name(k) << " lacks a gradient rule";
    ASSERT_EQ(grads.size(), a->inputs.size()) << op_name(k);
    EXPECT_TRUE(grads[0].has_value()) << op_name(k) << " sends no gradient to its input";
  }
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
