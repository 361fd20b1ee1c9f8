// Model summaries, shape inference without kernels, and the inputs/outputs of `mithril run`.
#include "mithril/runtime/summary.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "mithril/core/error.h"
#include "mithril/graph/memory_plan.h"
#include "mithril/io/npy.h"
#include "mithril/logical/model_dict.h"
#include "mithril/runtime/compile.h"
#include "mithril/runtime/run_io.h"
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
  const DataMap out = pm.evaluate(make_run_inputs(pm, "", {{"x", {5, 3}}, {"w", {2, 3}}, {"b", {2}}}, 0));
  EXPECT_EQ(infos.at("y").shape, out.at("y").tensor.shape());
  EXPECT_EQ(infos.at("y").dtype, out.at("y").tensor.dtype());
  EXPECT_EQ(error_of<ShapeError>([&] {
              pm.infer_shapes({{"x", {5, 4}}, {"w", {2, 3}}, {"b", {2}}});
            }).find("[matmul]"),
            0u);
}

TEST(ShapeSpecs, ParsesAndRejects) {
  const auto s = parse_shape_specs({"input=32x128", "b=2", "s=", "t=()", "u=3,4"});
  EXPECT_EQ(s.at("input"), (Shape{32, 128}));
  EXPECT_EQ(s.at("b"), (Shape{2}));
  EXPECT_EQ(s.at("s"), (Shape{}));
  EXPECT_EQ(s.at("t"), (Shape{}));
  EXPECT_EQ(s.at("u"), (Shape{3, 4}));
  EXPECT_EQ(error_of<ValueError>([] { parse_shape_specs({"input"}); }),
            "[shapes] 'input': expected KEY=DIMS such as input=32x128 (KEY= for a scalar)");
  EXPECT_EQ(error_of<ValueError>([] { parse_shape_specs({"x=3xq"}); }),
            "[shapes] 'x=3xq': dimension 'q' is not a non-negative integer");
  EXPECT_EQ(error_of<ValueError>([] { parse_shape_specs({"x=3x"}); }),
            "[shapes] 'x=3x': dimension '' is not a non-negative integer");
  EXPECT_EQ(error_of<ValueError>([] { parse_shape_specs({"x=-1"}); }),
            "[shapes] 'x=-1': dimension '-1' is not a non-negative integer");
  EXPECT_EQ(error_of<ValueError>([] { parse_shape_specs({"x=1", "x=2"}); }), "[shapes] 'x' is given twice");
}

TEST(RunInputs, RandomInputsAreSeededAndMissingOnesNamed) {
  const PhysicalModel pm = compile(example_model());
  const std::map<std::string, Shape> shapes = {{"x", {4, 3}}, {"w", {2, 3}}, {"b", {2}}};
  const DataMap a = make_run_inputs(pm, "", shapes, 7), b = make_run_inputs(pm, "", shapes, 7),
                c = make_run_inputs(pm, "", shapes, 8);
  EXPECT_EQ(a.at("x").tensor.to_doubles(), b.at("x").tensor.to_doubles());
  EXPECT_NE(a.at("x").tensor.to_doubles(), c.at("x").tensor.to_doubles());
  EXPECT_EQ(a.at("w").tensor.dtype(), DType::f64);
  EXPECT_EQ(error_of<KeyError>([&] {
              make_run_inputs(pm, "", {{"x", {4, 3}}}, 0);
            }),
            "[run] missing inputs: b, w (give them in --inputs FILE.npz or their shapes with --shapes)");
  EXPECT_EQ(error_of<KeyError>([&] {
              make_run_inputs(pm, "", {{"z", {4, 3}}}, 0);
            }),
            "[run] 'z' is not an input of the model (inputs: b, w, x)");
}

TEST(RunInputs, InputsFromAnNpzByKeyName) {
  const PhysicalModel pm = compile(example_model());
  const std::string path = ::testing::TempDir() + "mithril_run_inputs.npz";
  io::write_npz(path, {{"x", Tensor::from_doubles({1, 2, 3}, {1, 3}, DType::f32)},
                       {"w", Tensor::from_doubles({1, 0, 0, 0, 1, -1}, {2, 3}, DType::f64)}});
  const DataMap in = make_run_inputs(pm, path, {{"b", {2}}}, 0);  // b random, the others from the file
  EXPECT_EQ(in.at("x").tensor.dtype(), DType::f64);               // float members take the compile dtype
  EXPECT_EQ(in.at("x").tensor.to_doubles(), (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(in.at("b").tensor.shape(), (Shape{2}));
  EXPECT_EQ(error_of<ValueError>([&] { make_run_inputs(pm, path, {{"x", {3, 1}}, {"b", {2}}}, 0); }),
            fmt::format("[run] input 'x' has shape (1,3) in {} but --shapes says (3,1)", path));
  io::write_npz(path, {{"q", Tensor::scalar(1, DType::f64)}});
  EXPECT_EQ(error_of<KeyError>([&] { make_run_inputs(pm, path, {}, 0); }),
            fmt::format("[run] {}: member 'q' is not an input of the model (inputs: b, w, x)", path));
  std::remove(path.c_str());
}

TEST(RunInputs, DescribeOutput) {
  EXPECT_EQ(describe_output("y", Tensor::from_doubles({1, -2, 3, 0.5}, {2, 2}, DType::f64), 3),
            "y  shape (2,2)  f64  min -2  mean 0.625  max 3  first [1, -2, 3, ...]");
  EXPECT_EQ(describe_output("e", Tensor::zeros({0}, DType::f32)), "e  shape (0,)  f32  empty  first []");
}

}  // namespace
}  // namespace mithril
