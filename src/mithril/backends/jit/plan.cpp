#include "mithril/backends/jit/plan.h"

#include <algorithm>

#include "mithril/backends/step_info.h"
#include "mithril/core/error.h"
#include "mithril/graph/rewrite.h"

namespace mithril::jit {
namespace {

bool elementwise_in_place(OpKind k) { return is_elementwise(k) && k != OpKind::StopGradient && k != OpKind::Identity; }
bool pure_alias(OpKind k) { return k == OpKind::Reshape || k == OpKind::Identity || k == OpKind::StopGradient; }
int64_t value_bytes(const Value& v) { return numel(v.shape) * static_cast<int64_t>(dtype_size(v.dtype)); }

}  // namespace

Plan make_plan(const Graph& graph, const std::vector<ValueId>& outputs, const KernelTable& kernels,
               const std::vector<bool>& generated_node, const std::vector<bool>& donated) {
  Plan p;
  const auto& nodes = graph.nodes();
  const size_t nv = graph.values().size();
  const std::vector<bool> needed = needed_nodes(graph, outputs);
  std::vector<bool> fetched(nv, false);
  for (ValueId o : outputs) fetched[static_cast<size_t>(o)] = true;

  std::vector<int> first(nv, -1), last(nv, -1);
  for (size_t n = 0; n < nodes.size(); ++n) {
    if (!needed[n]) continue;
    const Node& node = nodes[n];
    StepInfo si = step_info_of(graph, static_cast<NodeId>(n));
    si.kernel = &kernels.find(*node.op, si.signature.input_dtypes, si.signature.output_dtypes);
    si.cost = node.op->cost(si.signature);
    const int s = static_cast<int>(p.steps.size());
    PlanStep step{static_cast<NodeId>(n), node.op.get(), si.kernel->fn, generated_node[n], false,
                  static_cast<uint32_t>(p.arg_values.size()), static_cast<uint32_t>(node.inputs.size()), 0,
                  static_cast<uint32_t>(node.outputs.size())};
    for (ValueId v : node.inputs) {
      p.arg_values.push_back(v);
      last[static_cast<size_t>(v)] = s;
    }
    step.out_begin = static_cast<uint32_t>(p.arg_values.size());
    for (ValueId v : node.outputs) {
      p.arg_values.push_back(v);
      first[static_cast<size_t>(v)] = s;
      last[static_cast<size_t>(v)] = std::max(last[static_cast<size_t>(v)], s);
    }
    p.steps.push_back(step);
    p.info.push_back(std::move(si));
  }

  // io slots: inputs in graph order, then the produced outputs, then constants.
  p.place.assign(nv, Place::none);
  p.slot.assign(nv, -1);
  for (ValueId v : graph.inputs()) {
    p.slot[static_cast<size_t>(v)] = static_cast<int>(p.io_values.size());
    p.place[static_cast<size_t>(v)] = Place::input;
    p.io_values.push_back(v);
  }
  p.n_inputs = p.io_values.size();
  for (ValueId o : outputs) {
    const Value& v = graph.value(o);
    if (v.producer < 0 || p.slot[static_cast<size_t>(o)] >= 0) continue;
    p.slot[static_cast<size_t>(o)] = static_cast<int>(p.io_values.size());
    p.place[static_cast<size_t>(o)] = Place::output;
    p.io_values.push_back(o);
    p.output_bytes += plan_aligned(value_bytes(v));
  }
  p.n_outputs = p.io_values.size() - p.n_inputs;
  auto add_constant = [&](ValueId v) {
    if (!graph.is_constant(v) || p.slot[static_cast<size_t>(v)] >= 0) return;
    p.slot[static_cast<size_t>(v)] = static_cast<int>(p.io_values.size());
    p.place[static_cast<size_t>(v)] = Place::constant;
    p.io_values.push_back(v);
  };
  for (ValueId v : p.arg_values) add_constant(v);
  for (ValueId o : outputs) add_constant(o);
  for (ValueId o : outputs) p.output_slot.push_back(p.slot[static_cast<size_t>(o)]);

  // Buffers. A donated input (never a fetched one: the caller gets it back) counts as a buffer
  // that dies at its last read; an in-place step over it writes into the caller's tensor.
  std::vector<bool> donated_value(nv, false);
  for (size_t i = 0; i < graph.inputs().size(); ++i) {
    const ValueId v = graph.inputs()[i];
    donated_value[static_cast<size_t>(v)] = i < donated.size() && donated[i] && !fetched[static_cast<size_t>(v)];
  }
  p.buffer_of.assign(nv, -1);
  std::vector<BufferLifetime> buffers;
  for (size_t s = 0; s < p.steps.size(); ++s) {
    const PlanStep& step = p.steps[s];
    const OpKind kind = step.op->kind();
    std::vector<bool> taken(step.n_in, false);
    for (uint32_t o = 0; o < step.n_out; ++o) {
      const ValueId out = p.arg_values[step.out_begin + o];
      if (graph.value(out).producer < 0 || fetched[static_cast<size_t>(out)]) continue;
      const Value& ov = graph.value(out);
      const bool alias = pure_alias(kind), inplace = elementwise_in_place(kind) || step.generated;
      bool placed = false;
      if (step.n_out == 1 && (alias || inplace)) {
        for (uint32_t i = 0; i < step.n_in && !placed; ++i) {
          const ValueId in = p.arg_values[step.in_begin + i];
          const Value& iv = graph.value(in);
          const bool arena_in = p.buffer_of[static_cast<size_t>(in)] >= 0;
          const bool donated_in = donated_value[static_cast<size_t>(in)] && !alias;
          if (taken[i] || (!arena_in && !donated_in) || last[static_cast<size_t>(in)] != static_cast<int>(s)) continue;
          if (value_bytes(iv) != value_bytes(ov) || iv.dtype != ov.dtype || (!alias && iv.shape != ov.shape)) continue;
          bool repeated = false;
          for (uint32_t j = 0; j < step.n_in; ++j) repeated = repeated || (j != i && p.arg_values[step.in_begin + j] == in);
          if (repeated && !inplace) continue;
          taken[i] = true;
          placed = true;
          if (alias) p.steps[s].aliased = p.info[s].aliased = true;
          if (arena_in) {
            p.buffer_of[static_cast<size_t>(out)] = p.buffer_of[static_cast<size_t>(in)];
          } else {  // written into the donated input: the value lives in that io slot
            p.place[static_cast<size_t>(out)] = Place::input;
            p.slot[static_cast<size_t>(out)] = p.slot[static_cast<size_t>(in)];
            donated_value[static_cast<size_t>(out)] = true;  // and may be donated on in turn
          }
        }
      }
      if (!placed) {
        p.buffer_of[static_cast<size_t>(out)] = static_cast<int>(buffers.size());
        buffers.push_back({value_bytes(ov), first[static_cast<size_t>(out)], first[static_cast<size_t>(out)]});
      }
      if (const int b = p.buffer_of[static_cast<size_t>(out)]; b >= 0) {
        p.place[static_cast<size_t>(out)] = Place::arena;
        BufferLifetime& bl = buffers[static_cast<size_t>(b)];
        bl.last = std::max(bl.last, last[static_cast<size_t>(out)]);
      }
    }
  }
  p.memory = plan_memory(buffers);
  return p;
}

}  // namespace mithril::jit
