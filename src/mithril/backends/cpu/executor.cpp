#include "mithril/backends/cpu/executor.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "mithril/core/env.h"
#include "mithril/core/error.h"

namespace mithril::cpu {

Executor::Executor(const Graph& graph, std::vector<ValueId> outputs)
    : graph_(graph), outputs_(std::move(outputs)), verbose_(env_flag("MITHRIL_VERBOSE")) {
  const auto& nodes = graph.nodes();
  // Nodes the outputs need, found backwards from the outputs.
  std::vector<bool> needed_value(graph.values().size(), false);
  for (ValueId o : outputs_) needed_value[static_cast<size_t>(o)] = true;
  std::vector<bool> needed_node(nodes.size(), false);
  for (size_t n = nodes.size(); n-- > 0;) {
    const Node& node = nodes[n];
    if (std::none_of(node.outputs.begin(), node.outputs.end(), [&](ValueId v) { return needed_value[static_cast<size_t>(v)]; }))
      continue;
    needed_node[n] = true;
    for (ValueId in : node.inputs) needed_value[static_cast<size_t>(in)] = true;
  }
  // Last step that reads each value (outputs and constants are never released).
  std::vector<int> last_use(graph.values().size(), -1);
  for (size_t n = 0; n < nodes.size(); ++n) {
    if (!needed_node[n]) continue;
    const Node& node = nodes[n];
    std::vector<DType> in_dtypes, out_dtypes;
    for (ValueId v : node.inputs) in_dtypes.push_back(graph.value(v).dtype);
    for (ValueId v : node.outputs) out_dtypes.push_back(graph.value(v).dtype);
    const DType key = node.op->dispatch_dtype(in_dtypes, out_dtypes);
    const KernelEntry& k = KernelRegistry::instance().find(node.op->kind(), key);
    steps_.push_back({node.op.get(), &k, node.inputs, node.outputs, {}});
    for (ValueId v : node.inputs) last_use[static_cast<size_t>(v)] = static_cast<int>(steps_.size()) - 1;
  }
  for (ValueId o : outputs_) last_use[static_cast<size_t>(o)] = -1;
  for (size_t v = 0; v < last_use.size(); ++v) {
    const bool pinned = graph.is_constant(static_cast<ValueId>(v)) || graph.value(static_cast<ValueId>(v)).producer < 0;
    if (last_use[v] >= 0 && !pinned) steps_[static_cast<size_t>(last_use[v])].release_after.push_back(static_cast<ValueId>(v));
  }
}

std::vector<Tensor> Executor::run(const std::vector<Tensor>& inputs) const {
  const auto& ids = graph_.inputs();
  MI_CHECK(inputs.size() == ids.size(), ValueError, "[executor] graph has {} inputs but {} tensors were given", ids.size(),
           inputs.size());
  std::vector<Tensor> env(graph_.values().size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const Value& v = graph_.value(ids[i]);
    MI_CHECK(inputs[i].defined(), ValueError, "[executor] input '{}' is undefined", v.name);
    MI_CHECK(inputs[i].shape() == v.shape, ShapeError, "[executor] input '{}' has shape {} but the graph expects {}", v.name,
             shape_str(inputs[i].shape()), shape_str(v.shape));
    MI_CHECK(inputs[i].dtype() == v.dtype, DTypeError, "[executor] input '{}' has dtype {} but the graph expects {}", v.name,
             dtype_name(inputs[i].dtype()), dtype_name(v.dtype));
    env[static_cast<size_t>(ids[i])] = inputs[i].contiguous();
  }
  for (size_t v = 0; v < env.size(); ++v)
    if (graph_.is_constant(static_cast<ValueId>(v))) env[v] = graph_.constant_value(static_cast<ValueId>(v));

  std::vector<Tensor> in_buf, out_buf;
  for (const Step& s : steps_) {
    in_buf.clear();
    out_buf.clear();
    for (ValueId v : s.inputs) in_buf.push_back(env[static_cast<size_t>(v)]);
    for (ValueId v : s.outputs) {
      const Value& info = graph_.value(v);
      out_buf.push_back(Tensor::empty(info.shape, info.dtype));
    }
    if (verbose_) {
      const auto t0 = std::chrono::steady_clock::now();
      s.kernel->fn(*s.op, in_buf, out_buf);
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      std::string ins, outs;
      for (const Tensor& t : in_buf) ins.append(ins.empty() ? "" : " ").append(shape_str(t.shape()));
      for (const Tensor& t : out_buf) outs.append(outs.empty() ? "" : " ").append(shape_str(t.shape()));
      std::fprintf(stderr, "mithril_verbose,exec,cpu,%s,%s,%s -> %s,%.4f ms\n", s.kernel->name.c_str(),
                   s.op->to_string().c_str(), ins.c_str(), outs.c_str(), ms);
    } else {
      s.kernel->fn(*s.op, in_buf, out_buf);
    }
    for (size_t k = 0; k < s.outputs.size(); ++k) env[static_cast<size_t>(s.outputs[k])] = std::move(out_buf[k]);
    for (ValueId v : s.release_after) env[static_cast<size_t>(v)] = Tensor();
  }
  std::vector<Tensor> result;
  for (ValueId o : outputs_) result.push_back(env[static_cast<size_t>(o)]);
  return result;
}

std::vector<Tensor> run_graph(const Graph& graph, const std::vector<Var>& outputs, const std::vector<Tensor>& inputs) {
  std::vector<ValueId> ids;
  for (const Var& v : outputs) ids.push_back(v.id());
  return Executor(graph, ids).run(inputs);
}

}  // namespace mithril::cpu
