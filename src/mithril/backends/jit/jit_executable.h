// The jit backend's Executable: the plan (plan.h), the generated library loaded with dlopen
// (codegen.h, code_cache.h), and a run() that binds the io table and calls the generated code:
// mi_run once (mode reduce-overhead) or one call per step (default, max-autotune; profiling).
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>

#include "mithril/backends/executable.h"
#include "mithril/backends/jit/plan.h"

namespace mithril::jit {

struct Library;  // a dlopen handle and the symbols of one generated program

class JitExecutable final : public Executable {
 public:
  JitExecutable(const Graph& graph, std::vector<ValueId> outputs, const ExecutableOptions& options, const KernelTable& kernels,
                int64_t mem_size);
  ~JitExecutable() override;

  using Executable::run;
  void run(std::span<const Tensor* const> inputs, std::vector<Tensor>& results) const override;

  size_t num_steps() const override { return plan_.steps.size(); }
  const std::vector<StepInfo>& step_info() const override { return plan_.info; }
  const MemoryPlan& memory_plan() const override { return plan_.memory; }
  int64_t output_bytes() const override { return plan_.output_bytes; }
  StepTimes profile_times() const override;
  std::vector<RunTrace> profile_trace() const override;
  void reset_profile() const override;

  // What was built: the generated source and library in the cache (empty when nothing was
  // generated), and whether this process compiled it.
  const std::string& source_path() const { return source_path_; }
  const std::string& library_path() const { return library_path_; }
  bool compiled() const { return compiled_; }
  double compile_seconds() const { return compile_seconds_; }
  size_t num_regions() const { return region_step_.size(); }
  const std::vector<long>& region_grains() const { return grains_; }

  struct Context;
  void run_host_step(Context& c, int step) const;  // plan step `step` with its cpu kernel

 private:
  std::unique_ptr<Context> make_context() const;
  void execute(Context& ctx, std::span<const Tensor* const> inputs, std::vector<Tensor>& results) const;
  void autotune(const std::string& tune_path);

  const Graph& graph_;
  std::vector<ValueId> outputs_;
  ExecutableOptions options_;
  Plan plan_;
  std::unique_ptr<Library> lib_;
  bool one_call_ = false;          // reduce-overhead: mi_run
  std::vector<int> step_region_;   // per step: region index or -1
  std::vector<int> region_step_;
  std::vector<long> region_range_;
  std::vector<long> grains_;
  std::string source_path_, library_path_;
  bool compiled_ = false;
  double compile_seconds_ = 0;

  mutable std::unique_ptr<Context> primary_;
  mutable std::atomic<bool> primary_busy_{false};
  mutable std::mutex profile_mutex_;
  mutable StepTimes times_;
  mutable std::deque<RunTrace> traces_;
};

}  // namespace mithril::jit
