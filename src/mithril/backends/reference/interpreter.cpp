#include "mithril/backends/reference/interpreter.h"

#include <chrono>
#include <cstdio>

#include "mithril/backends/check_numerics.h"
#include "mithril/backends/step_info.h"
#include "mithril/core/env.h"
#include "mithril/core/error.h"
#include "mithril/graph/rewrite.h"

namespace mithril::reference {

Interpreter::Interpreter(const Graph& graph, std::vector<ValueId> outputs, const KernelTable& kernels,
                         ExecutableOptions options)
    : graph_(graph), outputs_(std::move(outputs)), options_(options), verbose_(env_flag("MITHRIL_VERBOSE")) {
  const std::vector<bool> needed = needed_nodes(graph, outputs_);
  std::vector<bool> is_output(graph.values().size(), false);
  for (ValueId v : outputs_) is_output[static_cast<size_t>(v)] = true;
  for (size_t n = 0; n < graph.nodes().size(); ++n) {
    if (!needed[n]) continue;
    const Node& node = graph.nodes()[n];
    StepInfo si = step_info_of(graph, static_cast<NodeId>(n));
    for (ValueId v : node.outputs) {
      const Value& out = graph.value(v);
      const int64_t bytes = numel(out.shape) * static_cast<int64_t>(dtype_size(out.dtype));
      if (!is_output[static_cast<size_t>(v)]) plan_.naive_bytes += bytes;
    }
    si.kernel = &kernels.find(*node.op, si.signature.input_dtypes, si.signature.output_dtypes);
    si.cost = node.op->cost(si.signature);
    info_.push_back(std::move(si));
  }
  for (ValueId v : outputs_) {
    const Value& out = graph.value(v);
    output_bytes_ += numel(out.shape) * static_cast<int64_t>(dtype_size(out.dtype));
  }
  plan_.arena_bytes = plan_.lower_bound = plan_.naive_bytes;  // nothing is reused
  times_.calls.assign(info_.size(), 0);
  times_.seconds.assign(info_.size(), 0.0);
}

void Interpreter::run(std::span<const Tensor* const> inputs, std::vector<Tensor>& results) const {
  const auto& ids = graph_.inputs();
  MI_CHECK(inputs.size() == ids.size(), ValueError, "[reference] graph has {} inputs but {} tensors were given",
           ids.size(), inputs.size());
  std::vector<Tensor> values(graph_.values().size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const Value& v = graph_.value(ids[i]);
    const Tensor& t = *inputs[i];
    MI_CHECK(t.shape() == v.shape && t.dtype() == v.dtype, ValueError,
             "[reference] input '{}' must be {} {}, got {} {}", v.name, dtype_name(v.dtype), shape_str(v.shape),
             dtype_name(t.dtype()), shape_str(t.shape()));
    values[static_cast<size_t>(ids[i])] = t.contiguous();
  }
  auto value_of = [&](ValueId id) -> const Tensor& {
    Tensor& t = values[static_cast<size_t>(id)];
    if (!t.defined() && graph_.is_constant(id)) t = graph_.constant_value(id).contiguous();
    return t;
  };
  const auto run_start = std::chrono::steady_clock::now();
  for (size_t s = 0; s < info_.size(); ++s) {
    const Node& node = graph_.nodes()[static_cast<size_t>(info_[s].node)];
    std::vector<Tensor> ins, outs;
    for (ValueId v : node.inputs) ins.push_back(value_of(v));
    for (ValueId v : node.outputs) outs.push_back(Tensor::empty(graph_.value(v).shape, graph_.value(v).dtype));
    const auto start = std::chrono::steady_clock::now();
    info_[s].kernel->fn(*node.op, ins, outs);
    if (options_.check_numerics) check_step_numerics(graph_, info_[s].node, outs);
    if (options_.profile || verbose_) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (verbose_) {
        std::string in_shapes, out_shapes;
        for (const Shape& sh : info_[s].signature.input_shapes) in_shapes.append(in_shapes.empty() ? "" : " ").append(shape_str(sh));
        for (const Shape& sh : info_[s].signature.output_shapes) out_shapes.append(out_shapes.empty() ? "" : " ").append(shape_str(sh));
        std::fprintf(stderr, "mithril_verbose,exec,reference,%s,%s,%s -> %s,%.4f ms\n", info_[s].kernel->name.c_str(),
                     node.op->to_string().c_str(), in_shapes.c_str(), out_shapes.c_str(), seconds * 1e3);
      }
      if (options_.profile) {
        std::lock_guard<std::mutex> lock(profile_mutex_);
        ++times_.calls[s];
        times_.seconds[s] += seconds;
      }
    }
    for (size_t o = 0; o < outs.size(); ++o) values[static_cast<size_t>(node.outputs[o])] = std::move(outs[o]);
  }
  results.resize(outputs_.size());
  for (size_t k = 0; k < outputs_.size(); ++k) results[k] = value_of(outputs_[k]);
  if (options_.profile) {
    std::lock_guard<std::mutex> lock(profile_mutex_);
    ++times_.runs;
    times_.total_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
  }
}

StepTimes Interpreter::profile_times() const {
  std::lock_guard<std::mutex> lock(profile_mutex_);
  return times_;
}

std::vector<RunTrace> Interpreter::profile_trace() const { return {}; }

void Interpreter::reset_profile() const {
  std::lock_guard<std::mutex> lock(profile_mutex_);
  times_.runs = 0;
  times_.total_seconds = 0;
  std::fill(times_.calls.begin(), times_.calls.end(), 0);
  std::fill(times_.seconds.begin(), times_.seconds.end(), 0.0);
}

}  // namespace mithril::reference
