// What the graph passes and the memory planner do to three networks (the 64-128-10 MLP, the
// LeNet-style CNN and a one-block character transformer, batch 32, float32), for the forward
// program and the training program (forward + gradients of the mean cross-entropy): node counts
// around each pass, planned peak bytes against naive allocation, and the cost of profiling
// (time per evaluate() call compiled with profile off and on; best of several repetitions).
// Run: build/bench/pass_report [calls]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <utility>

#include "mithril/runtime/compile.h"
#include "mithril/train/models.h"

namespace {

using namespace mithril;

// Microseconds per call of `a` and of `b`, timed in alternating batches (best batch of each), so a
// change in the machine's load affects both alike.
std::pair<double, double> us_per_call(const std::function<void()>& a, const std::function<void()>& b, int calls) {
  for (int i = 0; i < std::max(1, calls / 10); ++i) a(), b();
  auto batch = [&](const std::function<void()>& f) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < calls; ++i) f();
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / calls;
  };
  double best_a = 1e30, best_b = 1e30;
  for (int rep = 0; rep < 15; ++rep) {
    best_a = std::min(best_a, batch(a));
    best_b = std::min(best_b, batch(b));
  }
  return {best_a, best_b};
}

void report(const char* name, const train::Network& net, const DataMap& data, const Tensor& target, int calls) {
  Rng rng(0);
  DataMap inputs = data;
  for (const auto& [k, t] : train::init_params(net.params, rng, DType::f32)) inputs[k] = t;
  DataMap train_inputs = inputs;
  train_inputs["target"] = target;
  const logical::Model objective = train::classification_objective(net.model);

  for (const bool train : {false, true}) {
    CompileOptions o;
    o.set_precision(DType::f32);
    o.inference = !train;
    if (train) o.discard_keys = {"output"};  // a training step differentiates final_cost only
    const logical::Model& model = train ? objective : net.model;
    const DataMap& in = train ? train_inputs : inputs;
    const PhysicalModel off = compile(model, o);
    const ProgramReport r = off.program_report(in, train);
    std::printf("%s %s: ", name, train ? "train" : "forward");
    for (const auto& p : r.passes) std::printf("%s %zu->%zu  ", p.name.c_str(), p.nodes_before, p.nodes_after);
    std::printf("\n  kernel steps %zu, buffers %zu; planned peak %lld B (arena %lld + outputs %lld), naive %lld B "
                "(%.2fx), lower bound %lld B\n",
                r.nodes, r.buffers, static_cast<long long>(r.planned_peak_bytes), static_cast<long long>(r.arena_bytes),
                static_cast<long long>(r.output_bytes), static_cast<long long>(r.naive_bytes),
                static_cast<double>(r.naive_bytes) / static_cast<double>(r.planned_peak_bytes),
                static_cast<long long>(r.lower_bound_bytes));

    o.profile = true;
    const PhysicalModel on = compile(model, o);
    const DataMap ct{{"final_cost", Tensor::full({}, 1.0, DType::f32)}};
    auto call = [&](const PhysicalModel& pm) {
      return [&] { train ? (void)pm.evaluate(in, ct) : (void)pm.evaluate(in); };
    };
    const auto [t_off, t_on] = us_per_call(call(off), call(on), calls);
    // Off against off (a second model compiled alike): how far apart two equal configurations time.
    const PhysicalModel off2 = compile(model, [&] {
      CompileOptions o2 = o;
      o2.profile = false;
      return o2;
    }());
    const auto [t_offa, t_offb] = us_per_call(call(off), call(off2), calls);
    on.reset_profile();
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < calls; ++i) call(on)();
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const ProfileStats st = on.profile_stats();
    std::printf("  evaluate: profile off %.1f us, on %.1f us (%+.1f%%); off vs off %.1f / %.1f us (%+.1f%%); "
                "per-op sum %.1f%% of wall\n",
                t_off, t_on, 100.0 * (t_on / t_off - 1), t_offa, t_offb, 100.0 * (t_offb / t_offa - 1),
                100.0 * st.kernel_seconds / wall);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int calls = argc > 1 ? std::atoi(argv[1]) : 200;
  const int64_t n = 32;
  std::vector<double> labels(n);
  for (int64_t i = 0; i < n; ++i) labels[static_cast<size_t>(i)] = static_cast<double>(i % 10);
  const Tensor classes = Tensor::from_doubles(labels, {n}, DType::i32);

  report("mlp 64-128-10", train::mlp_classifier(64, {128}, 10), {{"input", Tensor::full({n, 64}, 0.5, DType::f32)}},
         classes, calls);
  report("lenet", train::lenet(1, 8, 10), {{"input", Tensor::full({n, 1, 8, 8}, 0.5, DType::f32)}}, classes, calls);

  train::GptOptions g;
  g.vocab = 65;
  g.context = 32;
  g.d_model = 64;
  g.heads = 4;
  g.layers = 1;
  std::vector<double> tokens(static_cast<size_t>(n * g.context)), next(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<double>(i % 65), next[i] = static_cast<double>((i + 1) % 65);
  report("transformer block (char_gpt, 1 layer, d 64, 4 heads, context 32)", train::char_gpt(g),
         {{"input", Tensor::from_doubles(tokens, {n, g.context}, DType::i32)}},
         Tensor::from_doubles(next, {n, g.context}, DType::i32), std::max(1, calls / 10));
  return 0;
}
