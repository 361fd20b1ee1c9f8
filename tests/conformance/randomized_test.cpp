// The randomized-model runner (README §8): the drawing rules for constructor arguments and
// inputs, the property check on a small case, and forward values of the models added for the
// randomized file (ToList, Eye, EyeComplement, Ones, ScaledDotProduct, RNNCell, LSTMCell) against
// naive references.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "mithril/conformance/randomized.h"
#include "mithril/core/error.h"
#include "mithril/logical/model.h"
#include "mithril/runtime/compile.h"

namespace mithril::conformance {
namespace {

TEST(Randomized, DrawArgsFollowsTheRules) {
  const json spec = json::parse(R"({"degree": [1, 5], "keepdim": [false, true], "act": ["relu", "tanh"],
                                    "dims": [[2, 4], [7, 7]], "acts": [["sigmoid"], ["relu", "tanh"]],
                                    "scale": [0.5, 1.5]})");
  Rng rng(1);
  for (int i = 0; i < 50; ++i) {
    const json a = draw_args(spec, json::array({"scale"}), rng);
    EXPECT_TRUE(a["degree"].is_number_integer());
    EXPECT_GE(a["degree"].get<int>(), 1);
    EXPECT_LE(a["degree"].get<int>(), 5);
    EXPECT_TRUE(a["keepdim"].is_boolean());
    EXPECT_TRUE(a["act"] == "relu" || a["act"] == "tanh");
    ASSERT_EQ(a["dims"].size(), 2u);
    EXPECT_GE(a["dims"][0].get<int>(), 2);
    EXPECT_LE(a["dims"][0].get<int>(), 4);
    EXPECT_EQ(a["dims"][1], 7);
    EXPECT_EQ(a["acts"][0], "sigmoid");
    EXPECT_TRUE(a["scale"].is_number_float());
    EXPECT_GE(a["scale"].get<double>(), 0.5);
    EXPECT_LE(a["scale"].get<double>(), 1.5);
  }
}

TEST(Randomized, DrawsAreDeterministicForASeed) {
  const json spec = json::parse(R"({"a": [0, 1000], "b": [[1, 9], [1, 9]]})");
  Rng r1(7), r2(7);
  EXPECT_EQ(draw_args(spec, json::array(), r1), draw_args(spec, json::array(), r2));
  const json info = json::parse(R"({"mean": 1.0, "std_dev": 2.0})");
  EXPECT_EQ(draw_tensor(info, {3, 4}, r1).to_doubles(), draw_tensor(info, {3, 4}, r2).to_doubles());
}

TEST(Randomized, DrawShape) {
  Rng rng(3);
  const Shape s = draw_shape(json::parse("[[2, 2], [1, 3], [5, 5]]"), {}, rng);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0], 2);
  EXPECT_GE(s[1], 1);
  EXPECT_LE(s[1], 3);
  EXPECT_EQ(s[2], 5);
  EXPECT_EQ(draw_shape(json("n"), {{"n", Shape{4, 1}}}, rng), (Shape{4, 1}));
  EXPECT_TRUE(draw_shape(json::array(), {}, rng).empty());
  EXPECT_THROW(draw_shape(json("missing"), {}, rng), KeyError);
}

TEST(Randomized, DrawTensorOptions) {
  Rng rng(5);
  const Tensor p = draw_tensor(json::parse(R"({"is_positive": true, "is_symmetric": true, "zero_diag": true,
                                                "normalize": true})"),
                               {2, 4, 4}, rng);
  const auto v = p.to_doubles();
  double total = 0;
  for (double x : v) {
    EXPECT_GE(x, 0.0);
    total += x;
  }
  EXPECT_NEAR(total, 1.0, 1e-12);
  for (int b = 0; b < 2; ++b)
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(v[static_cast<size_t>(b * 16 + i * 4 + i)], 0.0);
      for (int j = 0; j < 4; ++j)
        EXPECT_EQ(v[static_cast<size_t>(b * 16 + i * 4 + j)], v[static_cast<size_t>(b * 16 + j * 4 + i)]);
    }
  const Tensor ints = draw_tensor(json::parse(R"({"mode": "int", "interval": [[-1, -1], [1, 1]]})"), {200}, rng);
  std::set<double> seen;
  for (double x : ints.to_doubles()) seen.insert(x);
  EXPECT_EQ(seen, (std::set<double>{-1.0, 0.0, 1.0}));
  const Tensor b = draw_tensor(json::parse(R"({"bool": true})"), {50}, rng);
  for (double x : b.to_doubles()) EXPECT_TRUE(x == 0.0 || x == 1.0);
}

// No case passes without a check: the report counts what each iteration checked, and an
// iteration whose outputs are all non-finite (log of 0, also at the absolute values) is drawn
// again and then fails with the reason.
TEST(Randomized, ReportsItsChecksAndNeverPassesVacuously) {
  const json ok = json::parse(R"({"model": {"name": "Layer", "randomized_args": {"dimension": [1, 4],
      "activation": ["tanh", "sigmoid"]}}, "input_info": {"input": {"shapes": [[1, 3], [2, 4]]}}, "iterations": 3})");
  const RandomizedReport r = run_randomized_case(ok, 11);
  EXPECT_EQ(r.iterations, 3);
  EXPECT_EQ(r.redraws, 0);
  EXPECT_EQ(r.cross_backend_checks, 3);
  EXPECT_GE(r.gradient_checks, 3 * 4);  // all inputs together, then input, weight and bias one by one
  EXPECT_NE(r.summary().find("3 iterations"), std::string::npos) << r.summary();

  const json never = json::parse(R"({"model": {"name": "Log"}, "input_info": {"input": {"shapes": [[2, 3]],
      "mean": 0.0, "std_dev": 0.0}}, "iterations": 2})");
  try {
    run_randomized_case(never, 11);
    FAIL() << "expected the case to fail: nothing can be checked";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("nothing was checked in 5 draws: every output was non-finite"),
              std::string::npos)
        << e.what();
  }
  // Inference cases are checked against the second backend as well as any hand-written reference.
  const json eye = json::parse(R"({"model": {"name": "Eye", "randomized_args": {"N": [1, 4]}}, "inference": true,
      "iterations": 2})");
  const RandomizedReport e = run_randomized_case(eye, 11);
  EXPECT_EQ(e.forward_checks, 2);
  EXPECT_EQ(e.cross_backend_checks, 2);
  EXPECT_EQ(e.gradient_checks, 0);
}

TEST(Randomized, PropertyCheckPassesAndCatchesWrongModels) {
  const json ok = json::parse(R"({"model": {"name": "Layer", "randomized_args": {"dimension": [1, 4],
      "activation": ["tanh", "sigmoid"]}}, "input_info": {"input": {"shapes": [[1, 3], [2, 4]]}}, "iterations": 3})");
  EXPECT_NO_THROW(run_randomized_case(ok, 11));
  // StopGradient's VJP is zero by definition, so inside a composite (where the runner does not
  // special-case it) the finite differences of its identity forward must flag it.
  const json stop = json::parse(R"({"model": {"name": "Model", "submodels": {"m": {"name": "StopGradient"}},
      "connections": {"m": {"input": "input", "output": "output"}}, "exposed_keys": ["output"]},
      "input_info": {"input": {"shapes": [[2, 3]]}}, "iterations": 1})");
  try {
    run_randomized_case(stop, 11);
    FAIL() << "expected the gradient check to fail";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("central differences"), std::string::npos) << e.what();
  }
  const json unknown = json::parse(R"({"model": {"name": "NoSuchModel"}, "iterations": 1})");
  try {
    run_randomized_case(unknown, 11);
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("seed 11, iteration 0"), std::string::npos) << e.what();
  }
}

Tensor run1(const logical::Model& m, const DataMap& inputs = {}) {
  CompileOptions opt;
  opt.inference = true;
  return compile(m, opt).evaluate(inputs).at("output").tensor;
}

TEST(RandomizedModels, EyeEyeComplementOnes) {
  EXPECT_EQ(run1(logical::Model::primitive("Eye", {{"N", 2}, {"M", 3}})).to_doubles(),
            (std::vector<double>{1, 0, 0, 0, 1, 0}));
  EXPECT_EQ(run1(logical::Model::primitive("EyeComplement", {{"N", 3}})).to_doubles(),
            (std::vector<double>{0, 1, 1, 1, 0, 1, 1, 1, 0}));
  const Tensor ones = run1(logical::Model::primitive("Ones", {{"shape", {2, 5}}}));
  EXPECT_EQ(ones.shape(), (Shape{2, 5}));
  for (double x : ones.to_doubles()) EXPECT_EQ(x, 1.0);
}

TEST(RandomizedModels, ToListFeedsConcat) {
  logical::Model m;
  m.add(logical::Model::primitive("ToList", {{"n", 2}}), {{"input1", "a"}, {"input2", "b"}}, "m1");
  logical::IOKey k;
  k.connect.push_back(logical::SubPort{"m1", "output"});
  m.add(logical::Model::primitive("Concat", {{"axis", 1}}), {{"input", logical::Connection(k)}, {"output", "output"}},
        "m2");
  m.expose({"output"});
  const Tensor a = Tensor::from_doubles({1, 2}, {2, 1}, DType::f64);
  const Tensor b = Tensor::from_doubles({3, 4, 5, 6}, {2, 2}, DType::f64);
  const Tensor out = run1(m, {{"a", a}, {"b", b}});
  EXPECT_EQ(out.shape(), (Shape{2, 3}));
  EXPECT_EQ(out.to_doubles(), (std::vector<double>{1, 3, 4, 2, 5, 6}));
}

// Naive attention for one [L, d] x [S, d] x [S, dv] head.
std::vector<double> naive_attention(const std::vector<double>& q, const std::vector<double>& k,
                                    const std::vector<double>& v, int64_t l, int64_t s, int64_t d, int64_t dv,
                                    bool causal, double scale) {
  std::vector<double> out(static_cast<size_t>(l * dv), 0.0);
  for (int64_t i = 0; i < l; ++i) {
    std::vector<double> w(static_cast<size_t>(s));
    double mx = -std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < s; ++j) {
      double dot = 0;
      for (int64_t c = 0; c < d; ++c) dot += q[static_cast<size_t>(i * d + c)] * k[static_cast<size_t>(j * d + c)];
      w[static_cast<size_t>(j)] = causal && j > i ? -std::numeric_limits<double>::infinity() : dot * scale;
      mx = std::max(mx, w[static_cast<size_t>(j)]);
    }
    double total = 0;
    for (double& x : w) total += (x = std::exp(x - mx));
    for (int64_t j = 0; j < s; ++j)
      for (int64_t c = 0; c < dv; ++c)
        out[static_cast<size_t>(i * dv + c)] += w[static_cast<size_t>(j)] / total * v[static_cast<size_t>(j * dv + c)];
  }
  return out;
}

TEST(RandomizedModels, ScaledDotProductMatchesNaiveAttention) {
  Rng rng(9);
  const json info = json::object();
  const Tensor q = draw_tensor(info, {3, 4}, rng), k = draw_tensor(info, {5, 4}, rng);
  const Tensor v = draw_tensor(info, {5, 2}, rng);
  for (bool causal : {true, false}) {
    const Tensor out = run1(logical::Model::primitive("ScaledDotProduct", {{"is_causal", causal}}),
                            {{"query", q}, {"key", k}, {"value", v}});
    ASSERT_EQ(out.shape(), (Shape{3, 2}));
    const auto want = naive_attention(q.to_doubles(), k.to_doubles(), v.to_doubles(), 3, 5, 4, 2, causal, 0.5);
    const auto got = out.to_doubles();
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-14) << i;
  }
}

// y[n][o] = sum_k x[n][k] w[o][k] + b[o] for x [N, K], w [O, K].
std::vector<double> naive_affine(const std::vector<double>& x, const std::vector<double>& w,
                                 const std::vector<double>& b, int64_t n, int64_t k, int64_t o) {
  std::vector<double> y(static_cast<size_t>(n * o));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < o; ++j) {
      double s = b[static_cast<size_t>(j)];
      for (int64_t c = 0; c < k; ++c) s += x[static_cast<size_t>(i * k + c)] * w[static_cast<size_t>(j * k + c)];
      y[static_cast<size_t>(i * o + j)] = s;
    }
  return y;
}

void expect_near_all(const Tensor& got, const std::vector<double>& want, const Shape& shape) {
  ASSERT_EQ(got.shape(), shape);
  const auto g = got.to_doubles();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(g[i], want[i], 1e-14) << i;
}

std::map<std::string, Tensor> draw_all(const std::map<std::string, Shape>& shapes, Rng& rng) {
  std::map<std::string, Tensor> out;
  for (const auto& [k, s] : shapes) out[k] = draw_tensor(json::object(), s, rng);
  return out;
}

DataMap as_data(const std::map<std::string, Tensor>& t) {
  DataMap d;
  for (const auto& [k, v] : t) d[k] = Data(v);
  return d;
}

TEST(RandomizedModels, RNNCellMatchesNaiveReference) {
  Rng rng(13);
  const int64_t n = 2, m = 3, din = 4, dh = 3, dout = 2;
  const auto v = draw_all({{"input", {n, 1, din}}, {"prev_hidden", {m, 1, dh}}, {"w_ih", {dh, din}}, {"w_hh", {dh, dh}},
                           {"w_ho", {dout, dh}}, {"bias_h", {dh}}, {"bias_o", {dout}}},
                          rng);
  CompileOptions opt;
  opt.inference = true;
  const DataMap out = compile(logical::Model::primitive("RNNCell"), opt).evaluate(as_data(v));
  const auto ph = v.at("prev_hidden").to_doubles();
  const std::vector<double> h0(ph.begin(), ph.begin() + n * dh);
  const std::vector<double> zero(static_cast<size_t>(dh), 0.0);
  auto a = naive_affine(h0, v.at("w_hh").to_doubles(), zero, n, dh, dh);
  const auto b =
      naive_affine(v.at("input").to_doubles(), v.at("w_ih").to_doubles(), v.at("bias_h").to_doubles(), n, din, dh);
  for (size_t i = 0; i < a.size(); ++i) a[i] = std::tanh(a[i] + b[i]);
  expect_near_all(out.at("hidden").tensor, a, {n, 1, dh});
  expect_near_all(out.at("output").tensor,
                  naive_affine(a, v.at("w_ho").to_doubles(), v.at("bias_o").to_doubles(), n, dh, dout), {n, 1, dout});
  expect_near_all(out.at("hidden_compl").tensor, std::vector<double>(ph.begin() + n * dh, ph.end()), {m - n, 1, dh});
}

TEST(RandomizedModels, LSTMCellMatchesNaiveReference) {
  Rng rng(17);
  const int64_t n = 2, m = 3, din = 2, dh = 3, dout = 2, dz = din + dh;
  std::map<std::string, Shape> shapes = {{"input", {n, 1, din}}, {"prev_hidden", {m, 1, dh}}, {"prev_cell", {m, 1, dh}},
                                         {"w_out", {dout, dh}}, {"bias_out", {dout}}};
  for (const char* g : {"f", "i", "c", "o"}) {
    shapes[std::string("w_") + g] = {dh, dz};
    shapes[std::string("bias_") + g] = {dh};
  }
  const auto v = draw_all(shapes, rng);
  CompileOptions opt;
  opt.inference = true;
  const DataMap out = compile(logical::Model::primitive("LSTMCell"), opt).evaluate(as_data(v));
  const auto x = v.at("input").to_doubles(), ph = v.at("prev_hidden").to_doubles(), pc = v.at("prev_cell").to_doubles();
  std::vector<double> z;
  for (int64_t i = 0; i < n; ++i) {
    z.insert(z.end(), x.begin() + i * din, x.begin() + (i + 1) * din);
    z.insert(z.end(), ph.begin() + i * dh, ph.begin() + (i + 1) * dh);
  }
  auto gate = [&](const char* g) {
    const std::string s(g);
    return naive_affine(z, v.at("w_" + s).to_doubles(), v.at("bias_" + s).to_doubles(), n, dz, dh);
  };
  const auto f = gate("f"), ig = gate("i"), g = gate("c"), o = gate("o");
  auto sig = [](double t) { return 1 / (1 + std::exp(-t)); };
  std::vector<double> cell(static_cast<size_t>(n * dh)), hidden(cell.size());
  for (size_t k = 0; k < cell.size(); ++k) {
    cell[k] = sig(f[k]) * pc[k] + sig(ig[k]) * std::tanh(g[k]);
    hidden[k] = std::tanh(cell[k]) * sig(o[k]);
  }
  expect_near_all(out.at("cell").tensor, cell, {n, 1, dh});
  expect_near_all(out.at("hidden").tensor, hidden, {n, 1, dh});
  expect_near_all(out.at("output").tensor,
                  naive_affine(hidden, v.at("w_out").to_doubles(), v.at("bias_out").to_doubles(), n, dh, dout),
                  {n, 1, dout});
  expect_near_all(out.at("hidden_compl").tensor, std::vector<double>(ph.begin() + n * dh, ph.end()), {m - n, 1, dh});
}

TEST(RandomizedModels, RecurrentCellGradientsPassThePropertyCheck) {
  const json rnn = json::parse(R"({"model": {"name": "RNNCell"}, "input_info": {
      "input": {"shapes": [[2, 2], [1, 1], [3, 3]]},
      "prev_hidden": {"shapes": [[3, 3], [1, 1], [4, 4]]}, "w_ih": {"shapes": [[4, 4], [3, 3]]},
      "w_hh": {"shapes": [[4, 4], [4, 4]]}, "w_ho": {"shapes": [[2, 2], [4, 4]]}, "bias_h": {"shapes": [[4, 4]]},
      "bias_o": {"shapes": [[2, 2]]}}, "iterations": 3})");
  EXPECT_NO_THROW(run_randomized_case(rnn, 5));
  json lstm = json::parse(R"({"model": {"name": "LSTMCell"}, "input_info": {
      "input": {"shapes": [[2, 2], [1, 1], [2, 2]]},
      "prev_hidden": {"shapes": [[3, 3], [1, 1], [3, 3]]}, "prev_cell": {"shapes": [[3, 3], [1, 1], [3, 3]]},
      "w_out": {"shapes": [[2, 2], [3, 3]]}, "bias_out": {"shapes": [[2, 2]]}}, "iterations": 3})");
  for (const char* g : {"f", "i", "c", "o"}) {
    lstm["input_info"][std::string("w_") + g] = json::parse(R"({"shapes": [[3, 3], [5, 5]]})");
    lstm["input_info"][std::string("bias_") + g] = json::parse(R"({"shapes": [[3, 3]]})");
  }
  EXPECT_NO_THROW(run_randomized_case(lstm, 5));
}

}  // namespace
}  // namespace mithril::conformance
