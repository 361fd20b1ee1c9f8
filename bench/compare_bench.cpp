// The Mithril side of bench/compare.sh: runs one workload, built with the logical layer
// (library models and primitives) and run through compile() -> PhysicalModel, and prints one
// JSON line: {"workload", "seconds" (per iteration), "iterations", "check" (numbers that
// bench/torch_compare.py computes too, to check both frameworks computed the same thing)}.
//
// Parameters and data are the same deterministic values in both programs:
//   det(shape, seed, scale)[i] = sin(0.7 i + 1.3 seed) * scale   (row-major i, in float64)
//
// Usage: compare_bench WORKLOAD [--quick] [--options JSON]   (--list prints the workload names;
//        --options '{"backend": "jit"}' runs it on generated code)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#ifdef MITHRIL_BENCH_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

#include <fmt/format.h>

#include "bench_blas.h"
#include "fma_peak.h"
#include "mithril/core/thread_pool.h"
#include "mithril/logical/library.h"
#include "mithril/logical/train_model.h"
#include "mithril/runtime/compile.h"
#include "mithril/runtime/compile_options.h"
#include "mithril/runtime/sgd_step.h"

namespace {

using namespace mithril;
using logical::Connection;
using logical::json;
using logical::Model;
using logical::anonymous;
using logical::prim;
using logical::ref;

bool g_quick = false;
// --options JSON: the compile options every workload starts from (e.g. {"backend": "jit"}).
CompileOptions g_options;


Tensor det(const Shape& shape, int seed, double scale, DType dtype) {
  std::vector<double> v(static_cast<size_t>(numel(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(0.7 * static_cast<double>(i) + 1.3 * seed) * scale;
  return Tensor::from_doubles(v, shape, dtype);
}

double sum_of(const Tensor& t) {
  double s = 0;
  for (double v : t.to_doubles()) s += v;
  return s;
}

double abs_sum_of(const Tensor& t) {
  double s = 0;
  for (double v : t.to_doubles()) s += std::fabs(v);
  return s;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Outcome {
  double seconds = 0;  // per iteration
  int iterations = 0;
  std::vector<double> check;
  std::map<std::string, double> extra;
};

// Keeps every pool thread busy for `seconds`. The cores of these (virtual) machines run about
// half speed for the first ~0.1 s of work after idling: a 1024^2 GEMM took 17-18 ms for its
// first five calls and 8.5 ms after. The PyTorch side warms its threads the same way.
void warm_cores(double seconds) {
  const auto t0 = std::chrono::steady_clock::now();
  parallel_for(0, num_threads(), 1, [&](int64_t, int64_t) {
    volatile double x = 0;
    while (seconds_since(t0) < seconds) x = x + 1.0;
  });
}

// Times `iters` calls of step after warming the cores and `warmup` calls.
double time_per_call(int warmup, int iters, const std::function<void()>& step) {
  warm_cores(0.25);
  for (int i = 0; i < warmup; ++i) step();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) step();
  return seconds_since(t0) / iters;
}

// ---- training workloads: L1 (mean) loss, plain SGD ----

Outcome train(const Model& net, const std::string& loss, DataMap inputs, DType dtype, double lr, int iters) {
  logical::TrainModel tm(net);
  tm.add_loss({prim(loss), "output", std::string("target"), {}});
  CompileOptions o = g_options;
  o.set_precision(dtype);
  const PhysicalModel pm = compile(tm.build(), o);
  const DataMap ct = {{"final_cost", Tensor::scalar(1.0, dtype)}};
  double last = 0;
  auto step = [&] {
    const auto r = pm.evaluate(inputs, ct);
    last = r.outputs.at("final_cost").tensor.item();
    sgd_step(inputs, r.gradients, lr);
  };
  Outcome out;
  out.iterations = iters;
  out.seconds = time_per_call(1, iters, step);
  out.check = {last};
  return out;
}

Model mlp(const std::vector<std::string>& acts, const std::vector<int64_t>& dims) {
  std::vector<Model> a;
  for (const auto& s : acts) a.push_back(prim(s));
  return logical::MLP(a, dims);
}

DataMap mlp_params(int64_t in, const std::vector<int64_t>& dims, DType dtype) {
  DataMap m;
  int64_t prev = in;
  for (size_t i = 0; i < dims.size(); ++i) {
    const double scale = 1.0 / std::sqrt(static_cast<double>(prev));
    m["weight" + std::to_string(i)] = det({dims[i], prev}, static_cast<int>(10 + 2 * i), scale, dtype);
    m["bias" + std::to_string(i)] = det({dims[i]}, static_cast<int>(11 + 2 * i), scale, dtype);
    prev = dims[i];
  }
  return m;
}

Outcome mlp_train(int64_t batch, int64_t in, const std::vector<int64_t>& dims, const std::vector<std::string>& acts,
                  DType dtype) {
  DataMap inputs = mlp_params(in, dims, dtype);
  inputs["input"] = det({batch, in}, 1, 1.0, dtype);
  inputs["target"] = det({batch, dims.back()}, 2, 0.5, dtype);
  return train(mlp(acts, dims), "AbsoluteError", inputs, dtype, 1e-4, g_quick ? 10 : 100);
}

const std::vector<int64_t> kLargeDims = {2048, 1024, 512, 2048, 1024, 1024, 512, 2048, 1024, 128};
const std::vector<std::string> kLargeActs = {"Sigmoid", "Relu",    "Sigmoid", "Relu",    "Tanh",
                                             "Sigmoid", "Sigmoid", "Sigmoid", "Relu",    "Tanh"};

Outcome conv_train(DType dtype) {
  Model net;
  const std::vector<int64_t> ch = {12, 16, 32};
  const std::vector<std::string> acts = {"Sigmoid", "Relu", "Tanh"};
  Connection prev = "input";
  DataMap inputs;
  int64_t cin = 4;
  for (size_t i = 0; i < ch.size(); ++i) {
    const std::string s = std::to_string(i);
    net.add(prim("Convolution2D", {{"kernel_size", 3}, {"out_channels", ch[i]}}),
            {{"input", prev}, {"weight", "w" + s}, {"bias", "b" + s}, {"stride", Connection::scalar(2)},
             {"padding", Connection::scalar(1)}, {"output", anonymous()}},
            "conv" + s);
    net.add(prim("MaxPool2D"), {{"input", ref("conv" + s, "output")}, {"kernel_size", Connection::scalar(2)}, {"output", anonymous()}},
            "pool" + s);
    net.add(prim(acts[i]), {{"input", ref("pool" + s, "output")}, {"output", i + 1 == ch.size() ? Connection("output") : anonymous()}},
            "act" + s);
    prev = ref("act" + s, "output");
    const double scale = 1.0 / std::sqrt(static_cast<double>(cin * 9));
    inputs["w" + s] = det({ch[i], cin, 3, 3}, static_cast<int>(20 + 2 * i), scale, dtype);
    inputs["b" + s] = det({ch[i]}, static_cast<int>(21 + 2 * i), scale, dtype);
    cin = ch[i];
  }
  net.expose({"output"});
  inputs["input"] = det({4, 4, 128, 128}, 1, 1.0, dtype);
  inputs["target"] = det({4, 32, 2, 2}, 2, 0.5, dtype);
  return train(net, "AbsoluteError", inputs, dtype, 1e-4, g_quick ? 10 : 100);
}

// MLP 784-512-512-10 (ReLU), cross-entropy on labels i % 10, SGD.
Outcome mnist_train() {
  const std::vector<int64_t> dims = {512, 512, 10};
  DataMap inputs = mlp_params(784, dims, DType::f32);
  inputs["input"] = det({128, 784}, 1, 1.0, DType::f32);
  std::vector<double> labels(128);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<double>(i % 10);
  inputs["target"] = Tensor::from_doubles(labels, {128}, DType::i64);
  return train(mlp({"Relu", "Relu", "Buffer"}, dims), "CrossEntropy", inputs, DType::f32, 1e-4, g_quick ? 20 : 200);
}

// ---- inference workloads ----

Outcome infer(const Model& net, const DataMap& inputs, int warmup, int iters, double (*check)(const Tensor&) = sum_of) {
  CompileOptions o = g_options;
  o.set_precision(DType::f32);
  o.inference = true;
  const PhysicalModel pm = compile(net, o);
  DataMap result;
  Outcome out;
  out.iterations = iters;
  out.seconds = time_per_call(warmup, iters, [&] { result = pm.evaluate(inputs); });
  out.check = {check(result.at("output").tensor)};
  return out;
}

// Times float32 forward + backward passes of `net` (2 untimed ones first) with the given output
// cotangents; `check` reads the checked numbers from the last pass.
Outcome forward_backward(const Model& net, const DataMap& inputs, const DataMap& cotangents,
                         std::vector<std::string> trainable_keys, int iters,
                         const std::function<std::vector<double>(const PhysicalModel::Result&)>& check) {
  CompileOptions o = g_options;
  o.set_precision(DType::f32);
  o.trainable_keys = std::move(trainable_keys);
  const PhysicalModel pm = compile(net, o);
  PhysicalModel::Result r;
  Outcome out;
  out.iterations = iters;
  out.seconds = time_per_call(2, iters, [&] { r = pm.evaluate(inputs, cotangents); });
  out.check = check(r);
  return out;
}

Outcome mnist_infer_b1() {
  DataMap inputs = mlp_params(784, {512, 512, 10}, DType::f32);
  inputs["input"] = det({1, 784}, 1, 1.0, DType::f32);
  return infer(mlp({"Relu", "Relu", "Buffer"}, {512, 512, 10}), inputs, 50, g_quick ? 500 : 2000);
}

Outcome tiny_graph() {
  Model net;
  net.add(logical::Linear(), {{"input", "input"}, {"weight", "weight"}, {"bias", "bias"}, {"output", anonymous()}}, "lin");
  net.add(prim("Relu"), {{"input", ref("lin", "output")}, {"output", "output"}}, "relu");
  const DataMap inputs = {{"input", det({1, 16}, 1, 1.0, DType::f32)},
                          {"weight", det({16, 16}, 2, 0.25, DType::f32)},
                          {"bias", det({16}, 3, 0.25, DType::f32)}};
  return infer(net, inputs, 1000, g_quick ? 20000 : 100000);
}

// ---- transformer encoder layer (post-norm, ReLU, no dropout), d 256, 4 heads, ff 1024 ----
// Attention per head from Linear + ScaledDotProduct; the output projection is the sum of the
// heads' slices of W_o (the same product as concatenating heads first).
constexpr int64_t kD = 256, kHeads = 4, kDh = kD / kHeads, kFF = 1024, kSeq = 128, kBatch = 8;

Model transformer_layer() {
  Model m;
  for (int64_t h = 0; h < kHeads; ++h) {
    const std::string s = std::to_string(h);
    for (const char* p : {"q", "k", "v"})
      m.add(logical::Linear(), {{"input", "input"}, {"weight", fmt::format("w{}{}", p, s)}, {"bias", fmt::format("b{}{}", p, s)},
                                {"output", anonymous()}},
            fmt::format("{}{}", p, s));
    m.add(prim("ScaledDotProduct", {{"is_causal", false}}),
          {{"query", ref("q" + s, "output")}, {"key", ref("k" + s, "output")}, {"value", ref("v" + s, "output")},
           {"output", anonymous()}},
          "attn" + s);
    m.add(logical::Linear(std::nullopt, false), {{"input", ref("attn" + s, "output")}, {"weight", "wo" + s}, {"output", anonymous()}},
          "o" + s);
  }
  m.add(prim("Add"), {{"left", ref("o0", "output")}, {"right", ref("o1", "output")}, {"output", anonymous()}}, "o01");
  m.add(prim("Add"), {{"left", ref("o2", "output")}, {"right", ref("o3", "output")}, {"output", anonymous()}}, "o23");
  m.add(prim("Add"), {{"left", ref("o01", "output")}, {"right", ref("o23", "output")}, {"output", anonymous()}}, "oall");
  m.add(prim("Add"), {{"left", ref("oall", "output")}, {"right", "bo"}, {"output", anonymous()}}, "obias");
  m.add(prim("Add"), {{"left", "input"}, {"right", ref("obias", "output")}, {"output", anonymous()}}, "res1");
  m.add(logical::LayerNorm(), {{"input", ref("res1", "output")}, {"weight", "ln1_w"}, {"bias", "ln1_b"}, {"output", anonymous()}},
        "ln1");
  m.add(logical::Linear(), {{"input", ref("ln1", "output")}, {"weight", "ff1_w"}, {"bias", "ff1_b"}, {"output", anonymous()}}, "ff1");
  m.add(prim("Relu"), {{"input", ref("ff1", "output")}, {"output", anonymous()}}, "relu");
  m.add(logical::Linear(), {{"input", ref("relu", "output")}, {"weight", "ff2_w"}, {"bias", "ff2_b"}, {"output", anonymous()}}, "ff2");
  m.add(prim("Add"), {{"left", ref("ln1", "output")}, {"right", ref("ff2", "output")}, {"output", anonymous()}}, "res2");
  m.add(logical::LayerNorm(), {{"input", ref("res2", "output")}, {"weight", "ln2_w"}, {"bias", "ln2_b"}, {"output", "output"}},
        "ln2");
  m.expose({"output"});
  return m;
}

DataMap transformer_inputs() {
  const DType f = DType::f32;
  const double s = 1.0 / std::sqrt(static_cast<double>(kD));
  DataMap in;
  const Tensor wq = det({kD, kD}, 30, s, f), wk = det({kD, kD}, 31, s, f), wv = det({kD, kD}, 32, s, f);
  const Tensor bq = det({kD}, 33, 0.1, f), bk = det({kD}, 34, 0.1, f), bv = det({kD}, 35, 0.1, f);
  const Tensor wo = det({kD, kD}, 36, s, f);
  for (int64_t h = 0; h < kHeads; ++h) {
    const std::string n = std::to_string(h);
    const int64_t a = h * kDh, b = (h + 1) * kDh;
    in["wq" + n] = wq.slice(0, a, b).contiguous();
    in["wk" + n] = wk.slice(0, a, b).contiguous();
    in["wv" + n] = wv.slice(0, a, b).contiguous();
    in["bq" + n] = bq.slice(0, a, b).contiguous();
    in["bk" + n] = bk.slice(0, a, b).contiguous();
    in["bv" + n] = bv.slice(0, a, b).contiguous();
    in["wo" + n] = wo.slice(1, a, b).contiguous();
  }
  in["bo"] = det({kD}, 37, 0.1, f);
  in["ln1_w"] = Tensor::full({kD}, 1.0, f);
  in["ln1_b"] = Tensor::zeros({kD}, f);
  in["ln2_w"] = Tensor::full({kD}, 1.0, f);
  in["ln2_b"] = Tensor::zeros({kD}, f);
  in["ff1_w"] = det({kFF, kD}, 38, s, f);
  in["ff1_b"] = det({kFF}, 39, 0.1, f);
  in["ff2_w"] = det({kD, kFF}, 40, 1.0 / std::sqrt(static_cast<double>(kFF)), f);
  in["ff2_b"] = det({kD}, 41, 0.1, f);
  in["input"] = det({kBatch, kSeq, kD}, 1, 1.0, f);
  return in;
}

Outcome transformer(bool backward) {
  const DataMap inputs = transformer_inputs();
  if (!backward) return infer(transformer_layer(), inputs, 3, g_quick ? 10 : 40, abs_sum_of);
  const DataMap ct = {{"output", Tensor::full({kBatch, kSeq, kD}, 1.0, DType::f32)}};
  return forward_backward(transformer_layer(), inputs, ct, {}, g_quick ? 5 : 20, [](const PhysicalModel::Result& r) {
    return std::vector<double>{abs_sum_of(r.outputs.at("output").tensor), sum_of(r.gradients.at("ff1_b").tensor)};
  });
}

// ---- LSTM (input 128, hidden 256, seq 64, batch 32): LSTMCell unrolled, forward + backward ----
// of sum(final hidden). PyTorch's gates (i, f, g, o) stacked in W_ih [4H, I], W_hh [4H, H];
// LSTMCell's w_<gate> = [W_ih_gate | W_hh_gate] acting on concat(input, hidden).
Outcome lstm() {
  constexpr int64_t I = 128, H = 256, T = 64, N = 32;
  const DType f = DType::f32;
  const double s = 1.0 / std::sqrt(static_cast<double>(H));
  Model m;
  for (int64_t t = 0; t < T; ++t) {
    const std::string n = std::to_string(t), prev = fmt::format("cell{}", t - 1);
    std::map<std::string, Connection> c = {
        {"input", "x" + n},
        {"prev_hidden", t == 0 ? Connection("h0") : ref(prev, "hidden")},
        {"prev_cell", t == 0 ? Connection("c0") : ref(prev, "cell")},
        {"hidden", t + 1 == T ? Connection("hidden") : anonymous()},
        {"cell", anonymous()},
        {"hidden_compl", anonymous()},
        {"output", anonymous()}};
    for (const char* p : {"w_f", "w_i", "w_c", "w_o", "w_out", "bias_f", "bias_i", "bias_c", "bias_o", "bias_out"})
      c.emplace(p, std::string(p));
    m.add(prim("LSTMCell"), c, "cell" + n);
  }
  m.expose({"hidden"});
  const Tensor w_ih = det({4 * H, I}, 50, s, f), w_hh = det({4 * H, H}, 51, s, f), b = det({4 * H}, 52, s, f);
  DataMap in;
  const char* gates[] = {"i", "f", "c", "o"};  // PyTorch's order: input, forget, cell (g), output
  for (int64_t g = 0; g < 4; ++g) {
    Tensor w = Tensor::empty({H, I + H}, f);
    w.slice(1, 0, I).copy_from(w_ih.slice(0, g * H, (g + 1) * H));
    w.slice(1, I, I + H).copy_from(w_hh.slice(0, g * H, (g + 1) * H));
    in[fmt::format("w_{}", gates[g])] = w;
    in[fmt::format("bias_{}", gates[g])] = b.slice(0, g * H, (g + 1) * H).contiguous();
  }
  in["w_out"] = Tensor::zeros({1, H}, f);
  in["bias_out"] = Tensor::zeros({1}, f);
  in["h0"] = Tensor::zeros({N, 1, H}, f);
  in["c0"] = Tensor::zeros({N, 1, H}, f);
  const Tensor x = det({N, T, I}, 1, 1.0, f);
  for (int64_t t = 0; t < T; ++t) in[fmt::format("x{}", t)] = x.slice(1, t, t + 1).contiguous();
  const DataMap ct = {{"hidden", Tensor::full({N, 1, H}, 1.0, f)}};
  return forward_backward(m, in, ct, {"w_f", "w_i", "w_c", "w_o"}, g_quick ? 3 : 10, [](const PhysicalModel::Result& r) {
    return std::vector<double>{sum_of(r.outputs.at("hidden").tensor), sum_of(r.gradients.at("w_f").tensor)};
  });
}

// ---- float32 GEMM: our MatrixMultiply vs OpenBLAS (its own threads) and oneDNN directly ----

Outcome gemm(int64_t n) {
  Model m;
  m.add(prim("MatrixMultiply"), {{"left", "left"}, {"right", "right"}, {"output", "output"}}, "mm");
  const DataMap inputs = {{"left", det({n, n}, 1, 1.0, DType::f32)}, {"right", det({n, n}, 2, 1.0, DType::f32)}};
  const int iters = g_quick ? 3 : (n >= 2048 ? 5 : 20);
  Outcome out = infer(m, inputs, 2, iters);
  const double flops = 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
  out.extra["gflops"] = flops / out.seconds * 1e-9;
  out.extra["peak_gflops"] = bench::fma_peak_gflops_f32();
  // The libraries called directly on preallocated buffers, with their own threading.
  const float* a = inputs.at("left").tensor.data<float>();
  const float* b = inputs.at("right").tensor.data<float>();
  std::vector<float> c(static_cast<size_t>(n * n));
  const int ni = static_cast<int>(n);
  const double t_ob = time_per_call(2, iters, [&] { bench::openblas_gemm(a, b, c.data(), ni); });
  out.extra["openblas_gflops"] = flops / t_ob * 1e-9;
#ifdef MITHRIL_BENCH_HAVE_DNNL
  const double t_dn =
      time_per_call(2, iters, [&] { dnnl_sgemm('N', 'N', n, n, n, 1.0f, a, n, b, n, 0.0f, c.data(), n); });
  out.extra["onednn_gflops"] = flops / t_dn * 1e-9;
#endif
  return out;
}

const std::map<std::string, std::function<Outcome()>>& workloads() {
  static const std::map<std::string, std::function<Outcome()>> w = {
      {"mlp_large_f32", [] { return mlp_train(128, 256, kLargeDims, kLargeActs, DType::f32); }},
      {"mlp_large_f64", [] { return mlp_train(128, 256, kLargeDims, kLargeActs, DType::f64); }},
      {"mlp_small_f32", [] { return mlp_train(128, 128, {256, 256, 1}, {"Sigmoid", "Relu", "Tanh"}, DType::f32); }},
      {"mlp_small_f64", [] { return mlp_train(128, 128, {256, 256, 1}, {"Sigmoid", "Relu", "Tanh"}, DType::f64); }},
      {"conv_small_f32", [] { return conv_train(DType::f32); }},
      {"conv_small_f64", [] { return conv_train(DType::f64); }},
      {"mlp784_train_b128", mnist_train},
      {"mlp784_infer_b1", mnist_infer_b1},
      {"tiny_graph", tiny_graph},
      {"transformer_fwd", [] { return transformer(false); }},
      {"transformer_fwdbwd", [] { return transformer(true); }},
      {"lstm_fwdbwd", lstm},
      {"gemm_1024", [] { return gemm(1024); }},
      {"gemm_2048", [] { return gemm(2048); }},
  };
  return w;
}

}  // namespace

int main(int argc, char** argv) {
  std::string name;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) g_quick = true;
    else if (std::strcmp(argv[i], "--options") == 0 && i + 1 < argc) g_options = load_compile_options(argv[++i]);
    else if (std::strcmp(argv[i], "--list") == 0) {
      for (const auto& [n, f] : workloads()) std::printf("%s\n", n.c_str());
      return 0;
    } else name = argv[i];
  }
  const auto it = workloads().find(name);
  if (it == workloads().end()) {
    std::fprintf(stderr, "compare_bench: unknown workload '%s' (--list shows them)\n", name.c_str());
    return 2;
  }
  try {
    const Outcome o = it->second();
    std::string extra;
    for (const auto& [k, v] : o.extra) extra += fmt::format(", \"{}\": {:.6g}", k, v);
    std::printf("{\"workload\": \"%s\", \"seconds\": %.9g, \"iterations\": %d, \"check\": [%s]%s}\n", name.c_str(), o.seconds,
                o.iterations, fmt::format("{:.10g}", fmt::join(o.check, ", ")).c_str(), extra.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "compare_bench %s: %s\n", name.c_str(), e.what());
    return 1;
  }
  return 0;
}
