// The reference backend's Executable: runs the nodes in order, each into freshly allocated
// outputs, keeping every value until the run ends. No arena, no in-place writes, no threads.
#pragma once

#include <mutex>

#include "mithril/backends/executable.h"

namespace mithril::reference {

class Interpreter final : public Executable {
 public:
  Interpreter(const Graph& graph, std::vector<ValueId> outputs, const KernelTable& kernels, ExecutableOptions options);

  using Executable::run;
  void run(std::span<const Tensor* const> inputs, std::vector<Tensor>& results) const override;

  size_t num_steps() const override { return info_.size(); }
  const std::vector<StepInfo>& step_info() const override { return info_; }
  // Nothing is planned: every value is its own allocation, counted as naive bytes.
  const MemoryPlan& memory_plan() const override { return plan_; }
  int64_t output_bytes() const override { return output_bytes_; }
  StepTimes profile_times() const override;
  std::vector<RunTrace> profile_trace() const override;
  void reset_profile() const override;

 private:
  const Graph& graph_;
  std::vector<ValueId> outputs_;
  ExecutableOptions options_;
  bool verbose_;  // MITHRIL_VERBOSE: one line per step on stderr, as the cpu executor writes
  std::vector<StepInfo> info_;
  MemoryPlan plan_;
  int64_t output_bytes_ = 0;
  mutable std::mutex profile_mutex_;
  mutable StepTimes times_;
};

}  // namespace mithril::reference
