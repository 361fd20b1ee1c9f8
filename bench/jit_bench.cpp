// Measurements of the jit backend (closing note of the jit work; never run as a test).
//   jit_bench chain [N]         an 8-op elementwise chain over N float32 elements on cpu and jit,
//                               in GB/s (bytes read + written once), against a STREAM-like copy
//                               and triad over the same pool
//   jit_bench startup WORKLOAD  seconds of compile() + the first training step (program build,
//                               code generation, compile or cache load) for mlp_small / mlp_large,
//                               with the backend of --options; run it twice on one cache dir
//                               (jit_options.cache_dir) for the cold and the cached start
// Options: --options JSON (compile options, e.g. {"backend": "jit"}).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "mithril/core/thread_pool.h"
#include "mithril/logical/library.h"
#include "mithril/logical/train_model.h"
#include "mithril/runtime/compile.h"
#include "mithril/runtime/compile_options.h"

namespace {

using namespace mithril;
using logical::Model;
using logical::prim;
using logical::ref;
using logical::anonymous;

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

template <class F>
double median_seconds(int reps, F&& f) {
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const double t0 = now();
    f();
    t.push_back(now() - t0);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

Tensor det(const Shape& shape, int seed, double scale, DType dtype) {
  std::vector<double> v(static_cast<size_t>(numel(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(0.7 * static_cast<double>(i) + 1.3 * seed) * scale;
  return Tensor::from_doubles(v, shape, dtype);
}

// y = relu(tanh-free chain): ((x * 1.5 + 0.25) * x - 0.5) / (x * x + 1), then relu and * 2: 8 ops,
// one input, one output, every intermediate single-use (one fused region).
int chain(int64_t n, const CompileOptions& base) {
  Model m;
  auto add = [&](const char* p, std::map<std::string, logical::Connection> c, const std::string& name) { m.add(prim(p), c, name); };
  add("Multiply", {{"left", "x"}, {"right", "a"}, {"output", anonymous()}}, "m1");
  add("Add", {{"left", ref("m1", "output")}, {"right", "b"}, {"output", anonymous()}}, "a1");
  add("Multiply", {{"left", ref("a1", "output")}, {"right", "x"}, {"output", anonymous()}}, "m2");
  add("Subtract", {{"left", ref("m2", "output")}, {"right", "c"}, {"output", anonymous()}}, "s1");
  add("Multiply", {{"left", "x"}, {"right", "x"}, {"output", anonymous()}}, "sq");
  add("Add", {{"left", ref("sq", "output")}, {"right", "one"}, {"output", anonymous()}}, "a2");
  add("Divide", {{"numerator", ref("s1", "output")}, {"denominator", ref("a2", "output")}, {"output", anonymous()}}, "d1");
  add("Relu", {{"input", ref("d1", "output")}, {"output", anonymous()}}, "r1");
  add("Multiply", {{"left", ref("r1", "output")}, {"right", "two"}, {"output", "y"}}, "m3");
  m.expose({"y"});
  const DataMap in = {{"x", det({n}, 1, 1.0, DType::f32)},        {"a", Tensor::scalar(1.5, DType::f32)},
                      {"b", Tensor::scalar(0.25, DType::f32)},    {"c", Tensor::scalar(0.5, DType::f32)},
                      {"one", Tensor::scalar(1.0, DType::f32)},   {"two", Tensor::scalar(2.0, DType::f32)}};
  const double bytes = 8.0 * static_cast<double>(n);  // read x, write y (float32)
  for (const char* backend : {"cpu", "jit"}) {
    CompileOptions o = base;
    o.backend = make_backend(backend, {.precision = DType::f32});
    o.inference = true;
    o.constant_keys = {};
    const PhysicalModel pm = compile(m, o);
    pm.evaluate(in);
    const double s = median_seconds(15, [&] { pm.evaluate(in); });
    std::printf("chain %-4s n=%lld  %.3f ms  %.1f GB/s\n", backend, static_cast<long long>(n), s * 1e3, bytes / s * 1e-9);
  }
  // STREAM-like copy and triad over the same pool (bytes read + written).
  std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n), 1.0f), c(static_cast<size_t>(n), 2.0f);
  const double copy = median_seconds(15, [&] {
    parallel_for(0, n, 1 << 15, [&](int64_t lo, int64_t hi) { std::memcpy(a.data() + lo, b.data() + lo, sizeof(float) * (hi - lo)); });
  });
  const double triad = median_seconds(15, [&] {
    parallel_for(0, n, 1 << 15, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) a[i] = b[i] + 3.0f * c[i];
    });
  });
  std::printf("stream copy  %.1f GB/s   triad %.1f GB/s\n", 8.0 * n / copy * 1e-9, 12.0 * n / triad * 1e-9);
  return 0;
}

int startup(const std::string& workload, const CompileOptions& base) {
  const bool large = workload == "mlp_large";
  const std::vector<int64_t> dims = large ? std::vector<int64_t>{2048, 1024, 512, 2048, 1024, 1024, 512, 2048, 1024, 128}
                                          : std::vector<int64_t>{256, 256, 1};
  const std::vector<std::string> acts = large ? std::vector<std::string>{"Sigmoid", "Relu", "Sigmoid", "Relu", "Tanh", "Relu",
                                                                         "Sigmoid", "Relu", "Tanh", "Buffer"}
                                              : std::vector<std::string>{"Sigmoid", "Relu", "Tanh"};
  const int64_t in_dim = large ? 256 : 128;
  const double t0 = now();
  std::vector<Model> a;
  for (const auto& s : acts) a.push_back(prim(s));
  logical::TrainModel tm(logical::MLP(a, dims));
  tm.add_loss({prim("AbsoluteError"), "output", std::string("target"), {}});
  CompileOptions o = base;
  o.set_precision(DType::f32);
  const PhysicalModel pm = compile(tm.build(), o);
  DataMap in;
  int64_t prev = in_dim;
  for (size_t i = 0; i < dims.size(); ++i) {
    in["weight" + std::to_string(i)] = det({dims[i], prev}, static_cast<int>(10 + 2 * i), 0.05, DType::f32);
    in["bias" + std::to_string(i)] = det({dims[i]}, static_cast<int>(11 + 2 * i), 0.05, DType::f32);
    prev = dims[i];
  }
  in["input"] = det({128, in_dim}, 1, 1.0, DType::f32);
  in["target"] = det({128, dims.back()}, 2, 0.5, DType::f32);
  const double t1 = now();
  const auto r = pm.evaluate(in, {{"final_cost", Tensor::scalar(1.0, DType::f32)}});
  const double t2 = now();
  std::printf("startup %s backend %s: compile() %.3f s, first step (build + run) %.3f s, loss %.6g\n", workload.c_str(),
              std::string(o.backend_or_default().name()).c_str(), t1 - t0, t2 - t1, r.outputs.at("final_cost").tensor.item());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args;
  CompileOptions base;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--options") == 0 && i + 1 < argc) base = load_compile_options(argv[++i]);
    else args.push_back(argv[i]);
  }
  try {
    if (!args.empty() && args[0] == "chain") return chain(args.size() > 1 ? std::stoll(args[1]) : (int64_t{1} << 23), base);
    if (args.size() == 2 && args[0] == "startup") return startup(args[1], base);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "jit_bench: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "usage: jit_bench chain [N] | startup mlp_small|mlp_large [--options JSON]\n");
  return 2;
}
