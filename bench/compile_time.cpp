// Compile time against model size: a chain of Relus composed with += into one Model, and
// Mithril's MLP library model (Linear + Relu layers of width 4), at 100 / 1,000 / 10,000
// nodes (chain: Relus; MLP: layers). Per size it prints the seconds of each step on the way to
// a first result: composing the model, compile(), the first evaluate() (building, optimizing and
// planning the program, then running it) and summarize() + format_summary() with input shapes
// (what `mithril summary --shapes` does). Times only; nothing is asserted.
// Run: build/bench/compile_time [sizes...]   (default: 100 1000 10000)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mithril/logical/library.h"
#include "mithril/runtime/compile.h"
#include "mithril/runtime/summary.h"

namespace {

using namespace mithril;

constexpr int64_t kBatch = 2, kWidth = 4;

double seconds(const std::function<void()>& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

logical::Model relu_chain(int n) {
  logical::Model m;
  m += logical::prim("Relu").connect({{"input", "x"}});  // runtime inputs are named (safe_names)
  for (int i = 1; i < n; ++i) m += logical::prim("Relu");
  return m;
}

logical::Model mlp(int layers) {
  std::vector<logical::Model> activations(static_cast<size_t>(layers), logical::prim("Relu"));
  std::vector<int64_t> dims(static_cast<size_t>(layers), kWidth);
  return logical::MLP(activations, dims);
}

// Every input of `pm`: the data input is [kBatch, kWidth], MLP weights [kWidth, kWidth] and
// biases [kWidth], all 0.5 (the numbers do not matter here).
std::map<std::string, Shape> input_shapes(const PhysicalModel& pm) {
  std::map<std::string, Shape> shapes;
  for (const std::string& key : pm.input_keys()) {
    if (key.rfind("weight", 0) == 0) shapes[key] = {kWidth, kWidth};
    else if (key.rfind("bias", 0) == 0) shapes[key] = {kWidth};
    else shapes[key] = {kBatch, kWidth};
  }
  return shapes;
}

void measure(const char* name, int n, const std::function<logical::Model(int)>& make) {
  logical::Model model;
  const double t_compose = seconds([&] { model = make(n); });
  std::optional<PhysicalModel> pm;
  const double t_compile = seconds([&] { pm.emplace(compile(model)); });
  const std::map<std::string, Shape> shapes = input_shapes(*pm);
  DataMap inputs;
  for (const auto& [key, shape] : shapes) inputs[key] = Tensor::full(shape, 0.5, DType::f64);
  size_t outputs = 0;
  const double t_first = seconds([&] { outputs = pm->evaluate(inputs).size(); });
  size_t chars = 0;
  const double t_summary = seconds([&] { chars = format_summary(summarize(model, shapes)).size(); });
  std::printf("%-6s %6d  %9.3f  %9.3f  %13.3f  %9.3f   (%zu inputs, %zu outputs, summary %zu chars)\n", name, n,
              t_compose, t_compile, t_first, t_summary, shapes.size(), outputs, chars);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {100, 1000, 10000};
  std::printf("model   nodes  compose s  compile s  first eval s  summary s\n");
  for (int n : sizes) measure("chain", n, relu_chain);
  for (int n : sizes) measure("mlp", n, mlp);
  return 0;
}
