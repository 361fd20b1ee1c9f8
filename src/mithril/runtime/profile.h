// The profiler's view of a model compiled with CompileOptions::profile: where the time of the
// evaluate() calls went, per node and per op type, against the op cost model (ir/op.h) and this
// machine's peaks (machine_peaks.h), plus a Chrome-trace export of the last runs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mithril/runtime/machine_peaks.h"

namespace mithril {

class PhysicalModel;
class Executable;

// One row of the execution breakdown: a node of a program, or every node of one op type.
struct ProfileRow {
  std::string name;    // node rows: "forward n12" (program and node id); op-type rows: the op name
  std::string op;      // op name ("matmul", "fused_linear", ...)
  std::string detail;  // node rows: the op with its attributes and shapes, "(32,64) (64,128) -> (32,128)"
  std::string dtype;   // dtype the peak is taken for (the output's)
  int64_t calls = 0;
  double total_seconds = 0, mean_seconds = 0;
  double percent = 0;           // of the sum of all kernel times (the rows of a table sum to 100)
  double flops = 0, bytes = 0;  // over all calls, from the op cost model
  double gflops_per_s = 0, gb_per_s = 0;
  double percent_peak_flops = 0, percent_peak_bandwidth = 0;
};

struct ExecutionBreakdown {
  std::vector<ProfileRow> nodes;     // sorted by total time, longest first
  std::vector<ProfileRow> op_types;  // the nodes summed per op type, same order
};

// One complete event ("ph": "X") of a Chrome trace.
struct TraceEvent {
  std::string name, cat;
  std::string detail;  // written as args {"detail": ...} when not empty
  double ts_us = 0, dur_us = 0;  // from the start of the first traced run
  int64_t tid = 1;
};

struct ProfileStats {
  ExecutionBreakdown execution_breakdown;
  int64_t runs = 0;           // profiled executor runs (evaluate() calls), every program together
  double total_seconds = 0;   // wall time of those runs' kernel loops
  double kernel_seconds = 0;  // the sum of every kernel call's time (the rows' total)
  MachinePeaks peaks;
  int64_t allocator_peak_bytes = 0;  // our allocator's high-water mark since the last reset_profile()
  int64_t planned_peak_bytes = 0;    // the largest planned peak (arena + outputs) of the profiled programs
  std::vector<TraceEvent> trace;     // the last runs of every program (ExecutorOptions::trace_runs each)
};

// A program's executor and its name in the breakdown ("forward", "train", "forward #2", ...).
struct ProfiledProgram {
  std::string label;
  const Executable* executor;
};
// Sums the executors' step times into ProfileStats (PhysicalModel::profile_stats() calls this).
ProfileStats collect_profile(const std::vector<ProfiledProgram>& programs, const MachinePeaks& peaks);

// Tables per op type and the `top_nodes` longest nodes, sorted by total time.
std::string format_profile(const ProfileStats& stats, size_t top_nodes = 15);

// {"traceEvents": [...], "displayTimeUnit": "ms"}: a run event per call enclosing one event per
// kernel, which chrome://tracing and Perfetto open. Written atomically.
std::string chrome_trace_json(const ProfileStats& stats);
void write_chrome_trace(const ProfileStats& stats, const std::string& path);
void write_chrome_trace(const PhysicalModel& model, const std::string& path);

}  // namespace mithril
