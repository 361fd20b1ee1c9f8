// Model summaries and shape inference without kernels.
#include "mithril/runtime/summary.h"

#include <gtest/gtest.h>

#include "mithril/core/error.h"
#include "mithril/graph/memory_plan.h"
#include "mithril/logical/model_dict.h"
#include "mithril/runtime/compile.h"
#include "support/error_of.h"
#include "support/example_model.h"

namespace mithril {
namespace {

using testing::example_model;

const ModelSummary::Key& key(const ModelSummary& s, const std::string& name) {
  for (const auto& k : s.keys)
    if (k.name == name) return k;
  throw std::runtime_error("no key " + name);
}

using testing::error_of;

TEST(Summary, ListsCallsAndKeysOfTheExampleModel) {
  const ModelSummary s = summarize(example_model());
  ASSERT_EQ(s.calls.size(), 4u);
  EXPECT_EQ(s.calls[0].model, "Transpose");
  EXPECT_EQ(s.calls[1].model, "MatrixMultiply");
  EXPECT_EQ(s.calls[2].model, "Add");
  EXPECT_EQ(s.calls[3].model, "Relu");
  EXPECT_EQ(s.calls[3].ports.back(), (std::pair<std::string, std::string>{"output", "y"}));
  EXPECT_EQ(key(s, "x").role, "input");
  EXPECT_FALSE(key(s, "x").trainable);
  EXPECT_EQ(key(s, "w").role, "input");
  EXPECT_TRUE(key(s, "w").trainable);
  EXPECT_TRUE(key(s, "b").trainable);
  EXPECT_EQ(key(s, "y").role, "output");
  EXPECT_FALSE(s.with_shapes);
  EXPECT_FALSE(key(s, "y").shape.has_value());
  const std::string text = format_summary(s);
  EXPECT_NE(text.find("primitive calls (4):"), std::string::npos) << text;
  EXPECT_NE(text.find("left -> x"), std::string::npos) << text;
  // Without input shapes the table shows symbolic shapes: Linear(dimension=2) fixes dim 0 of w.
  EXPECT_EQ(key(s, "w").symbolic, "[2, d_in]");
  EXPECT_EQ(key(s, "y").symbolic, "[B1..., m, 2]");
  EXPECT_NE(text.find("[2, d_in]"), std::string::npos) << text;
}

// A summary describes the model as it is: inputs without a name are listed under their generated
// names, which compile() would reject unless safe_names = false.
TEST(Summary, ListsUnnamedInputsUnderTheirGeneratedNames) {
  logical::Model m;
  m += logical::Model::primitive("Relu");
  EXPECT_EQ(error_of<KeyError>([&] { (void)compile(m); }).rfind("[compile] runtime data keys must be named", 0), 0u);
  const ModelSummary s = summarize(m, {{"input", {2, 3}}});
  EXPECT_EQ(key(s, "input").role, "input");
  EXPECT_EQ(key(s, "output").shape, (std::optional<Shape>{Shape{2, 3}}));
}

TEST(Summary, InfersShapesOfEveryKeyWithoutRunningKernels) {
  const ModelSummary s = summarize(example_model(), {{"x", {4, 3}}, {"w", {2, 3}}, {"b", {2}}});
  EXPECT_TRUE(s.with_shapes);
  EXPECT_EQ(key(s, "y").shape, (Shape{4, 2}));
  EXPECT_EQ(key(s, "y").dtype, DType::f64);
  EXPECT_EQ(key(s, "w").shape, (Shape{2, 3}));
  for (const auto& k : s.keys) {
    if (k.is_tensor) EXPECT_TRUE(k.shape.has_value()) << k.name;
  }
  EXPECT_NE(format_summary(s).find("(4,2)"), std::string::npos);
}

TEST(Summary, MissingShapesShowAsUnknown) {
  const ModelSummary s = summarize(example_model(), {{"x", {4, 3}}});
  EXPECT_EQ(key(s, "x").shape, (Shape{4, 3}));
  EXPECT_FALSE(key(s, "w").shape.has_value());
  EXPECT_FALSE(key(s, "y").shape.has_value());
  // Symbolic inference still derives what the given shape implies.
  EXPECT_EQ(key(s, "w").symbolic, "[2, 3]");
  EXPECT_EQ(key(s, "y").symbolic, "[4, 2]");
  EXPECT_NE(format_summary(s).find(" ?\n"), std::string::npos) << format_summary(s);  // dtype unknown
}

// With a shape for every input, the summary carries the program: passes and memory plan.
TEST(Summary, ShowsPassesAndMemoryPlan) {
  const std::map<std::string, Shape> shapes{{"x", {4, 3}}, {"w", {2, 3}}, {"b", {2}}};
  for (const bool gradients : {false, true}) {
    const ModelSummary s = summarize(example_model(), shapes, gradients);
    ASSERT_TRUE(s.program.has_value());
    EXPECT_EQ(s.program_gradients, gradients);
    const ProgramReport& r = *s.program;
    ASSERT_FALSE(r.passes.empty());
    for (size_t i = 1; i < r.passes.size(); ++i) EXPECT_EQ(r.passes[i].nodes_before, r.passes[i - 1].nodes_after);
    EXPECT_LE(r.lower_bound_bytes, r.planned_peak_bytes);
    EXPECT_LE(r.planned_peak_bytes, r.naive_bytes);
    // y, then the gradients of w and b, each counted in whole 64-byte blocks.
    EXPECT_EQ(r.output_bytes, gradients ? plan_aligned(8 * 4 * 2) + plan_aligned(8 * 2 * 3) + plan_aligned(8 * 2)
                                        : plan_aligned(8 * 4 * 2));
    const std::string text = format_summary(s);
    EXPECT_NE(text.find(gradients ? "program (forward + gradients)" : "program (forward)"), std::string::npos) << text;
    EXPECT_NE(text.find(r.passes.front().name), std::string::npos) << text;
    const size_t peak = text.find("planned peak (arena + outputs)");
    ASSERT_NE(peak, std::string::npos) << text;
    const std::string value = fmt::format(" {} B\n", r.planned_peak_bytes);  // on the same line
    EXPECT_EQ(text.find(value, peak) + value.size() - 1, text.find('\n', peak)) << text;
  }
  const ModelSummary partial = summarize(example_model(), {{"x", {4, 3}}});
  EXPECT_FALSE(partial.program.has_value());
  EXPECT_NE(format_summary(partial).find("no program: give --shapes for every tensor input (missing: b, w)"),
            std::string::npos)
      << format_summary(partial);
  EXPECT_FALSE(summarize(example_model()).program.has_value());
}

TEST(Summary, UnknownShapeKeyIsAnError) {
  EXPECT_EQ(error_of<KeyError>([] {
              summarize(example_model(), {{"nope", {1}}});
            }),
            "[shapes] 'nope' is not an input of the model (inputs: b, w, x)");
  EXPECT_EQ(error_of<KeyError>([] {
              summarize(example_model(), {{"y", {1}}});
            }),
            "[shapes] 'y' is not an input of the model (inputs: b, w, x)");
}

TEST(Summary, InferShapesAgreesWithEvaluate) {
  const PhysicalModel pm = compile(example_model());
  const auto infos = pm.infer_shapes({{"x", {5, 3}}, {"w", {2, 3}}, {"b", {2}}});
  const DataMap out = pm.evaluate({{"x", Tensor::zeros({5, 3}, DType::f64)},
                                   {"w", Tensor::zeros({2, 3}, DType::f64)},
                                   {"b", Tensor::zeros({2}, DType::f64)}});
  EXPECT_EQ(infos.at("y").shape, out.at("y").tensor.shape());
  EXPECT_EQ(infos.at("y").dtype, out.at("y").tensor.dtype());
  EXPECT_EQ(error_of<ShapeError>([&] {
              pm.infer_shapes({{"x", {5, 4}}, {"w", {2, 3}}, {"b", {2}}});
            }).find("[matmul]"),
            0u);
}

}  // namespace
}  // namespace mithril
