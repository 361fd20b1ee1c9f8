// The `--shapes` arguments and the inputs/outputs of `mithril run`.
#include "cli/run_io.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "mithril/core/error.h"
#include "mithril/io/npy.h"
#include "mithril/runtime/compile.h"
#include "support/error_of.h"
#include "support/example_model.h"

namespace mithril {
namespace {

using testing::error_of;
using testing::example_model;

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
  EXPECT_EQ(in.at("x").tensor.dtype(), DType::f32);  // as stored: the compiled model casts to its precision
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
