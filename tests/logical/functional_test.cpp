// The functional API (functional.h): operators and methods on expressions build the class API's
// primitives, models are callable on expressions, a call used twice is one submodel, and the
// result compiles, differentiates and round-trips through model dicts. Also the GPT-2 example
// model built with it (examples/gpt2): shapes, causality, gradients and its model dict.
#include <gtest/gtest.h>

#include <cmath>

#include "../../examples/gpt2/gpt2.h"
#include "mithril/core/error.h"
#include "mithril/logical/flatten.h"
#include "mithril/logical/functional.h"
#include "mithril/logical/library.h"
#include "mithril/logical/model_dict.h"
#include "mithril/runtime/compile.h"
#include "support/gradcheck.h"

namespace mithril::logical {
namespace {

using testing::expect_close;

DataMap eval(const Model& m, const DataMap& inputs) {
  CompileOptions o;
  o.inference = true;
  return compile(m, o).evaluate(inputs);
}

Tensor t(const std::vector<double>& v, const Shape& s) { return Tensor::from_doubles(v, s, DType::f64); }

TEST(Functional, OperatorsBuildTheirPrimitives) {
  const Expr x = Expr::input("x"), y = Expr::input("y");
  const Model m = functional_model({{"arith", (x + 2.0) * y - x / y},
                                    {"cmp", x < y},
                                    {"pow", x.pow(y)},
                                    {"neg", -x},
                                    {"logic", (x > y) | ~(x == y)}});
  const DataMap out = eval(m, {{"x", t({1, 4}, {2})}, {"y", t({2, 2}, {2})}});
  expect_close(out.at("arith").tensor, {(1 + 2.0) * 2 - 0.5, (4 + 2.0) * 2 - 2});
  expect_close(out.at("cmp").tensor, {1, 0});
  expect_close(out.at("pow").tensor, {1, 16});
  expect_close(out.at("neg").tensor, {-1, -4});
  expect_close(out.at("logic").tensor, {1, 1});
  std::set<std::string> names;
  for (const PrimCall& c : flatten(m).calls) names.insert(c.def.name);
  for (const char* n : {"Add", "Multiply", "Subtract", "Divide", "Less", "Power", "Negate", "Greater", "Equal",
                        "LogicalNot", "LogicalOr"})
    EXPECT_TRUE(names.count(n)) << n;
}

TEST(Functional, MethodsIndexingAndShapes) {
  const Expr x = Expr::input("x");
  // x [2, 3, 4]: reshape to (x.shape[0], 12), sum over the last axis, mean of a transposed slice.
  const Model m = functional_model({{"flat", x.reshape({x.shape()[0], 12}).sum(std::vector<int64_t>{-1})},
                                    {"row", x[1].transpose().mean(std::vector<int64_t>{0})},
                                    {"tail", x.index({Ellipsis{}, Slice{2, std::nullopt, std::nullopt}})},
                                    {"size", x.size()},
                                    {"cast", x.cast("int64").max()}});
  std::vector<double> v(24);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i);
  const DataMap out = eval(m, {{"x", t(v, {2, 3, 4})}});
  expect_close(out.at("flat").tensor, {66, 210});
  expect_close(out.at("row").tensor, {13.5, 17.5, 21.5});
  EXPECT_EQ(out.at("tail").tensor.shape(), (Shape{2, 3, 2}));
  expect_close(out.at("size").tensor, {24});
  expect_close(out.at("cast").tensor, {23});
}

TEST(Functional, ModelsAreCallableAndMatchTheClassApi) {
  const Expr x = Expr::input("input");
  const Expr y = Linear(3)({{"input", x}, {"weight", Expr::input("w")}, {"bias", Expr::input("b")}});
  const Expr z = prim("Sigmoid")(y);
  const Model f = functional_model({{"output", z}});
  Model c;
  c.add(Linear(3), {{"input", "input"}, {"weight", "w"}, {"bias", "b"}, {"output", anonymous()}}, "lin");
  IOKey out;
  out.name = "output";
  out.expose = true;
  c.add(prim("Sigmoid"), {{"input", ref("lin", "output")}, {"output", out}}, "sig");
  const DataMap in = {{"input", testing::random_tensor({4, 2}, DType::f64, 1)},
                      {"w", testing::random_tensor({3, 2}, DType::f64, 2)},
                      {"b", testing::random_tensor({3}, DType::f64, 3)}};
  expect_close(eval(f, in).at("output").tensor, eval(c, in).at("output").tensor.to_doubles(), 0, 0);
  // Save -> load -> save is a fixed point, and the loaded model computes the same.
  const json d = model_to_dict(f);
  const Model loaded = model_from_dict(d);
  EXPECT_EQ(model_to_dict(loaded).dump(), d.dump());
  expect_close(eval(loaded, in).at("output").tensor, eval(f, in).at("output").tensor.to_doubles(), 0, 0);
}

TEST(Functional, ACallUsedTwiceIsOneSubmodel) {
  const Expr x = Expr::input("x");
  const Expr e = prim("Exponential")(x);
  const Model m = functional_model({{"output", e * e}});
  EXPECT_EQ(flatten(m).calls.size(), 2u);  // Exponential once, Multiply
  expect_close(eval(m, {{"x", t({1}, {1})}}).at("output").tensor, {std::exp(2.0)});
}

TEST(Functional, BadOutputsAreRefused) {
  const Expr x = Expr::input("x");
  EXPECT_THROW(functional_model({{"output", x}}), ValueError);
  EXPECT_THROW(functional_model({{"output", Expr::constant(1.0)}}), ValueError);
  const Expr y = -x;
  EXPECT_THROW(functional_model({{"a", y}, {"b", y}}), ValueError);
  EXPECT_THROW(Expr::input(""), ValueError);
}

std::map<std::string, Tensor> gpt2_weights(const examples::Gpt2Config& c, uint64_t seed) {
  std::map<std::string, Tensor> w;
  for (const auto& [k, s] : examples::gpt2_parameter_shapes(c)) w.emplace(k, testing::random_tensor(s, DType::f64, seed++, -0.3, 0.3));
  return w;
}

TEST(Gpt2Example, ShapesCausalityAndModelDict) {
  examples::Gpt2Config c = examples::gpt2_tiny();
  c.n_layer = 1;
  const Model m = examples::gpt2_model(c);
  DataMap in;
  for (const auto& [k, v] : gpt2_weights(c, 10)) in[k] = Data(v);
  in["input"] = Data(Tensor::from_doubles({3, 7, 1, 9, 0, 2, 5, 5}, {2, 4}, DType::i64));
  const Tensor a = eval(m, in).at("output").tensor;
  EXPECT_EQ(a.shape(), (Shape{2, 4, c.vocab_size}));
  // Changing the last token changes only the logits of the last position.
  DataMap changed = in;
  changed["input"] = Data(Tensor::from_doubles({3, 7, 1, 8, 0, 2, 5, 6}, {2, 4}, DType::i64));
  const Tensor b = eval(m, changed).at("output").tensor;
  const auto x = a.to_doubles(), y = b.to_doubles();
  const size_t v = static_cast<size_t>(c.vocab_size);
  for (size_t s = 0; s < 2; ++s)
    for (size_t p = 0; p < 4; ++p) {
      double diff = 0;
      for (size_t j = 0; j < v; ++j) diff = std::max(diff, std::fabs(x[(s * 4 + p) * v + j] - y[(s * 4 + p) * v + j]));
      if (p < 3) EXPECT_EQ(diff, 0.0) << "sequence " << s << " position " << p;
      else EXPECT_GT(diff, 0.0);
    }
  const json d = model_to_dict(m);
  const Model loaded = model_from_dict(d);
  EXPECT_EQ(model_to_dict(loaded).dump(), d.dump());
  expect_close(eval(loaded, in).at("output").tensor, x, 0, 0);
}

TEST(Gpt2Example, GradientAlongADirectionMatchesCentralDifferences) {
  examples::Gpt2Config c = examples::gpt2_tiny();
  c.n_layer = 1;
  const Model m = examples::gpt2_model(c);
  DataMap in;
  for (const auto& [k, v] : gpt2_weights(c, 20)) in[k] = Data(v);
  in["input"] = Data(Tensor::from_doubles({3, 7, 1, 9, 0, 2}, {2, 3}, DType::i64));
  const std::vector<std::string> keys = {"wte_weight", "h0_attn_c_attn_weight", "h0_ln_1_weight", "wpe_weight"};
  CompileOptions o;
  o.trainable_keys = keys;
  const PhysicalModel pm = compile(m, o);
  const Tensor ct = testing::random_tensor({2, 3, c.vocab_size}, DType::f64, 5);
  const PhysicalModel::Result r = pm.evaluate(in, {{"output", Data(ct)}});
  auto objective = [&](double h, const std::map<std::string, Tensor>& dir) {
    DataMap p = in;
    for (const auto& [k, d] : dir) {
      auto w = in.at(k).tensor.to_doubles();
      const auto dv = d.to_doubles();
      for (size_t i = 0; i < w.size(); ++i) w[i] += h * dv[i];
      p[k] = Data(Tensor::from_doubles(w, d.shape(), DType::f64));
    }
    const auto yv = pm.evaluate(p).at("output").tensor.to_doubles(), cv = ct.to_doubles();
    double s = 0;
    for (size_t i = 0; i < yv.size(); ++i) s += yv[i] * cv[i];
    return s;
  };
  for (const std::string& k : keys) {
    SCOPED_TRACE(k);
    const Tensor d = testing::random_tensor(in.at(k).tensor.shape(), DType::f64, 9);
    const double analytic = [&] {
      const auto g = r.gradients.at(k).tensor.to_doubles(), dv = d.to_doubles();
      double s = 0;
      for (size_t i = 0; i < g.size(); ++i) s += g[i] * dv[i];
      return s;
    }();
    const double h = 1e-5;
    const double numeric = (objective(h, {{k, d}}) - objective(-h, {{k, d}})) / (2 * h);
    EXPECT_NEAR(analytic, numeric, 1e-6 * std::max(1.0, std::fabs(numeric)));
  }
}

TEST(Gpt2Example, WeightTableCoversEveryParameter) {
  const examples::Gpt2Config c = examples::gpt2_tiny();
  const auto shapes = examples::gpt2_parameter_shapes(c);
  const io::WeightTable table = examples::gpt2_weight_table(c);
  EXPECT_EQ(table.size(), shapes.size());
  for (const io::WeightRow& r : table) EXPECT_TRUE(shapes.count(r.key)) << r.key;
  // The table's keys with their shapes are all the model needs besides the tokens.
  DataMap in;
  uint64_t seed = 30;
  for (const io::WeightRow& r : table)
    in[r.key] = Data(testing::random_tensor(shapes.at(r.key), DType::f64, seed++, -0.3, 0.3));
  in["input"] = Data(Tensor::from_doubles({1, 2}, {1, 2}, DType::i64));
  EXPECT_EQ(eval(examples::gpt2_model(c), in).at("output").tensor.shape(), (Shape{1, 2, c.vocab_size}));
}

}  // namespace
}  // namespace mithril::logical
