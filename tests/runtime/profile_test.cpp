// PhysicalModel::profile_stats(), the formatted breakdown and the Chrome-trace export.
#include "mithril/runtime/profile.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "mithril/core/error.h"
#include "mithril/logical/model_dict.h"
#include "mithril/runtime/compile.h"
#include "support/error_of.h"
#include "support/example_model.h"

namespace mithril {
namespace {

using testing::error_of;
using testing::example_model;

DataMap example_inputs() {
  return {{"x", Tensor::full({4, 3}, 0.5, DType::f64)},
          {"w", Tensor::full({2, 3}, 0.25, DType::f64)},
          {"b", Tensor::full({2}, -0.1, DType::f64)}};
}

CompileOptions profiling(bool passes = true) {
  CompileOptions o;
  o.profile = true;
  o.peak_gflops = 100;  // fixed peaks: no measurement, exact percentages
  o.peak_gbs = 10;
  if (!passes) {
    o.optimizations = {false, false, false, false};
    o.optimizations.graph_optimization = false;
  }
  return o;
}

const ProfileRow* op_row(const ProfileStats& s, const std::string& op) {
  for (const ProfileRow& r : s.execution_breakdown.op_types)
    if (r.op == op) return &r;
  return nullptr;
}

TEST(Profile, CountsCallsPerNodeAndOpType) {
  const PhysicalModel pm = compile(example_model(), profiling(false));
  const DataMap in = example_inputs();
  for (int i = 0; i < 5; ++i) pm.evaluate(in);
  const ProfileStats s = pm.profile_stats();
  EXPECT_EQ(s.runs, 5);
  ASSERT_FALSE(s.execution_breakdown.nodes.empty());
  int64_t node_calls = 0, op_calls = 0;
  double node_seconds = 0, op_seconds = 0, node_percent = 0, op_percent = 0, node_flops = 0, op_flops = 0;
  for (const ProfileRow& r : s.execution_breakdown.nodes) {
    EXPECT_EQ(r.calls, 5) << r.name;
    EXPECT_NEAR(r.mean_seconds * 5, r.total_seconds, 1e-12) << r.name;
    EXPECT_EQ(r.name.rfind("forward n", 0), 0u) << r.name;
    node_calls += r.calls;
    node_seconds += r.total_seconds;
    node_percent += r.percent;
    node_flops += r.flops;
  }
  for (const ProfileRow& r : s.execution_breakdown.op_types) {
    op_calls += r.calls;
    op_seconds += r.total_seconds;
    op_percent += r.percent;
    op_flops += r.flops;
  }
  EXPECT_EQ(op_calls, node_calls);
  EXPECT_NEAR(op_seconds, node_seconds, 1e-12);
  EXPECT_NEAR(node_seconds, s.kernel_seconds, 1e-12);
  EXPECT_NEAR(node_percent, 100.0, 1e-9);
  EXPECT_NEAR(op_percent, 100.0, 1e-9);
  EXPECT_DOUBLE_EQ(op_flops, node_flops);
  EXPECT_LE(s.kernel_seconds, s.total_seconds);
  // Sorted by total time, longest first.
  for (size_t i = 1; i < s.execution_breakdown.nodes.size(); ++i)
    EXPECT_GE(s.execution_breakdown.nodes[i - 1].total_seconds, s.execution_breakdown.nodes[i].total_seconds);

  // Without passes the matmul is its own node: 2·m·n·k FLOPs per call.
  const ProfileRow* mm = op_row(s, "matmul");
  ASSERT_NE(mm, nullptr);
  EXPECT_DOUBLE_EQ(mm->flops, 5 * 2.0 * 4 * 2 * 3);
  EXPECT_DOUBLE_EQ(mm->bytes, 5 * 8.0 * (4 * 3 + 3 * 2 + 4 * 2));
  EXPECT_EQ(mm->dtype, "f64");
  EXPECT_DOUBLE_EQ(s.peaks.gflops_f64, 100);
  EXPECT_DOUBLE_EQ(s.peaks.gbs, 10);
  if (mm->total_seconds > 0) {
    EXPECT_NEAR(mm->gflops_per_s, mm->flops / mm->total_seconds / 1e9, 1e-9 * mm->gflops_per_s);
    EXPECT_NEAR(mm->percent_peak_flops, mm->gflops_per_s, 1e-9 * mm->gflops_per_s);  // peak 100 GFLOP/s
    EXPECT_NEAR(mm->percent_peak_bandwidth, 10 * mm->gb_per_s, 1e-9 * mm->gb_per_s);  // peak 10 GB/s
  }
  EXPECT_GT(s.planned_peak_bytes, 0);
  EXPECT_GT(s.allocator_peak_bytes, 0);
}

TEST(Profile, TrainProgramsAndResetProfile) {
  const PhysicalModel pm = compile(example_model(), profiling());
  const DataMap in = example_inputs();
  const DataMap ct{{"y", Tensor::full({4, 2}, 1.0, DType::f64)}};
  pm.evaluate(in);
  pm.evaluate(in, ct);
  pm.evaluate(in, ct);
  ProfileStats s = pm.profile_stats();
  EXPECT_EQ(s.runs, 3);
  bool forward = false, train = false;
  for (const ProfileRow& r : s.execution_breakdown.nodes) {
    if (r.name.rfind("forward n", 0) == 0) {
      forward = true;
      EXPECT_EQ(r.calls, 1);
    }
    if (r.name.rfind("train n", 0) == 0) {
      train = true;
      EXPECT_EQ(r.calls, 2);
    }
  }
  EXPECT_TRUE(forward);
  EXPECT_TRUE(train);

  pm.reset_profile();
  s = pm.profile_stats();
  EXPECT_EQ(s.runs, 0);
  EXPECT_TRUE(s.execution_breakdown.nodes.empty());
  EXPECT_TRUE(s.trace.empty());
  pm.evaluate(in);
  EXPECT_EQ(pm.profile_stats().runs, 1);
}

TEST(Profile, NeedsProfilingAtCompileTime) {
  const PhysicalModel pm = compile(example_model());
  pm.evaluate(example_inputs());
  const std::string msg = error_of<ValueError>([&] { (void)pm.profile_stats(); });
  EXPECT_NE(msg.find("compile with CompileOptions::profile = true"), std::string::npos) << msg;
  EXPECT_THROW(pm.reset_profile(), ValueError);
  EXPECT_THROW(write_chrome_trace(pm, "unused.json"), ValueError);
}

TEST(Profile, FormatsTablesSortedByTime) {
  const PhysicalModel pm = compile(example_model(), profiling(false));
  pm.evaluate(example_inputs());
  const std::string text = format_profile(pm.profile_stats(), 2);
  EXPECT_NE(text.find("profiled runs: 1"), std::string::npos) << text;
  EXPECT_NE(text.find("by op type"), std::string::npos) << text;
  EXPECT_NE(text.find("matmul"), std::string::npos) << text;
  EXPECT_NE(text.find("top nodes"), std::string::npos) << text;
  EXPECT_NE(text.find("more\n"), std::string::npos) << text;  // more than 2 nodes
}

TEST(Profile, MeasuresMachinePeaksOnce) {
  const MachinePeaks& a = measured_machine_peaks();
  EXPECT_GT(a.gflops_f32, 0);
  EXPECT_GT(a.gflops_f64, 0);
  EXPECT_GT(a.gbs, 0);
  EXPECT_EQ(&a, &measured_machine_peaks());
  const MachinePeaks b = machine_peaks(0, 7);
  EXPECT_EQ(b.gflops_f32, a.gflops_f32);
  EXPECT_EQ(b.gbs, 7);
}

// Every kernel event lies inside a run event; at most trace_runs (16) runs are kept.
TEST(ChromeTrace, ValidJsonWithNestedEvents) {
  const PhysicalModel pm = compile(example_model(), profiling(false));
  const DataMap in = example_inputs();
  for (int i = 0; i < 20; ++i) pm.evaluate(in);
  const std::string path = ::testing::TempDir() + "mithril_trace_test.json";
  write_chrome_trace(pm, path);
  std::ifstream f(path);
  ASSERT_TRUE(f.good());
  const nlohmann::json doc = nlohmann::json::parse(f);
  std::remove(path.c_str());
  ASSERT_TRUE(doc.contains("traceEvents"));
  const auto& events = doc["traceEvents"];
  ASSERT_TRUE(events.is_array());
  std::vector<std::pair<double, double>> runs;
  size_t kernels = 0;
  for (const auto& e : events) {
    for (const char* field : {"name", "cat", "ph", "ts", "dur", "pid", "tid"}) ASSERT_TRUE(e.contains(field)) << e.dump();
    EXPECT_EQ(e["ph"], "X");
    EXPECT_GE(e["ts"].get<double>(), 0);
    EXPECT_GE(e["dur"].get<double>(), 0);
    if (e["cat"] == "run") runs.emplace_back(e["ts"].get<double>(), e["ts"].get<double>() + e["dur"].get<double>());
  }
  EXPECT_EQ(runs.size(), 16u);
  for (const auto& e : events) {
    if (e["cat"] != "op") continue;
    ++kernels;
    EXPECT_TRUE(e["args"]["detail"].get<std::string>().find("forward n") == 0) << e.dump();
    const double t0 = e["ts"].get<double>(), t1 = t0 + e["dur"].get<double>();
    bool inside = false;
    for (const auto& [r0, r1] : runs) inside |= t0 >= r0 && t1 <= r1 + 1e-6;
    EXPECT_TRUE(inside) << e.dump();
  }
  EXPECT_EQ(kernels, 16 * pm.profile_stats().execution_breakdown.nodes.size());
}

TEST(ChromeTrace, OneTrackPerCallingThread) {
  const PhysicalModel pm = compile(example_model(), profiling());
  const DataMap in = example_inputs();
  pm.evaluate(in);
  std::thread other([&] { pm.evaluate(in); });
  other.join();
  std::set<int64_t> tids;
  for (const TraceEvent& e : pm.profile_stats().trace) tids.insert(e.tid);
  EXPECT_EQ(tids, (std::set<int64_t>{1, 2}));
}

TEST(ChromeTrace, UnwritablePathIsAnError) {
  const PhysicalModel pm = compile(example_model(), profiling());
  pm.evaluate(example_inputs());
  EXPECT_THROW(write_chrome_trace(pm, "/nonexistent-dir/trace.json"), ValueError);
}

}  // namespace
}  // namespace mithril
