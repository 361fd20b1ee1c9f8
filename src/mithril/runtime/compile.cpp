#include "mithril/runtime/compile.h"

#include <algorithm>
#include <atomic>
#include <iterator>
#include <mutex>
#include <set>

#include "mithril/core/allocator.h"
#include "mithril/core/env.h"
#include "mithril/core/error.h"
#include "mithril/graph/autodiff.h"
#include "mithril/graph/passes.h"
#include "mithril/io/json_tensor.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/shape.h"
#include "mithril/runtime/input_checks.h"
#include "mithril/logical/shape_inference.h"
#include "mithril/runtime/static_keys.h"

namespace mithril {

using logical::EdgeId;
using logical::FlatModel;
using logical::json;
using logical::PortKind;

struct PhysicalModel::Impl {
  FlatModel flat;
  CompileOptions options;
  std::vector<EdgeId> outputs;                    // returned outputs (discards removed)
  std::vector<std::string> output_keys, input_keys, trainable_keys, discarded_keys, static_keys;
  std::vector<bool> input_is_list;                // per input key: a list-of-tensors port
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

  // What a program is specialised on: the shape and dtype of every input tensor (list keys
  // element by element, in input_keys order), and with gradients, which outputs get cotangents.
  struct Signature {
    std::vector<Shape> shapes;
    std::vector<DType> dtypes;
    std::vector<uint32_t> counts;  // per input key: tensors fed (1, or a list's length)
    std::vector<bool> is_list;     // per input key
    bool gradients = false;
    std::vector<std::string> cotangent_keys;  // sorted
    std::string key() const;
    // Appends an input key fed one tensor.
    void add_tensor(const Shape& shape, DType dtype) {
      shapes.push_back(shape);
      dtypes.push_back(dtype);
      counts.push_back(1);
      is_list.push_back(false);
    }
    // With `with_gradients`, every output gets a cotangent (program_report, static compiles).
    void set_all_cotangents(bool with_gradients, const std::vector<std::string>& outputs) {
      gradients = with_gradients;
      cotangent_keys.clear();
      if (!with_gradients) return;
      cotangent_keys = outputs;
      std::sort(cotangent_keys.begin(), cotangent_keys.end());
    }
  };

  // A graph built, optimized and planned for one signature, reused by every evaluate() call
  // with that signature. Inputs are fed in input_keys order (list keys element by element),
  // then the cotangents in output order.
  struct Program {
    struct Cotangent {
      std::string key;
      Shape shape;
      DType dtype;
    };
    Signature signature;
    GraphProgram graph;  // after the passes
    std::vector<PassStat> passes;
    std::unique_ptr<Executable> executor;  // fetches outputs, then gradients of trainable_keys
    std::vector<Cotangent> cotangents;
    std::vector<size_t> gradient_counts;  // per trainable key: 0 for a tensor, n for a list of n
    // True when `feed` (input tensors only) and the cotangent keys are what this program takes.
    bool accepts(const std::vector<const Tensor*>& feed, const std::vector<uint32_t>& counts, const DataMap* output_gradients) const;
  };
  static constexpr size_t kMaxPrograms = 64;
  mutable std::mutex cache_mutex;
  mutable std::map<std::string, std::shared_ptr<const Program>> programs;
  mutable std::shared_ptr<const Program> last_program;  // the fast path: checked first
  mutable std::atomic<size_t> builds{0};                // programs built since compile()

  std::shared_ptr<const Program> build_program(const Signature& sig) const;
  std::shared_ptr<const Program> program_for(const Signature& sig) const;  // cached
  // jit=false, when building a program for `sig` failed on a shape: the signature's shapes
  // against the model's symbolic shapes (input_checks.h), for an error naming the input.
  void check_symbolic(const Signature& sig) const;
  // The signature of a call, after the static_shapes / static_types checks.
  Signature signature_of(const std::vector<const Tensor*>& feed, const std::vector<uint32_t>& counts,
                         const DataMap* output_gradients) const;
  // Collects the input tensors in input_keys order; keys that are not inputs are checked
  // (unknown key: KeyError; a constant key given a different value: ValueError).
  void gather_inputs(const DataMap& inputs, std::vector<const Tensor*>& feed, std::vector<uint32_t>& counts) const;
  Signature static_signature(bool gradients) const;
  // Float inputs of another dtype are cast to the backend precision, the one place where that
  // happens (under static_types they are left for signature_of to reject). `casts` owns the copies.
  void cast_to_precision(std::vector<const Tensor*>& feed, std::vector<Tensor>& casts) const;
  Result run(const DataMap& inputs, const DataMap* output_gradients) const;
};

namespace {

bool is_tensor_kind(PortKind k) { return k != PortKind::scalar_input; }

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

// The `shapes` option: facts of the model's symbolic shapes, like set_shapes, checked against the
// model's own shapes now (a conflict is a ShapeError naming the key and both shapes); a key the
// model does not have is a KeyError.
void constrain_shapes(FlatModel& flat, const ShapeMap& shapes) {
  if (shapes.empty()) return;
  for (const auto& [key, shape] : shapes) {
    const auto e = flat.find(key);
    MI_CHECK(e.has_value(), KeyError, "[shapes] '{}' is not a key of the model", key);
    flat.edges[static_cast<size_t>(*e)].shapes.push_back({json(shape), "", "the compile option shapes"});
  }
  const logical::SymbolicShapes check(flat);
}

PassOptions pass_options(const CompileOptions& o) {
  if (!env_flag("MITHRIL_OPTIMIZE")) return {false, false, false, false, false};
  return o.backend_or_default().passes(o.optimizations);
}

}  // namespace

void CompileOptions::set_precision(DType precision) {
  BackendOptions o = backend_or_default().options();
  o.precision = precision;
  backend = make_backend(backend_or_default().name(), o);
}

void CompileOptions::set_mem_size(int64_t bytes) {
  BackendOptions o = backend_or_default().options();
  o.mem_size = bytes;
  backend = make_backend(backend_or_default().name(), o);
}

Data data_from_json(const json& value, bool is_list, DType dtype) {
  if (!is_list) return Data(io::tensor_from_json(value, dtype));
  std::vector<Tensor> list;
  for (const json& x : value) list.push_back(io::tensor_from_json(x, dtype));
  return Data(std::move(list));
}

PhysicalModel compile(const logical::Model& model, BackendPtr backend, CompileOptions options) {
  MI_CHECK(backend != nullptr, ValueError, "[compile] backend is null");
  options.backend = std::move(backend);
  return compile(model, options);
}

PhysicalModel compile(const logical::Model& model, const CompileOptions& options) {
  auto impl = std::make_shared<PhysicalModel::Impl>();
  impl->flat = logical::flatten(model, {.short_namings = options.use_short_namings});
  impl->options = options;
  if (!impl->options.backend) impl->options.backend = default_backend();
  if (options.static_inference) {
    impl->options.inference = impl->options.static_shapes = impl->options.static_types = true;
  }
  FlatModel& flat = impl->flat;

  MI_CHECK(!flat.outputs.empty(), KeyError, "Models with no output keys can not be compiled.");
  constrain_shapes(flat, impl->options.shapes);

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
      impl->constants[e] = data_from_json(value, edge.kind == PortKind::tensor_list_input, options.precision());
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
      impl->constants[e] = data_from_json(*edge.value, edge.kind == PortKind::tensor_list_input, options.precision());
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
  // Data keys: inputs given at run time as data, so no gradient even where the model would
  // differentiate them (a weight held fixed, say).
  const std::set<std::string> data(options.data_keys.begin(), options.data_keys.end());
  for (const std::string& key : options.data_keys) {
    const EdgeId e = edge_of(key, "data key");
    MI_CHECK(!trainable.count(key), ValueError, "[compile] '{}' is both a data key and a trainable key", key);
    MI_CHECK(flat.edges[static_cast<size_t>(e)].producer < 0, ValueError,
             "[compile] data key '{}' is computed by the model, not an input", key);
  }
  std::vector<EdgeId> data_inputs;  // inputs without a gradient, inference aside (safe_names)
  for (EdgeId e : needed_edges) {
    const logical::Edge& edge = flat.edges[static_cast<size_t>(e)];
    if (edge.producer >= 0 || impl->is_constant(e)) continue;
    MI_CHECK(is_tensor_kind(edge.kind), ValueError,
             "[compile] non-tensor key '{}' has no value: give it as a constant key", flat.name(e));
    impl->input_keys.push_back(flat.name(e));
    const bool param = !data.count(flat.name(e)) && (flat.is_differentiable(e) || trainable.count(flat.name(e)));
    if (!param) data_inputs.push_back(e);
    if (!impl->options.inference && param) impl->trainable_keys.push_back(flat.name(e));
  }
  if (options.safe_names) check_data_inputs_named(flat, data_inputs);
  for (size_t i = 0; i < flat.edges.size(); ++i) {
    const auto e = static_cast<EdgeId>(i);
    const bool referenced = flat.keys.count(flat.name(e)) && flat.keys.at(flat.name(e)) == e;
    if (referenced && !needed_edges.count(e)) impl->discarded_keys.push_back(flat.name(e));
  }
  std::sort(impl->input_keys.begin(), impl->input_keys.end());
  for (const std::string& key : impl->input_keys)
    impl->input_is_list.push_back(flat.edges[static_cast<size_t>(*flat.find(key))].kind == PortKind::tensor_list_input);
  std::sort(impl->trainable_keys.begin(), impl->trainable_keys.end());
  std::sort(impl->discarded_keys.begin(), impl->discarded_keys.end());
  StaticKeyQuery sq{&flat, impl->needed_call, {}, impl->outputs, {}};
  for (const auto& [e, v] : impl->constant_values) sq.constants.insert(e);
  for (const auto& [e, d] : impl->constants) sq.constants.insert(e);
  for (const std::string& key : impl->input_keys)
    if (!std::binary_search(impl->trainable_keys.begin(), impl->trainable_keys.end(), key))
      sq.data_inputs.insert(*flat.find(key));
  impl->static_keys = static_keys(sq);
  // Static shapes: build and plan now, so a plan over mem_size fails at compile time.
  if (impl->options.static_shapes) {
    if (!impl->options.inference && !impl->trainable_keys.empty()) impl->program_for(impl->static_signature(true));
    impl->program_for(impl->static_signature(false));
  }
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

std::string PhysicalModel::Impl::Signature::key() const {
  std::string k = gradients ? "g" : "f";
  size_t t = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    k += is_list[i] ? "|list" + std::to_string(counts[i]) : "|";
    for (uint32_t j = 0; j < counts[i]; ++j, ++t) k += std::string(dtype_name(dtypes[t])) + shape_str(shapes[t]);
  }
  for (const std::string& c : cotangent_keys) k += "|ct:" + c;
  return k;
}

bool PhysicalModel::Impl::Program::accepts(const std::vector<const Tensor*>& feed, const std::vector<uint32_t>& counts,
                                           const DataMap* output_gradients) const {
  if (signature.gradients != (output_gradients != nullptr) || counts != signature.counts) return false;
  for (size_t i = 0; i < feed.size(); ++i)
    if (feed[i]->dtype() != signature.dtypes[i] || feed[i]->shape() != signature.shapes[i]) return false;
  if (!output_gradients) return true;
  if (output_gradients->size() != signature.cotangent_keys.size()) return false;
  size_t i = 0;
  for (const auto& [key, gv] : *output_gradients)
    if (key != signature.cotangent_keys[i++]) return false;
  return true;
}

void PhysicalModel::Impl::gather_inputs(const DataMap& inputs, std::vector<const Tensor*>& feed,
                                        std::vector<uint32_t>& counts) const {
  feed.clear();
  counts.clear();
  // input_keys and the map are both sorted: walk them together.
  size_t k = 0;
  for (const auto& [key, data] : inputs) {
    const int order = k < input_keys.size() ? input_keys[k].compare(key) : 1;
    if (order < 0) MI_THROW(KeyError, "[evaluate] missing input '{}'", input_keys[k]);
    if (order == 0) {
      MI_CHECK(data.is_list == input_is_list[k], ValueError, "[evaluate] input '{}' must be {}", key,
               input_is_list[k] ? "a list of tensors" : "a tensor, not a list");
      ++k;
      if (!data.is_list) {
        MI_CHECK(data.tensor.defined(), ValueError, "[evaluate] input '{}' is undefined", key);
        feed.push_back(&data.tensor);
        counts.push_back(1);
        continue;
      }
      for (const Tensor& t : data.list) {
        MI_CHECK(t.defined(), ValueError, "[evaluate] input '{}' has an undefined element", key);
        feed.push_back(&t);
      }
      counts.push_back(static_cast<uint32_t>(data.list.size()));
      continue;
    }
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
  MI_CHECK(k == input_keys.size(), KeyError, "[evaluate] missing input '{}'", k < input_keys.size() ? input_keys[k] : "");
}

void PhysicalModel::Impl::cast_to_precision(std::vector<const Tensor*>& feed, std::vector<Tensor>& casts) const {
  casts.clear();
  if (options.static_types) return;
  const DType precision = options.precision();
  casts.reserve(feed.size());  // feed keeps pointers into it
  for (const Tensor*& t : feed) {
    if (!is_float(t->dtype()) || t->dtype() == precision) continue;
    casts.push_back(t->astype(precision));
    t = &casts.back();
  }
}

PhysicalModel::Impl::Signature PhysicalModel::Impl::signature_of(const std::vector<const Tensor*>& feed,
                                                                 const std::vector<uint32_t>& counts,
                                                                 const DataMap* output_gradients) const {
  Signature sig;
  sig.counts = counts;
  size_t t = 0;
  for (size_t i = 0; i < input_keys.size(); ++i) {
    const bool list = input_is_list[i];
    sig.is_list.push_back(list);
    for (uint32_t j = 0; j < counts[i]; ++j, ++t) {
      const Tensor& x = *feed[t];
      if (options.static_shapes && options.safe_shapes) {
        const auto s = options.shapes.find(input_keys[i]);
        MI_CHECK(!list && s != options.shapes.end() && x.shape() == s->second, ShapeError,
                 "[evaluate] input '{}' has shape {} but the model was compiled with static shape {}", input_keys[i],
                 shape_str(x.shape()), s == options.shapes.end() ? "(none)" : shape_str(s->second));
      }
      MI_CHECK(!options.static_types || x.dtype() == options.precision(), DTypeError,
               "[evaluate] input '{}' has dtype {} but the model was compiled with static dtype {}", input_keys[i],
               dtype_name(x.dtype()), dtype_name(options.precision()));
      sig.shapes.push_back(x.shape());
      sig.dtypes.push_back(x.dtype());
    }
  }
  if (output_gradients) {
    sig.gradients = true;
    for (const auto& [key, gv] : *output_gradients) sig.cotangent_keys.push_back(key);
  }
  return sig;
}

PhysicalModel::Impl::Signature PhysicalModel::Impl::static_signature(bool gradients) const {
  Signature sig;
  std::vector<std::string> missing;
  for (size_t i = 0; i < input_keys.size(); ++i) {
    const std::string& key = input_keys[i];
    const auto s = options.shapes.find(key);
    MI_CHECK(!input_is_list[i], ValueError, "[compile] static_shapes: '{}' is a list of tensors, which has no single static shape", key);
    if (s == options.shapes.end()) {
      missing.push_back(key);
      continue;
    }
    sig.add_tensor(s->second, options.precision());
  }
  MI_CHECK(missing.empty(), KeyError, "[compile] static_shapes needs a shape for every input; missing: {}",
           fmt::join(missing, ", "));
  sig.set_all_cotangents(gradients, output_keys);
  return sig;
}

std::shared_ptr<const PhysicalModel::Impl::Program> PhysicalModel::Impl::program_for(const Signature& sig) const {
  const std::string key = sig.key();
  // jit=false: one slot per kind, whose program is replaced when the signature changes.
  const std::string slot = options.jit ? key : (sig.gradients ? "gradients" : "forward");
  {
    std::lock_guard<std::mutex> lock(cache_mutex);
    if (const auto it = programs.find(slot); it != programs.end() && (options.jit || it->second->signature.key() == key))
      return last_program = it->second;
  }
  std::shared_ptr<const Program> p;
  if (options.jit || !options.safe_shapes) {
    p = build_program(sig);
  } else {
    try {
      p = build_program(sig);
    } catch (const ShapeError&) {
      check_symbolic(sig);  // names the input that breaks the model's symbolic shapes, if one does
      throw;
    }
  }
  std::lock_guard<std::mutex> lock(cache_mutex);
  if (!options.jit) return last_program = programs[slot] = std::move(p);
  if (programs.size() >= kMaxPrograms) programs.clear();  // many shapes: start over rather than grow
  return last_program = programs.emplace(key, std::move(p)).first->second;
}

void PhysicalModel::Impl::check_symbolic(const Signature& sig) const {
  std::vector<KeyShape> fixed, given;
  for (const auto& [e, d] : constants)
    if (!d.is_list) fixed.push_back({e, name(e), d.tensor.shape()});
  size_t t = 0;
  for (size_t i = 0; i < input_keys.size(); t += sig.counts[i], ++i)
    if (!sig.is_list[i]) given.push_back({*flat.find(input_keys[i]), input_keys[i], sig.shapes[t]});
  check_symbolic_shapes(flat, fixed, given);
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
  p->executor = backend.compile(p->graph, eo);
  ++builds;
  return p;
}

PhysicalModel::Result PhysicalModel::Impl::run(const DataMap& inputs, const DataMap* output_gradients) const {
  // Reused per thread: a steady-state call allocates nothing here.
  thread_local std::vector<const Tensor*> feed;
  thread_local std::vector<uint32_t> counts;
  thread_local std::vector<Tensor> results;
  std::vector<Tensor> casts;
  gather_inputs(inputs, feed, counts);
  cast_to_precision(feed, casts);
  std::shared_ptr<const Program> program;
  {
    std::lock_guard<std::mutex> lock(cache_mutex);
    program = last_program;
  }
  if (!program || !program->accepts(feed, counts, output_gradients))
    program = program_for(signature_of(feed, counts, output_gradients));

  std::vector<Tensor> converted;  // cotangents given in another dtype
  converted.reserve(program->cotangents.size());
  for (const Program::Cotangent& ct : program->cotangents) {
    const Tensor& given = output_gradients->at(ct.key).tensor;
    MI_CHECK(given.defined(), ValueError, "[evaluate] gradient of output '{}' is undefined", ct.key);
    MI_CHECK(!options.safe_shapes || given.shape() == ct.shape, ShapeError, "[evaluate] gradient of output '{}' has shape {} but the output has {}",
             ct.key, shape_str(given.shape()), shape_str(ct.shape));
    if (given.dtype() == ct.dtype) {
      feed.push_back(&given);
    } else {
      converted.push_back(given.astype(ct.dtype));
      feed.push_back(&converted.back());
    }
  }
  program->executor->run(feed, results);

  Result r;
  for (size_t i = 0; i < outputs.size(); ++i) r.outputs.emplace_hint(r.outputs.end(), name(outputs[i]), std::move(results[i]));
  if (!output_gradients) return r;
  size_t next = outputs.size();
  for (size_t k = 0; k < trainable_keys.size(); ++k) {
    const size_t count = program->gradient_counts[k];
    if (count == 0) {
      r.gradients[trainable_keys[k]] = std::move(results[next++]);
      continue;
    }
    std::vector<Tensor> list(std::make_move_iterator(results.begin() + static_cast<int64_t>(next)),
                             std::make_move_iterator(results.begin() + static_cast<int64_t>(next + count)));
    next += count;
    r.gradients[trainable_keys[k]] = Data(std::move(list));
  }
  return r;
}

namespace {

ProgramReport report_of(const PhysicalModel::Impl::Program& program) {
  const PhysicalModel::Impl::Program* p = &program;
  ProgramReport r;
  for (const PassStat& s : p->passes) r.passes.push_back({s.name, s.nodes_before, s.nodes_after});
  const Executable& ex = *p->executor;
  const MemoryPlan& plan = ex.memory_plan();
  r.nodes = ex.num_steps();
  r.arena_bytes = plan.arena_bytes;
  r.output_bytes = ex.output_bytes();
  r.planned_peak_bytes = ex.planned_peak_bytes();
  r.naive_bytes = plan.naive_bytes + ex.output_bytes();
  r.lower_bound_bytes = plan.lower_bound + ex.output_bytes();
  r.buffers = plan.offsets.size();
  r.graph = p->graph.graph->to_string();
  return r;
}

}  // namespace

ProgramReport PhysicalModel::program_report(const std::map<std::string, Shape>& input_shapes, bool gradients) const {
  const Impl& m = *impl_;
  Impl::Signature sig;
  for (const std::string& key : m.input_keys) {
    const auto s = input_shapes.find(key);
    MI_CHECK(s != input_shapes.end(), KeyError, "[program] no shape given for input '{}'", key);
    MI_CHECK(m.flat.edges[static_cast<size_t>(*m.flat.find(key))].kind == PortKind::tensor_input, ValueError,
             "[program] '{}' is a list of tensors: its shapes cannot be given as one shape", key);
    sig.add_tensor(s->second, m.options.precision());
  }
  for (const auto& [key, shape] : input_shapes)
    MI_CHECK(std::binary_search(m.input_keys.begin(), m.input_keys.end(), key), KeyError,  // input_keys is sorted
             "[program] '{}' is not an input of the model (inputs: {})", key, fmt::join(m.input_keys, ", "));
  sig.set_all_cotangents(gradients, m.output_keys);
  return report_of(*m.program_for(sig));
}

ProgramReport PhysicalModel::program_report(const DataMap& inputs, bool gradients) const {
  const Impl& m = *impl_;
  std::vector<const Tensor*> feed;
  std::vector<uint32_t> counts;
  std::vector<Tensor> casts;
  m.gather_inputs(inputs, feed, counts);
  m.cast_to_precision(feed, casts);
  Impl::Signature sig = m.signature_of(feed, counts, nullptr);
  sig.set_all_cotangents(gradients, m.output_keys);
  return report_of(*m.program_for(sig));
}


PhysicalModel::ProgramCacheStats PhysicalModel::program_cache() const {
  std::lock_guard<std::mutex> lock(impl_->cache_mutex);
  return {impl_->programs.size(), impl_->builds.load()};
}

int64_t PhysicalModel::planned_peak_bytes() const {
  std::lock_guard<std::mutex> lock(impl_->cache_mutex);
  return impl_->last_program ? impl_->last_program->executor->planned_peak_bytes() : 0;
}

namespace {

void check_profiling(const CompileOptions& o) {
  MI_CHECK(o.profile, ValueError,
           "[profile] the model was compiled without profiling: compile with CompileOptions::profile = true");
}

}  // namespace

ProfileStats PhysicalModel::profile_stats() const {
  const Impl& m = *impl_;
  check_profiling(m.options);
  std::vector<std::shared_ptr<const Impl::Program>> programs;
  {
    std::lock_guard<std::mutex> lock(m.cache_mutex);
    for (const auto& [key, p] : m.programs) programs.push_back(p);
  }
  // "forward" and "train" programs; numbered when several input signatures were run.
  size_t n_forward = 0, n_train = 0;
  for (const auto& p : programs) ++(p->signature.gradients ? n_train : n_forward);
  std::vector<ProfiledProgram> profiled;
  size_t i_forward = 0, i_train = 0;
  for (const auto& p : programs) {
    const bool g = p->signature.gradients;
    std::string label = g ? "train" : "forward";
    if ((g ? n_train : n_forward) > 1) label += fmt::format("#{}", ++(g ? i_train : i_forward));
    profiled.push_back({label, p->executor.get()});
  }
  return collect_profile(profiled, machine_peaks(m.options.peak_gflops, m.options.peak_gbs));
}

void PhysicalModel::reset_profile() const {
  check_profiling(impl_->options);
  std::lock_guard<std::mutex> lock(impl_->cache_mutex);
  for (const auto& [key, p] : impl_->programs) p->executor->reset_profile();
  reset_peak_bytes();
}

const Backend& PhysicalModel::backend() const { return *impl_->options.backend; }
DType PhysicalModel::precision() const { return impl_->options.precision(); }
const std::vector<std::string>& PhysicalModel::input_keys() const { return impl_->input_keys; }
const std::vector<std::string>& PhysicalModel::trainable_keys() const { return impl_->trainable_keys; }
const std::vector<std::string>& PhysicalModel::output_keys() const { return impl_->output_keys; }
const std::vector<std::string>& PhysicalModel::discarded_keys() const { return impl_->discarded_keys; }
const std::vector<std::string>& PhysicalModel::static_keys() const { return impl_->static_keys; }
const logical::FlatModel& PhysicalModel::flat_model() const { return impl_->flat; }

std::map<std::string, PhysicalModel::KeyInfo> PhysicalModel::infer_shapes(
    const std::map<std::string, Shape>& input_shapes) const {
  const Impl& m = *impl_;
  Graph g;
  Impl::Bound b;
  for (const auto& [key, shape] : input_shapes) {
    const bool input = std::binary_search(m.input_keys.begin(), m.input_keys.end(), key);  // input_keys is sorted
    MI_CHECK(input, KeyError, "[shapes] '{}' is not an input of the model (inputs: {})", key,
             fmt::join(m.input_keys, ", "));
    const EdgeId e = *m.flat.find(key);
    MI_CHECK(m.flat.edges[static_cast<size_t>(e)].kind == PortKind::tensor_input, ValueError,
             "[shapes] '{}' is a list of tensors: its shapes cannot be given as one shape", key);
    b.vars.emplace(e, g.input(key, shape, m.options.precision()));
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
