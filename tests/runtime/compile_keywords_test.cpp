// Mithril's own ml.compile switches (CompileOptions::jit, safe_shapes, safe_names,
// use_short_namings; compile.h): what each changes that a user can observe, and that the results
// stay the same.
#include <gtest/gtest.h>

#include "mithril/core/error.h"
#include "mithril/logical/library.h"
#include "mithril/runtime/compile.h"
#include "mithril/runtime/compile_options.h"
#include "support/error_of.h"
#include "support/example_model.h"

namespace mithril {
namespace {

using logical::json;
using logical::Model;
using testing::error_of;
using testing::example_model;

Tensor seq(const Shape& s, double scale) {
  std::vector<double> v(static_cast<size_t>(numel(s)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = scale * (static_cast<double>(i % 7) - 3.0);
  return Tensor::from_doubles(v, s, DType::f64);
}

// Inputs of the README's example model, y = relu(x @ w^T + b).
DataMap inputs(int64_t batch, int64_t d_in = 3) {
  return {{"x", seq({batch, d_in}, 0.5)}, {"w", seq({2, 3}, 0.25)}, {"b", seq({2}, 0.1)}};
}

std::vector<double> y_of(const PhysicalModel& pm, const DataMap& in) { return pm.evaluate(in).at("y").tensor.to_doubles(); }

CompileOptions with_jit(bool jit) {
  CompileOptions o;
  o.jit = jit;
  return o;
}

// jit = true caches a program per signature; jit = false holds one per kind and re-plans it when
// the shapes change. The numbers are the same.
TEST(CompileJit, FalseHoldsOneProgramPerKindAndReplansWhenShapesChange) {
  const PhysicalModel cached = compile(example_model(), with_jit(true));
  const PhysicalModel generic = compile(example_model(), with_jit(false));
  for (int64_t batch : {4, 5, 6, 4, 5}) EXPECT_EQ(y_of(cached, inputs(batch)), y_of(generic, inputs(batch))) << batch;
  EXPECT_EQ(cached.program_cache().programs, 3u);
  EXPECT_EQ(cached.program_cache().builds, 3u);  // 4 and 5 came back from the cache
  EXPECT_EQ(generic.program_cache().programs, 1u);
  EXPECT_EQ(generic.program_cache().builds, 5u);  // every change of shape re-plans
  (void)y_of(generic, inputs(5));                 // the same shape again: the held program
  EXPECT_EQ(generic.program_cache().builds, 5u);

  // Forward and forward + gradients are the two kinds; each is held once.
  const DataMap cts = {{"y", seq({5, 2}, 1.0)}};
  const auto a = cached.evaluate(inputs(5), cts), b = generic.evaluate(inputs(5), cts);
  for (const char* k : {"w", "b"})
    EXPECT_EQ(a.gradients.at(k).tensor.to_doubles(), b.gradients.at(k).tensor.to_doubles()) << k;
  (void)y_of(generic, inputs(5));  // the forward program is still there
  EXPECT_EQ(generic.program_cache().programs, 2u);
  EXPECT_EQ(generic.program_cache().builds, 6u);
  (void)generic.evaluate(inputs(7), {{"y", seq({7, 2}, 1.0)}});
  EXPECT_EQ(generic.program_cache().programs, 2u);
  EXPECT_EQ(generic.program_cache().builds, 7u);
}

// jit = false names the input that breaks the model's symbolic shapes when its program cannot be
// built; jit = true reports the rule of the op that failed.
TEST(CompileJit, FalseNamesTheInputThatBreaksTheSymbolicShapes) {
  const PhysicalModel generic = compile(example_model(), with_jit(false));
  EXPECT_EQ(error_of<ShapeError>([&] { (void)generic.evaluate(inputs(4, 5)); }),
            "[evaluate] input 'x' has shape (4,5), inconsistent with its symbolic shape [B1..., m, d_in] given the "
            "inputs b (2,), w (2,3): [shapes] key 'x': [B1..., m, 3] from set_shapes of 'lin' (Linear) conflicts "
            "with [4, 5] from input 'x': dim 1 is 3 vs 5");
  EXPECT_EQ(generic.program_cache().builds, 0u);
  const PhysicalModel cached = compile(example_model(), with_jit(true));
  const std::string op_error = error_of<ShapeError>([&] { (void)cached.evaluate(inputs(4, 5)); });
  EXPECT_EQ(op_error.rfind("[matmul]", 0), 0u) << op_error;
  // The model still runs on good shapes afterwards.
  EXPECT_EQ(y_of(generic, inputs(4)), y_of(cached, inputs(4)));

  // safe_shapes = false: no symbolic check; the op rule's error as with jit = true.
  CompileOptions unchecked = with_jit(false);
  unchecked.safe_shapes = false;
  EXPECT_EQ(error_of<ShapeError>([&] { (void)compile(example_model(), unchecked).evaluate(inputs(4, 5)); }), op_error);

  // The symbolic shapes reject nothing the graph accepts: x + 1 broadcasts whatever x is, though
  // the model declares x as [N, 3].
  Model m;
  m |= Model::primitive("Add").connect({{"left", "x"}, {"right", logical::Connection::tensor(1.0)},
                                        {"output", logical::IOKey{.name = "y", .expose = true}}});
  m.set_shapes({{"x", json::parse(R"(["N", 3])")}});
  const DataMap wide = {{"x", seq({2, 4}, 1.0)}};
  EXPECT_EQ(compile(m, with_jit(false)).evaluate(wide).at("y").tensor.to_doubles(),
            compile(m, with_jit(true)).evaluate(wide).at("y").tensor.to_doubles());
}

CompileOptions static_options(bool safe_shapes) {
  CompileOptions o;
  o.static_shapes = true;
  o.safe_shapes = safe_shapes;
  o.shapes = {{"x", {4, 3}}, {"w", {2, 3}}, {"b", {2}}};
  return o;
}

// safe_shapes = false: other shapes than the static ones get a program of their own instead of an
// error; the static program is never run on them.
TEST(CompileSafeShapes, FalseBuildsAProgramForShapesOtherThanTheStaticOnes) {
  const PhysicalModel safe = compile(example_model(), static_options(true));
  EXPECT_EQ(error_of<ShapeError>([&] { (void)safe.evaluate(inputs(5)); }),
            "[evaluate] input 'x' has shape (5,3) but the model was compiled with static shape (4,3)");
  const PhysicalModel unsafe = compile(example_model(), static_options(false));
  EXPECT_EQ(unsafe.program_cache().builds, 2u);  // forward and gradients, planned by compile()
  const PhysicalModel dynamic = compile(example_model());
  EXPECT_EQ(y_of(unsafe, inputs(4)), y_of(dynamic, inputs(4)));
  EXPECT_EQ(unsafe.program_cache().builds, 2u);
  EXPECT_EQ(y_of(unsafe, inputs(5)), y_of(dynamic, inputs(5)));
  EXPECT_EQ(unsafe.program_cache().builds, 3u);
}

TEST(CompileSafeShapes, FalseLeavesAWrongCotangentToTheExecutorsCheck) {
  const DataMap bad = {{"y", seq({3, 2}, 1.0)}};
  EXPECT_EQ(error_of<ShapeError>([&] { (void)compile(example_model()).evaluate(inputs(4), bad); }),
            "[evaluate] gradient of output 'y' has shape (3,2) but the output has (4,2)");
  CompileOptions o;
  o.safe_shapes = false;
  EXPECT_EQ(error_of<ShapeError>([&] { (void)compile(example_model(), o).evaluate(inputs(4), bad); }),
            "[executor] input '$cotangent_y' has shape (3,2) but the graph expects (4,2)");
}

// A Linear whose keys the model does not name: with short names they are named after the
// primitive ports they reach (input: the weight through Transpose; left: the data through
// MatrixMultiply; right: the bias through Add).
Model unnamed_input_model() {
  Model m;
  m += logical::Linear(2);
  m += Model::primitive("Relu");
  return m;
}

TEST(CompileSafeNames, UnnamedRuntimeDataInputsAreKeyErrorsUnlessSafeNamesIsFalse) {
  const std::string message =
      "[compile] runtime data keys must be named in the logical model when safe_names is true; unnamed: 'left' "
      "(port 'left' of 'm0.matmul' (MatrixMultiply)). Name them in the model, or compile with safe_names=false to "
      "use the generated names";
  EXPECT_EQ(error_of<KeyError>([] { (void)compile(unnamed_input_model()); }), message);
  CompileOptions inference;
  inference.inference = true;  // weight and bias are still parameters, not runtime data
  EXPECT_EQ(error_of<KeyError>([&] { (void)compile(unnamed_input_model(), inference); }), message);

  CompileOptions o;
  o.safe_names = false;
  const PhysicalModel pm = compile(unnamed_input_model(), o);
  EXPECT_EQ(pm.input_keys(), (std::vector<std::string>{"input", "left", "right"}));
  EXPECT_EQ(pm.trainable_keys(), (std::vector<std::string>{"input", "right"}));
  const DataMap in = {{"left", seq({4, 3}, 0.5)}, {"input", seq({2, 3}, 0.25)}, {"right", seq({2}, 0.1)}};
  const DataMap named = {{"x", in.at("left")}, {"w", in.at("input")}, {"b", in.at("right")}};
  EXPECT_EQ(pm.evaluate(in).at(pm.output_keys()[0]).tensor.to_doubles(), y_of(compile(example_model()), named));

  // Named data inputs pass, and unnamed parameters are fine: they get gradients, not data.
  EXPECT_NO_THROW((void)compile(example_model(), {.data_keys = {"w"}}));
  CompileOptions data_weight;
  data_weight.data_keys = {"input"};  // an unnamed weight held as data must be named too
  const std::string held = error_of<KeyError>([&] { (void)compile(unnamed_input_model(), data_weight); });
  EXPECT_NE(held.find("'input' (port 'input' of 'm0.transpose' (Transpose))"), std::string::npos) << held;
}

TEST(CompileShortNamings, FalseNamesKeysByTheirSubmodelPath) {
  CompileOptions long_names;
  long_names.safe_names = false;
  long_names.use_short_namings = false;
  CompileOptions short_names;
  short_names.safe_names = false;
  const PhysicalModel s = compile(unnamed_input_model(), short_names);
  const PhysicalModel l = compile(unnamed_input_model(), long_names);
  EXPECT_EQ(s.input_keys(), (std::vector<std::string>{"input", "left", "right"}));
  EXPECT_EQ(s.output_keys(), (std::vector<std::string>{"output_3"}));
  EXPECT_EQ(l.input_keys(), (std::vector<std::string>{"m0_bias", "m0_input", "m0_weight"}));
  EXPECT_EQ(l.trainable_keys(), (std::vector<std::string>{"m0_bias", "m0_weight"}));
  EXPECT_EQ(l.output_keys(), (std::vector<std::string>{"m1_output"}));
  // Internal keys: the Linear's own submodels (transpose, matmul, add) name what they compute.
  for (const char* key : {"m0_transpose_output", "m0_matmul_output", "m0_output", "m0_transpose_axes"})
    EXPECT_TRUE(l.flat_model().find(key).has_value()) << key;

  const DataMap in = {{"left", seq({4, 3}, 0.5)}, {"input", seq({2, 3}, 0.25)}, {"right", seq({2}, 0.1)}};
  const DataMap long_in = {{"m0_input", in.at("left")}, {"m0_weight", in.at("input")}, {"m0_bias", in.at("right")}};
  const auto a = s.evaluate(in, {{"output_3", seq({4, 2}, 1.0)}});
  const auto b = l.evaluate(long_in, {{"m1_output", seq({4, 2}, 1.0)}});
  EXPECT_EQ(a.outputs.at("output_3").tensor.to_doubles(), b.outputs.at("m1_output").tensor.to_doubles());
  EXPECT_EQ(a.gradients.at("input").tensor.to_doubles(), b.gradients.at("m0_weight").tensor.to_doubles());
  EXPECT_EQ(error_of<KeyError>([&] { (void)l.evaluate(in); }), "[evaluate] 'input' is not a key of the model");  // short names are not keys

  // Keys the model names keep their names; key options take the long names.
  long_names.discard_keys = {"lin_output"};
  const PhysicalModel ex = compile(example_model(), long_names);
  EXPECT_EQ(ex.input_keys(), (std::vector<std::string>{"b", "w", "x"}));
  EXPECT_EQ(ex.output_keys(), (std::vector<std::string>{"y"}));
  EXPECT_TRUE(ex.flat_model().find("lin_matmul_output").has_value());
  EXPECT_FALSE(ex.flat_model().find("output_0").has_value());
}

TEST(CompileKeywords, ByNameFromJsonAndBack) {
  const CompileOptions d = compile_options_from_json(json::object());
  EXPECT_TRUE(d.jit && d.safe_shapes && d.safe_names && d.use_short_namings);
  const CompileOptions o = compile_options_from_json(
      json::parse(R"({"jit": false, "safe_shapes": false, "safe_names": false, "use_short_namings": false})"));
  EXPECT_FALSE(o.jit || o.safe_shapes || o.safe_names || o.use_short_namings);
  const json j = compile_options_to_json(o);
  for (const char* k : {"jit", "safe_shapes", "safe_names", "use_short_namings"}) EXPECT_EQ(j.at(k), false) << k;
  const CompileOptions back = compile_options_from_json(j);
  EXPECT_FALSE(back.jit || back.safe_shapes || back.safe_names || back.use_short_namings);
  const PhysicalModel pm = compile(unnamed_input_model(), o);
  EXPECT_EQ(pm.output_keys(), (std::vector<std::string>{"m1_output"}));
}

}  // namespace
}  // namespace mithril
