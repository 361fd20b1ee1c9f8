// The ggml backend's Executable: quantizes the constant weights of products at plan time, lays
// the intermediates out in one arena (graph/memory_plan.h), and runs the steps in order: the
// quantized products on the int8 kernels, everything else with a float kernel of the given
// table (the cpu backend's).
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "mithril/backends/executable.h"
#include "mithril/backends/ggml/quant_matmul.h"

namespace mithril::ggml {

// One product of the program and what became of its weight.
struct LayerReport {
  NodeId node = -1;
  Shape weight;                // (out, in): rows of the quantized matrix
  bool quantized = false;
  std::string format;          // "q8_0", or "f32"/"f64" when it runs in floating point
  std::string reason;          // why not quantized
  int64_t bytes = 0;           // of the weight as the program holds it
  int64_t float_bytes = 0;     // of the weight in the program's float dtype
  double max_rel_error = 0;    // max |w - deq(q(w))| / max |w|
  double mean_rel_error = 0;   // mean |w - deq(q(w))| / mean |w|
};

struct PlanOptions {
  std::optional<QuantType> quantize;  // none: every product in floating point
  int64_t mem_size = 0;
  ExecutableOptions exec;
};

class GgmlExecutable final : public Executable {
 public:
  GgmlExecutable(const Graph& graph, std::vector<ValueId> outputs, const KernelTable& kernels, PlanOptions options);

  void run(std::span<const Tensor* const> inputs, std::vector<Tensor>& results) const override;
  size_t num_steps() const override { return info_.size(); }
  const std::vector<StepInfo>& step_info() const override { return info_; }
  const MemoryPlan& memory_plan() const override { return plan_; }
  int64_t output_bytes() const override { return output_bytes_; }
  StepTimes profile_times() const override;
  std::vector<RunTrace> profile_trace() const override { return {}; }
  void reset_profile() const override;
  std::string backend_report() const override;

  const std::vector<LayerReport>& layers() const { return layers_; }
  int64_t weight_bytes() const { return quant_bytes_ + float_weight_bytes_; }

 private:
  struct Step {
    const Node* node;
    int quant = -1;  // index into weights_ for a quantized product
  };
  const Graph& graph_;
  std::vector<ValueId> outputs_;
  PlanOptions options_;
  std::vector<Step> steps_;
  std::vector<StepInfo> info_;
  std::vector<QuantMatrix> weights_;
  std::vector<LayerReport> layers_;
  std::vector<int64_t> offset_;  // per value: arena offset of an intermediate, -1 otherwise
  MemoryPlan plan_;
  int64_t output_bytes_ = 0, quant_bytes_ = 0, float_weight_bytes_ = 0;
  mutable std::mutex profile_mutex_;
  mutable StepTimes times_;
};

}  // namespace mithril::ggml
