#include "mithril/runtime/profile.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "mithril/backends/executable.h"
#include "mithril/core/allocator.h"
#include "mithril/core/error.h"
#include "mithril/io/file.h"
#include "mithril/runtime/compile.h"

namespace mithril {
namespace {

std::string shapes_str(const std::vector<Shape>& shapes) {
  std::string s;
  for (const Shape& sh : shapes) s.append(s.empty() ? "" : " ").append(shape_str(sh));
  return s;
}

// "matmul (4,3) (3,2) -> (4,2)": the op with its attributes and the step's shapes.
std::string step_detail(const StepInfo& s) {
  return fmt::format("{} {} -> {}", s.op->to_string(), shapes_str(s.signature.input_shapes),
                     shapes_str(s.signature.output_shapes));
}

// Rates and percentages of a row whose calls, time, FLOPs and bytes are summed.
void finish_row(ProfileRow& r, double kernel_seconds, const MachinePeaks& peaks) {
  r.mean_seconds = r.calls > 0 ? r.total_seconds / static_cast<double>(r.calls) : 0;
  r.percent = kernel_seconds > 0 ? 100.0 * r.total_seconds / kernel_seconds : 0;
  if (r.total_seconds > 0) {
    r.gflops_per_s = r.flops / r.total_seconds / 1e9;
    r.gb_per_s = r.bytes / r.total_seconds / 1e9;
  }
  const double peak_flops = r.dtype == "f64" ? peaks.gflops_f64 : peaks.gflops_f32;
  r.percent_peak_flops = peak_flops > 0 ? 100.0 * r.gflops_per_s / peak_flops : 0;
  r.percent_peak_bandwidth = peaks.gbs > 0 ? 100.0 * r.gb_per_s / peaks.gbs : 0;
}

void sort_by_time(std::vector<ProfileRow>& rows) {
  std::stable_sort(rows.begin(), rows.end(),
                   [](const ProfileRow& a, const ProfileRow& b) { return a.total_seconds > b.total_seconds; });
}

std::string si_bytes(double b) {
  if (b >= 1 << 30) return fmt::format("{:.2f} GiB", b / (1 << 30));
  if (b >= 1 << 20) return fmt::format("{:.2f} MiB", b / (1 << 20));
  if (b >= 1 << 10) return fmt::format("{:.1f} KiB", b / (1 << 10));
  return fmt::format("{:.0f} B", b);
}

void print_rows(std::string& out, const std::vector<ProfileRow>& rows, size_t limit, bool nodes) {
  out += fmt::format("{:<22} {:>7} {:>10} {:>10} {:>6} {:>9} {:>9} {:>8} {:>6} {:>7} {:>6}{}\n", nodes ? "node" : "op",
                     "calls", "total ms", "mean us", "%", "MFLOP", "MB", "GFLOP/s", "%peak", "GB/s", "%peak",
                     nodes ? "  op" : "");
  for (size_t i = 0; i < rows.size() && i < limit; ++i) {
    const ProfileRow& r = rows[i];
    out += fmt::format("{:<22} {:>7} {:>10.3f} {:>10.2f} {:>6.1f} {:>9.3f} {:>9.3f} {:>8.2f} {:>6.1f} {:>7.2f} {:>6.1f}", r.name,
                       r.calls, r.total_seconds * 1e3, r.mean_seconds * 1e6, r.percent, r.flops / 1e6, r.bytes / 1e6,
                       r.gflops_per_s, r.percent_peak_flops, r.gb_per_s, r.percent_peak_bandwidth);
    out += nodes ? "  " + r.detail + "\n" : "\n";
  }
  if (rows.size() > limit) out += fmt::format("... {} more\n", rows.size() - limit);
}

}  // namespace

ProfileStats collect_profile(const std::vector<ProfiledProgram>& programs, const MachinePeaks& peaks) {
  ProfileStats st;
  st.peaks = peaks;
  std::map<std::string, size_t> op_row;  // op name -> index in op_types
  auto& nodes = st.execution_breakdown.nodes;
  auto& ops = st.execution_breakdown.op_types;
  double first_us = -1;
  std::vector<std::vector<RunTrace>> traces;  // per program: its last traced runs
  for (const ProfiledProgram& p : programs) traces.push_back(p.executor->profile_trace());
  for (size_t pi = 0; pi < programs.size(); ++pi) {
    const ProfiledProgram& p = programs[pi];
    const StepTimes times = p.executor->profile_times();
    if (times.runs == 0) continue;
    st.runs += times.runs;
    st.total_seconds += times.total_seconds;
    st.planned_peak_bytes = std::max(st.planned_peak_bytes, p.executor->planned_peak_bytes());
    const auto& info = p.executor->step_info();
    for (size_t i = 0; i < info.size(); ++i) {
      if (times.calls[i] == 0) continue;  // aliased reshapes: no kernel call
      const StepInfo& s = info[i];
      ProfileRow r;
      r.name = fmt::format("{} n{}", p.label, s.node);
      r.op = std::string(s.op->name());
      r.detail = step_detail(s);
      const auto& dts = s.signature.output_dtypes.empty() ? s.signature.input_dtypes : s.signature.output_dtypes;
      r.dtype = dts.empty() ? "" : std::string(dtype_name(dts[0]));
      r.calls = times.calls[i];
      r.total_seconds = times.seconds[i];
      r.flops = s.cost.flops * static_cast<double>(r.calls);
      r.bytes = s.cost.bytes * static_cast<double>(r.calls);
      st.kernel_seconds += r.total_seconds;
      const auto [it, added] = op_row.emplace(r.op, ops.size());
      if (added) {
        ProfileRow o;
        o.name = o.op = r.op;
        o.dtype = r.dtype;
        ops.push_back(o);
      }
      ProfileRow& o = ops[it->second];
      if (o.dtype != r.dtype && r.dtype != "f64") o.dtype = r.dtype;  // mixed: the (higher) float32 peak
      o.calls += r.calls;
      o.total_seconds += r.total_seconds;
      o.flops += r.flops;
      o.bytes += r.bytes;
      nodes.push_back(std::move(r));
    }
    for (const RunTrace& run : traces[pi])
      if (first_us < 0 || run.start_us < first_us) first_us = run.start_us;
  }
  for (ProfileRow& r : nodes) finish_row(r, st.kernel_seconds, peaks);
  for (ProfileRow& r : ops) finish_row(r, st.kernel_seconds, peaks);
  sort_by_time(nodes);
  sort_by_time(ops);

  // Trace events relative to the first traced run, so timestamps stay small; one track (tid) per
  // calling thread, numbered as they are met.
  std::map<size_t, int64_t> tids;
  for (size_t pi = 0; pi < programs.size(); ++pi) {
    const ProfiledProgram& p = programs[pi];
    const auto& info = p.executor->step_info();
    const std::vector<RunTrace>& runs = traces[pi];
    std::vector<std::string> details;  // per step, formatted once for all traced runs
    if (!runs.empty())
      for (const StepInfo& s : info) details.push_back(fmt::format("{} n{}: {}", p.label, s.node, step_detail(s)));
    for (const RunTrace& run : runs) {
      const int64_t tid = tids.emplace(run.thread, static_cast<int64_t>(tids.size()) + 1).first->second;
      st.trace.push_back({p.label, "run", "", run.start_us - first_us, run.duration_us, tid});
      for (size_t i = 0; i < info.size(); ++i) {
        if (info[i].aliased) continue;
        st.trace.push_back({std::string(info[i].op->name()), "op", details[i], run.step_start_us[i] - first_us,
                            run.step_duration_us[i], tid});
      }
    }
  }
  std::stable_sort(st.trace.begin(), st.trace.end(), [](const TraceEvent& a, const TraceEvent& b) { return a.ts_us < b.ts_us; });
  st.allocator_peak_bytes = allocator_stats().peak_bytes;
  return st;
}

std::string format_profile(const ProfileStats& st, size_t top_nodes) {
  std::string out;
  out += fmt::format("profiled runs: {}; run time {:.3f} ms, kernel time {:.3f} ms ({:.1f}% of run time)\n", st.runs,
                     st.total_seconds * 1e3, st.kernel_seconds * 1e3,
                     st.total_seconds > 0 ? 100.0 * st.kernel_seconds / st.total_seconds : 0.0);
  // The bandwidth peak is DRAM's: operands that stay in cache can exceed 100%.
  out += fmt::format("machine peaks: GEMM {:.1f} GFLOP/s (f32), {:.1f} GFLOP/s (f64); memory {:.1f} GB/s (DRAM: cached data "
                     "can exceed 100%)\n",
                     st.peaks.gflops_f32, st.peaks.gflops_f64, st.peaks.gbs);
  out += fmt::format("memory: allocator peak {}, planned peak {}\n\n", si_bytes(static_cast<double>(st.allocator_peak_bytes)),
                     si_bytes(static_cast<double>(st.planned_peak_bytes)));
  out += "by op type\n";
  print_rows(out, st.execution_breakdown.op_types, st.execution_breakdown.op_types.size(), false);
  out += fmt::format("\ntop nodes\n");
  print_rows(out, st.execution_breakdown.nodes, top_nodes, true);
  return out;
}

std::string chrome_trace_json(const ProfileStats& st) {
  nlohmann::ordered_json events = nlohmann::ordered_json::array();
  for (const TraceEvent& e : st.trace) {
    nlohmann::ordered_json j;
    j["name"] = e.name;
    j["cat"] = e.cat;
    j["ph"] = "X";
    j["ts"] = e.ts_us;
    j["dur"] = e.dur_us;
    j["pid"] = 1;
    j["tid"] = e.tid;
    if (!e.detail.empty()) j["args"] = {{"detail", e.detail}};
    events.push_back(std::move(j));
  }
  nlohmann::ordered_json doc;
  doc["traceEvents"] = std::move(events);
  doc["displayTimeUnit"] = "ms";
  return doc.dump() + "\n";
}

void write_chrome_trace(const ProfileStats& stats, const std::string& path) {
  io::write_file_atomic(path, chrome_trace_json(stats), "trace");
}

void write_chrome_trace(const PhysicalModel& model, const std::string& path) {
  write_chrome_trace(model.profile_stats(), path);
}

}  // namespace mithril
