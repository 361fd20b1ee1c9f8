// The tensor-manipulation primitives of the functional API (primitives/tensor.cpp) and the
// comparison, logical, minimum/maximum and floor primitives: forward values against values
// written out by hand, gradients against central differences in float64, model-dict round trips,
// and the errors for bad ports.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "mithril/core/error.h"
#include "mithril/logical/model.h"
#include "mithril/logical/model_dict.h"
#include "mithril/runtime/compile.h"
#include "support/gradcheck.h"

namespace mithril::logical {
namespace {

using testing::expect_close;

// A model of one primitive with its ports connected to keys of the same name, `values` fixed.
Model single(const std::string& name, const json& args, const std::vector<std::string>& keys,
             std::map<std::string, json> values = {}) {
  Model m;
  std::map<std::string, Connection> conns;
  for (const std::string& k : keys) conns.emplace(k, Connection(k));
  for (const auto& [k, v] : values) conns.emplace(k, Connection::scalar(v));
  IOKey out;
  out.name = "output";
  out.expose = true;
  conns.emplace("output", Connection(out));
  m.add(prim(name, args.is_null() ? json::object() : args), conns, "p");
  return m;
}

Tensor run(const Model& m, const DataMap& inputs) {
  CompileOptions o;
  o.inference = true;
  return compile(m, o).evaluate(inputs).at("output").tensor;
}

// d<ct, output>/d(key) from autodiff against central differences.
void expect_gradient(const Model& m, const DataMap& inputs, const std::string& key) {
  CompileOptions o;
  o.trainable_keys = {key};
  const PhysicalModel pm = compile(m, o);
  const Tensor out = pm.evaluate(inputs).at("output").tensor;
  const Tensor ct = testing::random_tensor(out.shape(), DType::f64, 3);
  const Tensor grad = pm.evaluate(inputs, {{"output", Data(ct)}}).gradients.at(key).tensor;
  auto objective = [&](const DataMap& in) {
    const auto y = pm.evaluate(in).at("output").tensor.to_doubles(), c = ct.to_doubles();
    double s = 0;
    for (size_t i = 0; i < y.size(); ++i) s += y[i] * c[i];
    return s;
  };
  std::vector<double> x = inputs.at(key).tensor.to_doubles(), numeric(x.size());
  const double h = 1e-6;
  for (size_t i = 0; i < x.size(); ++i) {
    DataMap plus = inputs, minus = inputs;
    std::vector<double> xp = x, xm = x;
    xp[i] += h;
    xm[i] -= h;
    plus[key] = Data(Tensor::from_doubles(xp, inputs.at(key).tensor.shape(), DType::f64));
    minus[key] = Data(Tensor::from_doubles(xm, inputs.at(key).tensor.shape(), DType::f64));
    numeric[i] = (objective(plus) - objective(minus)) / (2 * h);
  }
  expect_close(grad, numeric, 1e-6, 1e-7);
}

void expect_round_trip(const Model& m) {
  const json d = model_to_dict(m);
  EXPECT_EQ(model_to_dict(model_from_dict(d)).dump(), d.dump());
}

Tensor t(const std::vector<double>& v, const Shape& s) { return Tensor::from_doubles(v, s, DType::f64); }

TEST(TensorPrimitives, ShapeAndSizeAreBuildTimeConstants) {
  const Tensor x = testing::random_tensor({2, 3, 4}, DType::f64, 1);
  const Tensor s = run(single("Shape", {}, {"input"}), {{"input", x}});
  EXPECT_EQ(s.dtype(), DType::i64);
  expect_close(s, {2, 3, 4});
  expect_close(run(single("Size", {}, {"input"}), {{"input", x}}), {24});
  expect_close(run(single("Size", {}, {"input"}, {{"dim", -2}}), {{"input", x}}), {3});
  EXPECT_THROW(run(single("Size", {}, {"input"}, {{"dim", 3}}), {{"input", x}}), ValueError);
  expect_round_trip(single("Size", {}, {"input"}, {{"dim", 1}}));
}

TEST(TensorPrimitives, IndexerSelectsSlicesAndAddsAxes) {
  const Tensor x = t({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {3, 4});
  const json row = 1;
  expect_close(run(single("Indexer", {}, {"input"}, {{"index", row}}), {{"input", x}}), {4, 5, 6, 7});
  const json cols = json::array({"...", {{"start", 1}, {"stop", nullptr}, {"step", 2}}});
  const Tensor c = run(single("Indexer", {}, {"input"}, {{"index", cols}}), {{"input", x}});
  EXPECT_EQ(c.shape(), (Shape{3, 2}));
  expect_close(c, {1, 3, 5, 7, 9, 11});
  const json last = json::array({-1, nullptr, {{"start", -3}}});
  const Tensor l = run(single("Indexer", {}, {"input"}, {{"index", last}}), {{"input", x}});
  EXPECT_EQ(l.shape(), (Shape{1, 3}));
  expect_close(l, {9, 10, 11});
  expect_gradient(single("Indexer", {}, {"input"}, {{"index", cols}}), {{"input", x}}, "input");
  EXPECT_THROW(run(single("Indexer", {}, {"input"}, {{"index", 3}}), {{"input", x}}), ShapeError);
  EXPECT_THROW(run(single("Indexer", {}, {"input"}, {{"index", "x"}}), {{"input", x}}), ValueError);
  expect_round_trip(single("Indexer", {}, {"input"}, {{"index", cols}}));
}

TEST(TensorPrimitives, ReshapeFromTheShapeOfAnotherInput) {
  // reshape(x, (y.shape[0], -1)): the target shape is computed from shapes when the model is built.
  Model m;
  m.add(prim("Shape"), {{"input", "y"}, {"output", anonymous()}}, "shape");
  m.add(prim("Indexer"), {{"input", ref("shape", "output")}, {"index", Connection::scalar(0)}, {"output", anonymous()}},
        "first");
  m.add(prim("ToTuple", {{"n", 2}}), {{"input1", ref("first", "output")}, {"input2", Connection::tensor(-1)},
                                      {"output", anonymous()}},
        "tuple");
  IOKey out;
  out.name = "output";
  out.expose = true;
  m.add(prim("Reshape"), {{"input", "x"}, {"shape", ref("tuple", "output")}, {"output", out}}, "reshape");
  const Tensor x = testing::random_tensor({2, 6}, DType::f64, 2);
  const Tensor y = Tensor::zeros({3, 5}, DType::f64);
  const Tensor r = run(m, {{"x", x}, {"y", y}});
  EXPECT_EQ(r.shape(), (Shape{3, 4}));
  expect_close(r, x.to_doubles());
  expect_gradient(m, {{"x", x}, {"y", y}}, "x");
  expect_round_trip(m);
  // A shape computed from run-time data is refused with the reason.
  try {
    run(single("Reshape", {}, {"input", "shape"}), {{"input", x}, {"shape", t({3, 4}, {2})}});
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("[Reshape] port 'shape' must be known when the model is built"),
              std::string::npos)
        << e.what();
  }
}

TEST(TensorPrimitives, ReshapeBroadcastToCastAtLeast1D) {
  const Tensor x = testing::random_tensor({2, 3}, DType::f64, 4);
  const Model reshape = single("Reshape", {}, {"input"}, {{"shape", {3, -1}}});
  EXPECT_EQ(run(reshape, {{"input", x}}).shape(), (Shape{3, 2}));
  expect_gradient(reshape, {{"input", x}}, "input");
  expect_round_trip(reshape);
  const Model bcast = single("BroadcastTo", {}, {"input"}, {{"shape", {4, 2, 3}}});
  const Tensor b = run(bcast, {{"input", x}});
  EXPECT_EQ(b.shape(), (Shape{4, 2, 3}));
  expect_gradient(bcast, {{"input", x}}, "input");
  const Model cast = single("Cast", {}, {"input"}, {{"dtype", "int64"}});
  const Tensor c = run(cast, {{"input", t({1.7, -2.2}, {2})}});
  EXPECT_EQ(c.dtype(), DType::i64);
  expect_close(c, {1, -2});
  expect_round_trip(cast);
  EXPECT_THROW(run(single("Cast", {}, {"input"}, {{"dtype", "float7"}}), {{"input", x}}), DTypeError);
  const Tensor a = run(single("AtLeast1D", {}, {"input"}), {{"input", Tensor::scalar(2.5, DType::f64)}});
  EXPECT_EQ(a.shape(), (Shape{1}));
}

TEST(TensorPrimitives, ArangeZerosLikeOnesLike) {
  const Tensor a = run(single("Arange", {}, {}, {{"start", 1}, {"stop", 7}, {"step", 2}}), {});
  EXPECT_EQ(a.dtype(), DType::i64);
  expect_close(a, {1, 3, 5});
  const Tensor f = run(single("Arange", {}, {}, {{"stop", 1.0}, {"step", 0.25}}), {});
  expect_close(f, {0, 0.25, 0.5, 0.75});
  EXPECT_THROW(run(single("Arange", {}, {}, {{"stop", 3}, {"step", 0}}), {}), ValueError);
  const Tensor x = testing::random_tensor({2, 2}, DType::f64, 5);
  expect_close(run(single("ZerosLike", {}, {"input"}), {{"input", x}}), {0, 0, 0, 0});
  expect_close(run(single("OnesLike", {}, {"input"}), {{"input", x}}), {1, 1, 1, 1});
  expect_round_trip(single("Arange", {}, {}, {{"stop", 4}}));
}

TEST(TensorPrimitives, ArgMaxArgMin) {
  const Tensor x = t({3, 9, 1, 4, 0, 8}, {2, 3});
  expect_close(run(single("ArgMax", {}, {"input"}), {{"input", x}}), {1});
  expect_close(run(single("ArgMax", {}, {"input"}, {{"axis", 1}}), {{"input", x}}), {1, 2});
  expect_close(run(single("ArgMin", {}, {"input"}, {{"axis", 0}}), {{"input", x}}), {0, 1, 0});
  EXPECT_EQ(run(single("ArgMin", {}, {"input"}, {{"keepdim", true}}), {{"input", x}}).shape(), (Shape{1, 1}));
}

TEST(TensorPrimitives, IsNanNanToNumClampSiLU) {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
  const Tensor x = t({1.5, nan, inf, -inf}, {4});
  expect_close(run(single("IsNan", {}, {"input"}), {{"input", x}}), {0, 1, 0, 0});
  const double big = std::numeric_limits<double>::max();
  expect_close(run(single("NanToNum", {}, {"input"}), {{"input", x}}), {1.5, 0, big, -big});
  expect_close(run(single("NanToNum", {}, {"input"}, {{"nan", 7}, {"posinf", 1}, {"neginf", -1}}), {{"input", x}}),
               {1.5, 7, 1, -1});
  const Tensor y = t({-2, -0.3, 0.4, 3}, {4});
  const Model clamp = single("Clamp", {}, {"input"}, {{"min", -1}, {"max", 1}});
  expect_close(run(clamp, {{"input", y}}), {-1, -0.3, 0.4, 1});
  expect_gradient(clamp, {{"input", y}}, "input");
  expect_round_trip(clamp);
  const Model silu = single("SiLU", {}, {"input"});
  std::vector<double> want;
  for (double v : y.to_doubles()) want.push_back(v / (1 + std::exp(-v)));
  expect_close(run(silu, {{"input", y}}), want);
  expect_gradient(silu, {{"input", y}}, "input");
}

TEST(TensorPrimitives, ComparisonsLogicalMinimumMaximumFloor) {
  const Tensor a = t({1, 2, 3}, {3}), b = t({2, 2, 2}, {3});
  const std::vector<std::pair<const char*, std::vector<double>>> cases = {
      {"Equal", {0, 1, 0}},   {"NotEqual", {1, 0, 1}}, {"Less", {1, 0, 0}},    {"LessEqual", {1, 1, 0}},
      {"Greater", {0, 0, 1}}, {"GreaterEqual", {0, 1, 1}}, {"Minimum", {1, 2, 2}}, {"Maximum", {2, 2, 3}}};
  for (const auto& [name, want] : cases) {
    SCOPED_TRACE(name);
    expect_close(run(single(name, {}, {"left", "right"}), {{"left", a}, {"right", b}}), want);
  }
  const Tensor p = t({1, 1, 0, 0}, {4}), q = t({1, 0, 1, 0}, {4});
  expect_close(run(single("LogicalAnd", {}, {"left", "right"}), {{"left", p}, {"right", q}}), {1, 0, 0, 0});
  expect_close(run(single("LogicalOr", {}, {"left", "right"}), {{"left", p}, {"right", q}}), {1, 1, 1, 0});
  expect_close(run(single("LogicalXOr", {}, {"left", "right"}), {{"left", p}, {"right", q}}), {0, 1, 1, 0});
  expect_close(run(single("LogicalNot", {}, {"input"}), {{"input", p}}), {0, 0, 1, 1});
  expect_close(run(single("Floor", {}, {"input"}), {{"input", t({1.5, -1.5}, {2})}}), {1, -2});
  const Tensor u = t({0.3, -1.2, 2.0}, {3}), v = t({0.1, 0.5, -3.0}, {3});
  expect_gradient(single("Maximum", {}, {"left", "right"}), {{"left", u}, {"right", v}}, "left");
  expect_gradient(single("Minimum", {}, {"left", "right"}), {{"left", u}, {"right", v}}, "right");
  expect_round_trip(single("LogicalXOr", {}, {"left", "right"}));
}

}  // namespace
}  // namespace mithril::logical
