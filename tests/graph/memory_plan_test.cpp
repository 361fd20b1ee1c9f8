// Static memory plans: an independent checker (no two buffers alive at the same step share a
// byte, offsets aligned, everything inside the arena), bounds (lower bound <= plan <= sum of all
// buffers), and equality with a brute-force optimum on small problems. Also plans of real
// programs built by the executor, which must run to the same results as without reuse.
#include <gtest/gtest.h>

#include <functional>
#include <random>

#include "mithril/backends/cpu/executor.h"
#include "mithril/graph/autodiff.h"
#include "mithril/graph/memory_plan.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/linalg.h"
#include "mithril/ops/reduce.h"
#include "mithril/ops/unary.h"

namespace mithril {
namespace {

// Independent of the planner: pairwise interval and byte-range intersection.
void check_plan(const std::vector<BufferLifetime>& bufs, const MemoryPlan& plan) {
  ASSERT_EQ(plan.offsets.size(), bufs.size());
  for (size_t i = 0; i < bufs.size(); ++i) {
    EXPECT_EQ(plan.offsets[i] % kPlanAlignment, 0);
    EXPECT_LE(plan.offsets[i] + bufs[i].bytes, plan.arena_bytes);
    for (size_t j = i + 1; j < bufs.size(); ++j) {
      const bool same_time = bufs[i].first <= bufs[j].last && bufs[j].first <= bufs[i].last;
      const bool same_bytes = plan.offsets[i] < plan.offsets[j] + bufs[j].bytes && plan.offsets[j] < plan.offsets[i] + bufs[i].bytes;
      EXPECT_FALSE(same_time && same_bytes) << "buffers " << i << " and " << j << " overlap";
    }
  }
}

std::vector<BufferLifetime> random_lifetimes(std::mt19937& rng, int n, int steps, int max_units) {
  std::vector<BufferLifetime> bufs;
  for (int i = 0; i < n; ++i) {
    const int a = std::uniform_int_distribution<int>(0, steps - 1)(rng);
    const int b = std::uniform_int_distribution<int>(a, std::min(steps - 1, a + 4))(rng);
    bufs.push_back({kPlanAlignment * std::uniform_int_distribution<int>(1, max_units)(rng), a, b});
  }
  return bufs;
}

// Smallest arena over every assignment of offsets (in alignment units), by depth-first search
// with the best size so far as a bound.
int64_t brute_force_optimum(const std::vector<BufferLifetime>& bufs) {
  const size_t n = bufs.size();
  int64_t total = 0;
  for (const auto& b : bufs) total += b.bytes / kPlanAlignment;
  int64_t best = total;
  std::vector<int64_t> off(n, 0);
  std::function<void(size_t, int64_t)> place = [&](size_t i, int64_t top) {
    if (top >= best) return;
    if (i == n) {
      best = top;
      return;
    }
    const int64_t size = bufs[i].bytes / kPlanAlignment;
    for (int64_t o = 0; o + size < best; ++o) {
      bool ok = true;
      for (size_t j = 0; j < i && ok; ++j) {
        const bool same_time = bufs[i].first <= bufs[j].last && bufs[j].first <= bufs[i].last;
        ok = !(same_time && o < off[j] + bufs[j].bytes / kPlanAlignment && off[j] < o + size);
      }
      if (!ok) continue;
      off[i] = o;
      place(i + 1, std::max(top, o + size));
    }
  };
  place(0, 0);
  return best * kPlanAlignment;
}

TEST(MemoryPlan, NoLiveBuffersOverlapAndBoundsHold) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    const auto bufs = random_lifetimes(rng, 1 + trial % 40, 30, 16);
    const MemoryPlan plan = plan_memory(bufs);
    check_plan(bufs, plan);
    EXPECT_LE(plan.arena_bytes, plan.naive_bytes);
    EXPECT_GE(plan.arena_bytes, plan.lower_bound);
  }
}

TEST(MemoryPlan, EqualsBruteForceOptimumOnSmallProblems) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 300; ++trial) {
    const auto bufs = random_lifetimes(rng, 2 + trial % 5, 6, 4);
    const MemoryPlan plan = plan_memory(bufs);
    check_plan(bufs, plan);
    EXPECT_EQ(plan.arena_bytes, brute_force_optimum(bufs)) << "trial " << trial;
  }
}

TEST(MemoryPlan, DisjointLifetimesShareOneBuffer) {
  const MemoryPlan plan = plan_memory({{1000, 0, 1}, {1000, 2, 3}, {1000, 4, 5}});
  EXPECT_EQ(plan.arena_bytes, plan_aligned(1000));
  EXPECT_EQ(plan.naive_bytes, 3 * plan_aligned(1000));
}

// A training graph (MLP layer + loss gradients): the executor's plan is checked by the same
// checker, reuses memory, and runs to bitwise the results of a run without in-place reuse.
TEST(MemoryPlan, ExecutorPlanOfATrainingGraph) {
  Graph g;
  const Var x = g.input("x", {32, 16}, DType::f64);
  const Var w1 = g.input("w1", {16, 64}, DType::f64);
  const Var w2 = g.input("w2", {64, 8}, DType::f64);
  const Var h = ops::tanh(ops::matmul(x, w1));
  const Var y = ops::sigmoid(ops::matmul(h, w2));
  const Var loss = ops::mean(ops::square(y));
  const auto grads = vjp(g, {loss}, {ops::scalar_like(loss, 1.0)}, {w1, w2});
  const std::vector<ValueId> outs = {loss.id(), grads[0]->id(), grads[1]->id()};
  const cpu::Executor planned(g, outs);
  cpu::ExecutorOptions no_reuse;
  no_reuse.in_place = false;
  const cpu::Executor plain(g, outs, no_reuse);
  const MemoryPlan& plan = planned.memory_plan();
  EXPECT_LT(plan.arena_bytes, plan.naive_bytes);
  // Independent check on the graph: two arena values alive at the same step never share bytes,
  // except an in-place step's output with the input it overwrites (that input's last use).
  std::vector<int> first(g.values().size(), -1), last(g.values().size(), -1);
  const auto& steps = planned.step_info();
  for (size_t s = 0; s < steps.size(); ++s) {
    const Node& node = g.nodes()[static_cast<size_t>(steps[s].node)];
    for (ValueId v : node.outputs) first[static_cast<size_t>(v)] = last[static_cast<size_t>(v)] = static_cast<int>(s);
    for (ValueId v : node.inputs) last[static_cast<size_t>(v)] = static_cast<int>(s);
  }
  int checked = 0;
  for (size_t a = 0; a < g.values().size(); ++a)
    for (size_t b = a + 1; b < g.values().size(); ++b) {
      const int64_t oa = planned.arena_offset(static_cast<ValueId>(a)), ob = planned.arena_offset(static_cast<ValueId>(b));
      if (oa < 0 || ob < 0 || first[a] < 0 || first[b] < 0) continue;
      const int64_t na = static_cast<int64_t>(numel(g.value(static_cast<ValueId>(a)).shape) * 8);
      const int64_t nb = static_cast<int64_t>(numel(g.value(static_cast<ValueId>(b)).shape) * 8);
      const bool same_time = first[a] <= last[b] && first[b] <= last[a];
      const bool same_bytes = oa < ob + nb && ob < oa + na;
      const bool handover = oa == ob && (last[a] == first[b] || last[b] == first[a]);
      ++checked;
      EXPECT_FALSE(same_time && same_bytes && !handover) << "values " << a << " and " << b << " overlap";
    }
  EXPECT_GT(checked, 10);
  EXPECT_LE(planned.memory_plan().arena_bytes, plain.memory_plan().arena_bytes);
  std::mt19937 rng(3);
  std::normal_distribution<double> normal;
  auto random = [&](const Shape& s) {
    std::vector<double> v(static_cast<size_t>(numel(s)));
    for (double& e : v) e = normal(rng);
    return Tensor::from_doubles(v, s, DType::f64);
  };
  const std::vector<Tensor> feed = {random({32, 16}), random({16, 64}), random({64, 8})};
  for (int rep = 0; rep < 2; ++rep) {  // the second run reuses the arena
    const auto a = planned.run(feed), b = plain.run(feed);
    for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].to_doubles(), b[i].to_doubles());
  }
}

}  // namespace
}  // namespace mithril
