// What a backend's compile() returns: a program planned once (kernels chosen, memory laid out)
// that run() executes any number of times with no allocation or shape logic of its own beyond
// the fresh output tensors it returns. Also what the profiler and summaries read about a plan.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "mithril/backends/jit_options.h"
#include "mithril/backends/kernel_table.h"
#include "mithril/core/tensor.h"
#include "mithril/ir/ir.h"
#include "mithril/graph/memory_plan.h"

namespace mithril {

struct ExecutableOptions {
  bool profile = false;    // time every step (profile_times()); off: the run loop reads no clock
  size_t trace_runs = 16;  // profiling keeps the per-step start times of the last trace_runs runs
  bool check_numerics = false;  // after every step, check_step_numerics on its outputs
  // For backends that generate code (Backend::generates_code): how, and where the source of the
  // program goes for the user (empty: nowhere but the cache).
  JitOptions jit;
  std::string file_path;
  IsaLevel isa_cap = IsaLevel::amx;  // target_hardware: no kernel needing more is chosen
};

// What the profiler and summaries know about one step.
struct StepInfo {
  NodeId node;
  const Op* op;
  const KernelEntry* kernel;
  OpSignature signature;
  Cost cost;
  bool aliased;  // a reshape/identity of a dead input: the output is the input's bytes, no call
};

// Accumulated step times of a profiling executable.
struct StepTimes {
  int64_t runs = 0;
  double total_seconds = 0;           // wall time of whole run() calls
  std::vector<int64_t> calls;         // per step
  std::vector<double> seconds;        // per step
};

// One profiled run: when it and every step started and how long they took. Times are
// microseconds of std::chrono::steady_clock (since its epoch), so runs of several executables
// in one process share a time line.
struct RunTrace {
  double start_us = 0, duration_us = 0;
  std::vector<double> step_start_us, step_duration_us;  // per step; aliased steps: 0 duration
  size_t thread = 0;  // hash of the calling thread's id: concurrent runs go on separate tracks
};

class Executable {
 public:
  virtual ~Executable() = default;

  // `inputs` follow the graph's inputs() order; shapes and dtypes must match exactly.
  // `results` is resized to the number of outputs and overwritten.
  virtual void run(std::span<const Tensor* const> inputs, std::vector<Tensor>& results) const = 0;
  std::vector<Tensor> run(const std::vector<Tensor>& inputs) const;

  virtual size_t num_steps() const = 0;
  virtual const std::vector<StepInfo>& step_info() const = 0;
  virtual const MemoryPlan& memory_plan() const = 0;
  virtual int64_t output_bytes() const = 0;
  // Arena plus outputs: the bytes one run() needs beyond its inputs and constants.
  int64_t planned_peak_bytes() const { return memory_plan().arena_bytes + output_bytes(); }

  // Profiling (ExecutableOptions::profile): accumulated step times and the last traced runs.
  virtual StepTimes profile_times() const = 0;
  virtual std::vector<RunTrace> profile_trace() const = 0;
  virtual void reset_profile() const = 0;

  // Lines a backend adds to the program report (`mithril summary`), e.g. which layers it
  // quantized and how much error that made; empty by default.
  virtual std::string backend_report() const { return {}; }
};

}  // namespace mithril
