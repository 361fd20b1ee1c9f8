// Lowering: the graph of a program, built from the flat model for one signature (the constants
// and needed calls, the forward graph, product merging, autodiff, the backend's passes) and
// compiled by the backend.
#include "mithril/runtime/physical_model_impl.h"

#include <algorithm>
#include <optional>

#include "mithril/core/env.h"
#include "mithril/core/error.h"
#include "mithril/graph/autodiff.h"
#include "mithril/graph/passes.h"
#include "mithril/graph/rewrite.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/shape.h"

namespace mithril {

using logical::PortKind;

namespace {

// Runs merge_parallel_products on the forward program and moves the handles kept on its graph
// (the fetched values and the gradient targets) to their values in the rewritten graph.
PassStat merge_products_before_autodiff(GraphProgram& program, std::vector<Var>& fetch, std::vector<Var>& wrt) {
  program.outputs.clear();
  for (const Var& v : fetch) program.outputs.push_back(v.id());
  for (const Var& v : wrt) program.outputs.push_back(v.id());
  const size_t before = program.graph->nodes().size();
  program = merge_parallel_products(program);
  Graph& merged = *program.graph;
  for (size_t i = 0; i < fetch.size(); ++i) fetch[i] = merged.var(program.outputs[i]);
  for (size_t i = 0; i < wrt.size(); ++i) wrt[i] = merged.var(program.outputs[fetch.size() + i]);
  program.outputs.clear();
  return {"product_merging", before, merged.nodes().size()};
}

// Every node the program runs must be one the backend supports: otherwise a KernelError naming
// the backend, the node and the backend's reason, before anything is planned.
void check_supported(const Backend& backend, const GraphProgram& program) {
  const Graph& g = *program.graph;
  const std::vector<bool> needed = needed_nodes(g, program.outputs);
  for (size_t n = 0; n < g.nodes().size(); ++n) {
    if (!needed[n]) continue;
    const Support s = backend.supports(g, g.nodes()[n]);
    MI_CHECK(s.ok, KernelError, "[compile] backend {} cannot run node {} ({}): {}", backend.name(), n,
             g.nodes()[n].op->to_string(), s.reason);
  }
}

PassOptions pass_options(const CompileOptions& o) {
  if (!env_flag("MITHRIL_OPTIMIZE")) return {false, false, false, false, false};
  return o.backend_or_default().passes(o.optimizations);
}

}  // namespace

void PhysicalModel::Impl::build_calls(Graph& g, Bound& b, bool partial) const {
  for (const auto& [e, d] : constants) {
    if (d.is_list) {
      std::vector<Var> vs;
      for (const Tensor& t : d.list) vs.push_back(g.constant(t));
      b.list_vars[e] = vs;
    } else {
      b.vars.emplace(e, g.constant(d.tensor));
    }
  }
  for (size_t c = 0; c < flat.calls.size(); ++c) {
    if (!needed_call[c]) continue;
    const logical::PrimCall& call = flat.calls[c];
    logical::PortValues pv;
    bool bound = true;
    for (const auto& p : call.def.ports) {
      if (p.kind == PortKind::output) continue;
      const EdgeId e = call.ports.at(p.name);
      logical::PortValue v;
      if (const auto cv = constant_values.find(e); cv != constant_values.end()) v.scalar = cv->second;
      if (p.kind == PortKind::tensor_list_input) {
        const auto lv = b.list_vars.find(e);
        if (partial && lv == b.list_vars.end()) bound = false;
        else {
          MI_CHECK(lv != b.list_vars.end(), ValueError, "[{}] key '{}' must be a list of tensors", call.def.name,
                   name(e));
          v.tensors = lv->second;
        }
      } else if (p.kind == PortKind::tensor_input) {
        const auto tv = b.vars.find(e);
        if (tv != b.vars.end()) v.tensor = tv->second;
        else if (partial) bound = false;
      }
      pv[p.name] = std::move(v);
    }
    if (!bound) continue;
    if (call.def.build_lists) {  // outputs that are lists of tensors (ToList)
      for (auto& [port, list] : call.def.build_lists(g, pv)) b.list_vars[call.ports.at(port)] = std::move(list);
      continue;
    }
    const std::map<std::string, Var> outs = call.def.build(g, pv);
    for (const auto& p : call.def.ports)
      if (p.kind == PortKind::output) {
        const auto it = outs.find(p.name);
        MI_ASSERT(it != outs.end());
        b.vars.emplace(call.ports.at(p.name), it->second);
      }
  }
}

std::shared_ptr<const PhysicalModel::Impl::Program> PhysicalModel::Impl::build_program(const Signature& sig) const {
  auto p = std::make_shared<Program>();
  p->signature = sig;
  Bound b;
  {  // the forward graph; product merging below replaces it by a rewritten one
    Graph& g = *p->graph.graph;
    size_t t = 0;
    for (size_t i = 0; i < input_keys.size(); ++i) {
      const std::string& key = input_keys[i];
      const EdgeId e = *flat.find(key);
      if (sig.is_list[i]) {
        std::vector<Var> vs;
        for (uint32_t j = 0; j < sig.counts[i]; ++j, ++t)
          vs.push_back(g.input(key + "[" + std::to_string(j) + "]", sig.shapes[t], sig.dtypes[t]));
        b.list_vars[e] = vs;
      } else {
        b.vars.emplace(e, g.input(key, sig.shapes[t], sig.dtypes[t]));
        ++t;
      }
    }
    build_calls(g, b, false);
  }

  std::vector<Var> fetch;
  for (EdgeId e : outputs) fetch.push_back(b.vars.at(e));
  // One gradient per trainable key; a list key gets one per element.
  std::vector<Var> wrt;
  if (sig.gradients) {
    MI_CHECK(!options.inference, ValueError, "[evaluate] the model was compiled with inference=true: no gradients");
    for (const std::string& key : trainable_keys) {
      const EdgeId e = *flat.find(key);
      if (const auto lv = b.list_vars.find(e); lv != b.list_vars.end()) {
        wrt.insert(wrt.end(), lv->second.begin(), lv->second.end());
        p->gradient_counts.push_back(lv->second.size());
      } else {
        wrt.push_back(b.vars.at(e));
        p->gradient_counts.push_back(0);
      }
    }
  }
  const PassOptions passes = pass_options(options);
  std::vector<PassStat> forward_stats;
  // Merged before autodiff, so that the gradient graph is built from the merged products.
  if (passes.operator_fusion) forward_stats.push_back(merge_products_before_autodiff(p->graph, fetch, wrt));
  if (sig.gradients) {
    Graph& g = *p->graph.graph;
    for (const std::string& key : sig.cotangent_keys)
      MI_CHECK(std::find(output_keys.begin(), output_keys.end(), key) != output_keys.end(), KeyError,
               "[evaluate] output gradient given for '{}', which is not an output", key);
    std::vector<std::optional<Var>> cts;
    for (size_t i = 0; i < outputs.size(); ++i) {
      const std::string& key = name(outputs[i]);
      if (!std::binary_search(sig.cotangent_keys.begin(), sig.cotangent_keys.end(), key)) {
        cts.emplace_back();
        continue;
      }
      p->cotangents.push_back({key, fetch[i].shape(), fetch[i].dtype()});
      cts.push_back(g.input("$cotangent_" + key, fetch[i].shape(), fetch[i].dtype()));
    }
    const size_t before = g.nodes().size();
    const auto grads = vjp(g, fetch, cts, wrt);
    for (size_t i = 0; i < grads.size(); ++i)  // no path to the outputs: the gradient is zero
      fetch.push_back(grads[i] ? *grads[i] : ops::broadcast_to(ops::scalar_like(wrt[i], 0.0), wrt[i].shape()));
    // Not a pass, but summaries list node counts step by step from the forward graph.
    if (!forward_stats.empty()) forward_stats.push_back({"autodiff", before, g.nodes().size()});
  }
  for (const Var& v : fetch) p->graph.outputs.push_back(v.id());
  const Backend& backend = *options.backend;
  p->passes = optimize(p->graph, passes, [&backend](const Node& node, const Graph& graph, const std::vector<Tensor>& in) {
    return backend.run_node(node, graph, in);
  });
  p->passes.insert(p->passes.begin(), forward_stats.begin(), forward_stats.end());
  ExecutableOptions eo;
  eo.profile = options.profile;
  eo.check_numerics = options.check_numerics || env_flag("MITHRIL_CHECK_NUMERICS");
  eo.jit = options.jit_options;
  eo.file_path = options.file_path;
  eo.isa_cap = target_isa_level(options.target_hardware);
  check_supported(backend, p->graph);
  p->executor = backend.compile(p->graph, eo);
  ++builds;
  return p;
}

}  // namespace mithril
