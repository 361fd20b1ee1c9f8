// Static compilation (CompileOptions::static_shapes / static_types / static_inference / mem_size):
// the program is built and planned inside compile(), calls with other shapes or dtypes are
// rejected with messages naming the key, and a memory cap the plan exceeds fails at compile time.
#include <gtest/gtest.h>

#include "mithril/core/error.h"
#include "mithril/logical/model_dict.h"
#include "mithril/runtime/compile.h"
#include "support/error_of.h"
#include "support/example_model.h"

namespace mithril {
namespace {

using testing::error_of;

using testing::example_model;

CompileOptions static_options() {
  CompileOptions o;
  o.static_shapes = true;
  o.shapes = {{"x", {4, 3}}, {"w", {2, 3}}, {"b", {2}}};
  return o;
}

DataMap inputs(DType dtype = DType::f64, int64_t batch = 4) {
  auto seq = [&](const Shape& s, double scale) {
    std::vector<double> v(static_cast<size_t>(numel(s)));
    for (size_t i = 0; i < v.size(); ++i) v[i] = scale * (static_cast<double>(i % 7) - 3.0);
    return Tensor::from_doubles(v, s, dtype);
  };
  return {{"x", seq({batch, 3}, 0.5)}, {"w", seq({2, 3}, 0.25)}, {"b", seq({2}, 0.1)}};
}

TEST(StaticCompile, PlansAtCompileTimeAndGivesTheDynamicResults) {
  const PhysicalModel fixed = compile(example_model(), static_options());
  EXPECT_GT(fixed.planned_peak_bytes(), 0);  // planned inside compile(), before any call
  const PhysicalModel dynamic = compile(example_model());
  EXPECT_EQ(dynamic.planned_peak_bytes(), 0);
  const DataMap cts = {{"y", Tensor::from_doubles({1, -2, 3, 0.5, 2, 1, -1, 4}, {4, 2}, DType::f64)}};
  const PhysicalModel::Result a = fixed.evaluate(inputs(), cts), b = dynamic.evaluate(inputs(), cts);
  EXPECT_EQ(a.outputs.at("y").tensor.to_doubles(), b.outputs.at("y").tensor.to_doubles());
  for (const char* k : {"w", "b"})
    EXPECT_EQ(a.gradients.at(k).tensor.to_doubles(), b.gradients.at(k).tensor.to_doubles()) << k;
}

TEST(StaticCompile, OtherShapesAndMissingShapesAreErrors) {
  const PhysicalModel fixed = compile(example_model(), static_options());
  EXPECT_EQ(error_of<ShapeError>([&] { fixed.evaluate(inputs(DType::f64, 5)); }),
            "[evaluate] input 'x' has shape (5,3) but the model was compiled with static shape (4,3)");
  CompileOptions o = static_options();
  o.shapes.erase("b");
  o.shapes.erase("w");
  EXPECT_EQ(error_of<KeyError>([&] { compile(example_model(), o); }),
            "[compile] static_shapes needs a shape for every input; missing: b, w");
}

TEST(StaticCompile, StaticTypesRejectOtherDtypes) {
  CompileOptions o = static_options();
  o.static_types = true;
  const PhysicalModel fixed = compile(example_model(), o);
  EXPECT_EQ(error_of<DTypeError>([&] { fixed.evaluate(inputs(DType::f32)); }),
            "[evaluate] input 'b' has dtype f32 but the model was compiled with static dtype f64");
  // Without static_types float inputs of another dtype are cast to the backend precision.
  const PhysicalModel flexible = compile(example_model(), static_options());
  EXPECT_EQ(flexible.evaluate(inputs(DType::f32)).at("y").tensor.dtype(), DType::f64);
}

TEST(StaticCompile, StaticInferenceHasNoGradients) {
  CompileOptions o;
  o.static_inference = true;
  o.shapes = static_options().shapes;
  const PhysicalModel pm = compile(example_model(), o);
  EXPECT_EQ(pm.evaluate(inputs()).at("y").tensor.shape(), (Shape{4, 2}));
  const DataMap cts = {{"y", Tensor::zeros({4, 2}, DType::f64)}};
  EXPECT_EQ(error_of<ValueError>([&] { pm.evaluate(inputs(), cts); }),
            "[evaluate] the model was compiled with inference=true: no gradients");
}

TEST(StaticCompile, MemSizeBelowThePlanFailsAtCompileTime) {
  CompileOptions o = static_options();
  o.inference = true;
  const int64_t needed = compile(example_model(), o).planned_peak_bytes();
  ASSERT_GT(needed, 0);
  o.set_mem_size(needed);  // exactly enough
  EXPECT_EQ(compile(example_model(), o).planned_peak_bytes(), needed);
  o.set_mem_size(needed - 1);
  const std::string msg = error_of<ValueError>([&] { compile(example_model(), o); });
  EXPECT_NE(msg.find("[compile] the static memory plan needs " + std::to_string(needed) + " bytes"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("but mem_size is " + std::to_string(needed - 1)), std::string::npos) << msg;
}

}  // namespace
}  // namespace mithril

namespace mithril {
namespace {

using testing::error_of;
using testing::example_model;

// `shapes` are facts of the symbolic shapes whether or not static_shapes is set: a conflict with
// the model (Linear(2) makes y [N, 2], so w is [2, d]) and an unknown key fail in compile().
TEST(CompileShapes, AreCheckedWithoutStaticShapes) {
  CompileOptions o;
  o.shapes = {{"x", {4, 3}}, {"w", {5, 3}}};
  const std::string conflict = error_of<ShapeError>([&] { compile(example_model(), o); });
  EXPECT_NE(conflict.find("'w'"), std::string::npos) << conflict;
  EXPECT_NE(conflict.find("the compile option shapes"), std::string::npos) << conflict;
  o.shapes = {{"nope", {1}}};
  EXPECT_EQ(error_of<KeyError>([&] { compile(example_model(), o); }), "[shapes] 'nope' is not a key of the model");
  o.shapes = {{"x", {4, 3}}, {"w", {2, 3}}};  // consistent: compiles, and other shapes still run
  const PhysicalModel pm = compile(example_model(), o);
  const Tensor x = Tensor::full({6, 3}, 1.0, DType::f64), w = Tensor::full({2, 3}, 1.0, DType::f64),
               b = Tensor::full({2}, 0.0, DType::f64);
  EXPECT_EQ(pm.evaluate({{"x", x}, {"w", w}, {"b", b}}).at("y").tensor.shape(), (Shape{6, 2}));
}

}  // namespace
}  // namespace mithril
