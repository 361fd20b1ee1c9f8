#include "mithril/runtime/compile.h"

#include <algorithm>
#include <set>

#include "mithril/core/error.h"
#include "mithril/io/json_tensor.h"
#include "mithril/logical/shape_inference.h"
#include "mithril/runtime/input_checks.h"
#include "mithril/runtime/physical_model_impl.h"
#include "mithril/runtime/static_keys.h"

namespace mithril {

using logical::PortKind;

namespace {

bool is_tensor_kind(PortKind k) { return k != PortKind::scalar_input; }

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

IsaLevel target_isa_level(const TargetHardware& target) {
  const IsaLevel level = parse_isa_level(target.name, "[compile options] target_hardware");
  MI_CHECK(level <= hardware_isa_level(), ValueError,
           "[compile options] target_hardware '{}' is not available: this machine has {} (at most '{}')", target.name,
           hardware_isa_list(), level_name(hardware_isa_level()));
  return level;
}

PhysicalModel compile(const logical::Model& model, BackendPtr backend, CompileOptions options) {
  MI_CHECK(backend != nullptr, ValueError, "[compile] backend is null");
  options.backend = std::move(backend);
  return compile(model, options);
}

PhysicalModel compile(const logical::Model& model, const CompileOptions& options) {
  (void)target_isa_level(options.target_hardware);  // before any work: a level this machine lacks
  auto impl = std::make_shared<PhysicalModel::Impl>();
  impl->flat = logical::flatten(model, {.short_namings = options.use_short_namings});
  impl->options = options;
  if (!impl->options.backend) impl->options.backend = default_backend();
  {
    const Backend& b = *impl->options.backend;
    MI_CHECK(b.generates_code() || (options.file_path.empty() && options.jit_options.is_default()), ValueError,
             "[compile] '{}' is for a backend that generates code, and backend {} runs the graph itself; use "
             "{{\"backend\": \"jit\"}} to generate, compile and cache C++ for the program",
             options.file_path.empty() ? "jit_options" : "file_path", b.name());
  }
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

}  // namespace mithril
