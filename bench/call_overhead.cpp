// Per-call cost of PhysicalModel::evaluate on a tiny model, relu(x . W^T + b) with x 1x16
// (Mithril's Layer(Relu)): what a small-batch caller pays per call beyond the arithmetic, with
// passes on and off, and with profiling on (against the passes-on line: profiling off is the default).
// Run: build/bench/call_overhead [calls]
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "mithril/logical/library.h"
#include "mithril/runtime/compile.h"

namespace {

using namespace mithril;

double ns_per_call(const PhysicalModel& pm, const DataMap& inputs, const DataMap* grads, int calls) {
  for (int i = 0; i < calls / 10 + 1; ++i) grads ? (void)pm.evaluate(inputs, *grads) : (void)pm.evaluate(inputs);  // warm up
  double best = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < calls; ++i) grads ? (void)pm.evaluate(inputs, *grads) : (void)pm.evaluate(inputs);
    const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / calls;
    best = std::min(best, ns);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const int calls = argc > 1 ? std::atoi(argv[1]) : 200000;
  const logical::Model model = logical::Layer(logical::Model::primitive("Relu", logical::json::object()), 8);
  for (const DType dtype : {DType::f32, DType::f64}) {
    DataMap inputs{{"input", Tensor::full({1, 16}, 0.5, dtype)},
                   {"weight", Tensor::full({8, 16}, 0.25, dtype)},
                   {"bias", Tensor::full({8}, -1.0, dtype)}};
    for (const bool optimize : {true, false}) {
      CompileOptions o;
      o.set_precision(dtype);
      o.inference = true;
      if (!optimize) {
        o.optimizations = {false, false, false, false};
        o.optimizations.graph_optimization = false;
      }
      const PhysicalModel pm = compile(model, o);
      std::printf("%s evaluate, passes %-3s: %7.0f ns/call\n", dtype_name(dtype).data(), optimize ? "on" : "off",
                  ns_per_call(pm, inputs, nullptr, calls));
    }
    {
      // Profiling off must cost nothing: the run loop reads no clock; on, two clock reads per kernel.
      CompileOptions o;
      o.set_precision(dtype);
      o.inference = true;
      o.profile = true;
      const PhysicalModel pm = compile(model, o);
      std::printf("%s evaluate, profile on:  %7.0f ns/call\n", dtype_name(dtype).data(), ns_per_call(pm, inputs, nullptr, calls));
    }
    CompileOptions o;
    o.set_precision(dtype);
    const PhysicalModel train = compile(model, o);
    const DataMap ct{{"output", Tensor::full({1, 8}, 1.0, dtype)}};
    std::printf("%s evaluate + gradients:  %7.0f ns/call\n", dtype_name(dtype).data(), ns_per_call(train, inputs, &ct, calls / 4));
  }
  return 0;
}
