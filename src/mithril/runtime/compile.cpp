#include "mithril/runtime/compile.h"

#include <algorithm>
#include <mutex>
#include <set>

#include "mithril/backends/cpu/executor.h"
#include "mithril/core/error.h"
#include "mithril/graph/autodiff.h"
#include "mithril/io/json_tensor.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/shape.h"

namespace mithril {

using logical::EdgeId;
using logical::FlatModel;
using logical::json;
using logical::PortKind;

struct PhysicalModel::Impl {
  FlatModel flat;
  CompileOptions options;
  std::vector<EdgeId> outputs;                    // returned outputs (discards removed)
  std::vector<std::string> output_keys, input_keys, trainable_keys, discarded_keys;
  std::vector<bool> needed_call;                  // calls the returned outputs depend on
  std::map<EdgeId, Data> constants;               // tensor constants by edge
  std::map<EdgeId, json> constant_values;         // JSON of every constant edge (scalars too)

  bool is_constant(EdgeId e) const { return constant_values.count(e) || constants.count(e); }
  const std::string& name(EdgeId e) const { return flat.name(e); }

  // Graph values bound to edges while a graph is built.
  struct Bound {
    std::map<EdgeId, Var> vars;
    std::map<EdgeId, std::vector<Var>> list_vars;
  };
  // Adds the constants and every needed call to `g`, after the inputs were bound in `b`. With
  // `partial`, calls reading an unbound tensor edge are skipped (shape inference with missing shapes).
  void build_calls(Graph& g, Bound& b, bool partial) const;

  // A graph built and planned for one input signature, reused by every evaluate() call with
  // that signature. Inputs are fed in input_keys order (list keys element by element), then
  // the cotangents in output order.
  struct Program {
    struct Cotangent {
      std::string key;
      Shape shape;
      DType dtype;
    };
    Graph graph;
    std::unique_ptr<cpu::Executor> executor;  // fetches outputs, then gradients of trainable_keys
    std::vector<Cotangent> cotangents;
    std::vector<size_t> gradient_counts;  // per trainable key: 0 for a tensor, n for a list of n
  };
  static constexpr size_t kMaxPrograms = 64;
  mutable std::mutex cache_mutex;
  mutable std::map<std::string, std::shared_ptr<const Program>> programs;

  std::shared_ptr<const Program> program_for(const DataMap& inputs, const DataMap* output_gradients) const;
  Result run(const DataMap& inputs, const DataMap* output_gradients) const;
};

namespace {

bool is_tensor_kind(PortKind k) { return k != PortKind::scalar_input; }

}  // namespace

Data data_from_json(const json& value, bool is_list, DType dtype) {
  if (!is_list) return Data(io::tensor_from_json(value, dtype));
  std::vector<Tensor> list;
  for (const json& x : value) list.push_back(io::tensor_from_json(x, dtype));
  return Data(std::move(list));
}

PhysicalModel compile(const logical::Model& model, const CompileOptions& options) {
  auto impl = std::make_shared<PhysicalModel::Impl>();
  impl->flat = logical::flatten(model);
  impl->options = options;
  FlatModel& flat = impl->flat;

  MI_CHECK(!flat.outputs.empty(), KeyError, "Models with no output keys can not be compiled.");

  // Constants: user-given keys first, then fixed values in the model (connections, defaults).
  auto edge_of = [&](const std::string& key, const char* what) {
    const auto e = flat.find(key);
    MI_CHECK(e.has_value(), KeyError, "[compile] {} '{}' is not a key of the model", what, key);
    return *e;
  };
  for (const auto& [key, value] : options.constant_keys) {
    const EdgeId e = edge_of(key, "constant key");
    const logical::Edge& edge = flat.edges[static_cast<size_t>(e)];
    MI_CHECK(edge.producer < 0, ValueError, "[compile] constant key '{}' is an output of the model", key);
    impl->constant_values[e] = value;
    if (is_tensor_kind(edge.kind))
      impl->constants[e] = data_from_json(value, edge.kind == PortKind::tensor_list_input, options.dtype);
  }
  for (const auto& [key, data] : options.constant_tensors) {
    const EdgeId e = edge_of(key, "constant key");
    impl->constants[e] = data;
    if (!data.is_list && data.tensor.numel() <= 64) impl->constant_values[e] = io::tensor_to_json(data.tensor);
  }
  for (size_t i = 0; i < flat.edges.size(); ++i) {
    const auto e = static_cast<EdgeId>(i);
    const logical::Edge& edge = flat.edges[i];
    if (edge.producer >= 0 || !edge.value || impl->is_constant(e)) continue;
    impl->constant_values[e] = *edge.value;
    if (is_tensor_kind(edge.kind))
      impl->constants[e] = data_from_json(*edge.value, edge.kind == PortKind::tensor_list_input, options.dtype);
  }

  // Outputs minus discards; then the calls they need and the inputs those read. As in
  // Mithril, a discarded output that another call reads (LogisticRegression's logits feeding
  // probs_output, a training model's output feeding its loss) is only dropped from the returned
  // outputs: it stays in the graph as an internal key, so neither it nor what computes it counts
  // as discarded.
  std::set<EdgeId> discarded, read_by_calls;
  for (const std::string& key : options.discard_keys) discarded.insert(edge_of(key, "discard key"));
  for (const auto& call : flat.calls)
    for (const auto& p : call.def.ports)
      if (p.kind != PortKind::output) read_by_calls.insert(call.ports.at(p.name));
  std::set<EdgeId> needed_edges;
  for (EdgeId e : flat.outputs) {
    if (!discarded.count(e)) impl->outputs.push_back(e);
    if (!discarded.count(e) || read_by_calls.count(e)) needed_edges.insert(e);
  }
  impl->needed_call.assign(flat.calls.size(), false);
  for (size_t c = flat.calls.size(); c-- > 0;) {
    const auto& call = flat.calls[c];
    bool needed = false;
    for (const auto& p : call.def.ports)
      if (p.kind == PortKind::output && needed_edges.count(call.ports.at(p.name))) needed = true;
    if (!needed) continue;
    impl->needed_call[c] = true;
    for (const auto& p : call.def.ports)
      if (p.kind != PortKind::output) needed_edges.insert(call.ports.at(p.name));
  }
  for (EdgeId e : impl->outputs) impl->output_keys.push_back(flat.name(e));
  std::set<std::string> trainable(options.trainable_keys.begin(), options.trainable_keys.end());
  for (const std::string& key : options.trainable_keys) edge_of(key, "trainable key");
  for (EdgeId e : needed_edges) {
    const logical::Edge& edge = flat.edges[static_cast<size_t>(e)];
    if (edge.producer >= 0 || impl->is_constant(e)) continue;
    MI_CHECK(is_tensor_kind(edge.kind), ValueError,
             "[compile] non-tensor key '{}' has no value: give it as a constant key", flat.name(e));
    impl->input_keys.push_back(flat.name(e));
    if (!options.inference && (flat.is_differentiable(e) || trainable.count(flat.name(e))))
      impl->trainable_keys.push_back(flat.name(e));
  }
  for (size_t i = 0; i < flat.edges.size(); ++i) {
    const auto e = static_cast<EdgeId>(i);
    const bool referenced = flat.keys.count(flat.name(e)) && flat.keys.at(flat.name(e)) == e;
    if (referenced && !needed_edges.count(e)) impl->discarded_keys.push_back(flat.name(e));
  }
  std::sort(impl->input_keys.begin(), impl->input_keys.end());
  std::sort(impl->trainable_keys.begin(), impl->trainable_keys.end());
  std::sort(impl->discarded_keys.begin(), impl->discarded_keys.end());
  return PhysicalModel(impl);
}

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

namespace {

// The cache key of a program: mode, the shape and dtype of every input (list inputs: of every
// element) and which outputs get a cotangent.
std::string signature(const std::vector<std::string>& input_keys, const DataMap& inputs, const DataMap* output_gradients) {
  std::string sig = output_gradients ? "g" : "f";
  auto add = [&](const Tensor& t) {
    sig += dtype_name(t.dtype());
    sig += shape_str(t.shape());
  };
  for (const std::string& key : input_keys) {
    const auto it = inputs.find(key);
    MI_CHECK(it != inputs.end(), KeyError, "[evaluate] missing input '{}'", key);
    const Data& d = it->second;
    sig += '|';
    if (!d.is_list) {
      MI_CHECK(d.tensor.defined(), ValueError, "[evaluate] input '{}' is undefined", key);
      add(d.tensor);
      continue;
    }
    sig += "list" + std::to_string(d.list.size());
    for (const Tensor& t : d.list) add(t);
  }
  if (output_gradients)
    for (const auto& [key, gv] : *output_gradients) sig += "|ct:" + key;
  return sig;
}

}  // namespace

std::shared_ptr<const PhysicalModel::Impl::Program> PhysicalModel::Impl::program_for(
    const DataMap& inputs, const DataMap* output_gradients) const {
  const std::string sig = signature(input_keys, inputs, output_gradients);
  {
    std::lock_guard<std::mutex> lock(cache_mutex);
    if (const auto it = programs.find(sig); it != programs.end()) return it->second;
  }
  auto p = std::make_shared<Program>();
  Graph& g = p->graph;
  Bound b;
  auto input = [&](const Tensor& t, const std::string& nm) { return g.input(nm, t.shape(), t.dtype()); };
  for (const std::string& key : input_keys) {
    const EdgeId e = *flat.find(key);
    const Data& d = inputs.at(key);
    if (d.is_list) {
      std::vector<Var> vs;
      for (size_t i = 0; i < d.list.size(); ++i) vs.push_back(input(d.list[i], key + "[" + std::to_string(i) + "]"));
      b.list_vars[e] = vs;
    } else {
      b.vars.emplace(e, input(d.tensor, key));
    }
  }
  build_calls(g, b, false);

  std::vector<Var> fetch;
  for (EdgeId e : outputs) fetch.push_back(b.vars.at(e));
  if (output_gradients) {
    MI_CHECK(!options.inference, ValueError, "[evaluate] the model was compiled with inference=true: no gradients");
    for (const auto& [key, gv] : *output_gradients)
      MI_CHECK(std::find(output_keys.begin(), output_keys.end(), key) != output_keys.end(), KeyError,
               "[evaluate] output gradient given for '{}', which is not an output", key);
    std::vector<std::optional<Var>> cts;
    for (size_t i = 0; i < outputs.size(); ++i) {
      const std::string& key = name(outputs[i]);
      if (!output_gradients->count(key)) {
        cts.emplace_back();
        continue;
      }
      p->cotangents.push_back({key, fetch[i].shape(), fetch[i].dtype()});
      cts.push_back(g.input("$cotangent_" + key, fetch[i].shape(), fetch[i].dtype()));
    }
    // One gradient per trainable key; a list key gets one per element.
    std::vector<Var> wrt;
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
    const auto grads = vjp(g, fetch, cts, wrt);
    for (size_t i = 0; i < grads.size(); ++i)  // no path to the outputs: the gradient is zero
      fetch.push_back(grads[i] ? *grads[i] : ops::broadcast_to(ops::scalar_like(wrt[i], 0.0), wrt[i].shape()));
  }
  std::vector<ValueId> ids;
  for (const Var& v : fetch) ids.push_back(v.id());
  p->executor = std::make_unique<cpu::Executor>(g, std::move(ids));

  std::lock_guard<std::mutex> lock(cache_mutex);
  if (programs.size() >= kMaxPrograms) programs.clear();  // many shapes: start over rather than grow
  return programs.emplace(sig, std::move(p)).first->second;
}

PhysicalModel::Result PhysicalModel::Impl::run(const DataMap& inputs, const DataMap* output_gradients) const {
  for (const auto& [key, data] : inputs) {
    const auto e = flat.find(key);
    MI_CHECK(e.has_value(), KeyError, "[evaluate] '{}' is not a key of the model", key);
    // A value for a key fixed at compile time must agree with it; it is never silently dropped.
    if (const auto c = constants.find(*e); c != constants.end() && !c->second.is_list && !data.is_list) {
      const Tensor& fixed = c->second.tensor;
      const Tensor given = data.tensor.astype(fixed.dtype());
      MI_CHECK(given.shape() == fixed.shape() && given.to_doubles() == fixed.to_doubles(), ValueError,
               "Possible values mismatch!");
    }
  }
  const auto program = program_for(inputs, output_gradients);

  std::vector<Tensor> feed;
  for (const std::string& key : input_keys) {
    const Data& d = inputs.at(key);
    if (d.is_list) feed.insert(feed.end(), d.list.begin(), d.list.end());
    else feed.push_back(d.tensor);
  }
  for (const Program::Cotangent& ct : program->cotangents) {
    const Tensor t = output_gradients->at(ct.key).tensor.astype(ct.dtype);
    MI_CHECK(t.shape() == ct.shape, ShapeError, "[evaluate] gradient of output '{}' has shape {} but the output has {}",
             ct.key, shape_str(t.shape()), shape_str(ct.shape));
    feed.push_back(t);
  }
  const std::vector<Tensor> results = program->executor->run(feed);

  Result r;
  for (size_t i = 0; i < outputs.size(); ++i) r.outputs[name(outputs[i])] = results[i];
  if (!output_gradients) return r;
  size_t next = outputs.size();
  for (size_t k = 0; k < trainable_keys.size(); ++k) {
    const size_t count = program->gradient_counts[k];
    if (count == 0) {
      r.gradients[trainable_keys[k]] = results[next++];
      continue;
    }
    std::vector<Tensor> list(results.begin() + static_cast<int64_t>(next), results.begin() + static_cast<int64_t>(next + count));
    next += count;
    r.gradients[trainable_keys[k]] = Data(std::move(list));
  }
  return r;
}

const std::vector<std::string>& PhysicalModel::input_keys() const { return impl_->input_keys; }
const std::vector<std::string>& PhysicalModel::trainable_keys() const { return impl_->trainable_keys; }
const std::vector<std::string>& PhysicalModel::output_keys() const { return impl_->output_keys; }
const std::vector<std::string>& PhysicalModel::discarded_keys() const { return impl_->discarded_keys; }
const logical::FlatModel& PhysicalModel::flat_model() const { return impl_->flat; }

std::map<std::string, PhysicalModel::KeyInfo> PhysicalModel::infer_shapes(
    const std::map<std::string, Shape>& input_shapes) const {
  const Impl& m = *impl_;
  Graph g;
  Impl::Bound b;
  for (const auto& [key, shape] : input_shapes) {
    const bool input = std::find(m.input_keys.begin(), m.input_keys.end(), key) != m.input_keys.end();
    MI_CHECK(input, KeyError, "[shapes] '{}' is not an input of the model (inputs: {})", key,
             fmt::join(m.input_keys, ", "));
    const EdgeId e = *m.flat.find(key);
    MI_CHECK(m.flat.edges[static_cast<size_t>(e)].kind == PortKind::tensor_input, ValueError,
             "[shapes] '{}' is a list of tensors: its shapes cannot be given as one shape", key);
    b.vars.emplace(e, g.input(key, shape, m.options.dtype));
  }
  m.build_calls(g, b, true);
  std::map<std::string, KeyInfo> out;
  for (const auto& [e, v] : b.vars) out[m.name(e)] = KeyInfo{v.shape(), v.dtype()};
  return out;
}

DataMap PhysicalModel::evaluate(const DataMap& inputs) const { return impl_->run(inputs, nullptr).outputs; }

PhysicalModel::Result PhysicalModel::evaluate(const DataMap& inputs, const DataMap& output_gradients) const {
  return impl_->run(inputs, &output_gradients);
}

}  // namespace mithril
