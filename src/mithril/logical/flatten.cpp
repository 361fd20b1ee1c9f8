#include "mithril/logical/flatten.h"

#include <algorithm>
#include <functional>
#include <set>
#include <utility>

#include "mithril/core/error.h"
#include "mithril/logical/long_names.h"

namespace mithril::logical {

bool FlatModel::is_differentiable(EdgeId e) const {
  const Edge& edge = edges[static_cast<size_t>(e)];
  if (edge.value && !edge.value_is_default) return false;  // fixed values are constants
  return edge.differentiable.value_or(edge.default_differentiable);
}

std::optional<EdgeId> FlatModel::find(const std::string& key) const {
  const auto it = keys.find(key);
  if (it == keys.end()) return std::nullopt;
  return it->second;
}

namespace {

bool is_scalar_kind(PortKind k) { return k == PortKind::scalar_input; }

class Flattener {
  friend class logical::IncrementalFlattening;

 public:
  FlatModel run(const Model& model) {
    Scope top = flatten_model(model, "");
    FlatModel flat;
    finalize(top, model, flat);
    return flat;
  }

 private:
  // The keys a flattened model offers to its parent.
  struct Scope {
    std::map<std::string, EdgeId> keys;        // named keys (ports of a primitive)
    std::vector<std::string> key_order;        // first-seen order, for naming and summaries
    std::optional<EdgeId> canonical_input, canonical_output;
    std::vector<EdgeId> canonical_outputs;     // not consumed inside the model
    std::vector<std::string> exposed;
    bool primitive = false;
    std::vector<std::string> output_ports;     // primitive outputs
  };

  EdgeId find_root(EdgeId e) {
    while (parent_[static_cast<size_t>(e)] != e) {
      parent_[static_cast<size_t>(e)] = parent_[static_cast<size_t>(parent_[static_cast<size_t>(e)])];
      e = parent_[static_cast<size_t>(e)];
    }
    return e;
  }

  EdgeId new_edge(Edge e) {
    edges_.push_back(std::move(e));
    parent_.push_back(static_cast<EdgeId>(edges_.size() - 1));
    const auto id = static_cast<EdgeId>(edges_.size() - 1);
    touch(id);
    return id;
  }

  // Incremental flattening records what each submodel changed: edges created, merged or given a
  // value, and shape templates assigned (to the edge's root at the time).
  void touch(EdgeId e) {
    if (touched_) touched_->push_back(e);
  }
  void assign_shape(EdgeId e, AssignedShape shape) {
    const EdgeId r = find_root(e);
    if (shape_log_) shape_log_->emplace_back(r, shape);
    edges_[static_cast<size_t>(r)].shapes.push_back(std::move(shape));
  }

  static bool same_value(const json& a, const json& b) { return a == b; }

  // "'output' of 'm1' (Relu)": an output edge by the call that produces it.
  std::string describe_output(const Edge& e) const {
    const PrimCall& c = calls_[static_cast<size_t>(e.producer)];
    return fmt::format("'{}' of '{}' ({})", e.origin, c.path, c.def.name);
  }

  // Merges b into a's class (the survivor keeps a's identity); `key` is the name the connection gives them, if any.
  EdgeId unite(EdgeId a, EdgeId b, const std::string& where, const std::string& key = "") {
    a = find_root(a);
    b = find_root(b);
    if (a == b) return a;
    touch(a);
    touch(b);
    Edge& ea = edges_[static_cast<size_t>(a)];
    Edge& eb = edges_[static_cast<size_t>(b)];
    const bool a_scalar = is_scalar_kind(ea.kind), b_scalar = is_scalar_kind(eb.kind);
    MI_CHECK(a_scalar == b_scalar, ValueError, "[{}] cannot connect a tensor key to a non-tensor key ('{}' and '{}')",
             where, ea.user_named ? ea.name : ea.origin, eb.user_named ? eb.name : eb.origin);
    MI_CHECK(ea.producer < 0 || eb.producer < 0, ValueError, "[{}] {} and {} are both outputs of models{}", where,
             describe_output(ea), describe_output(eb), key.empty() ? "" : fmt::format(" (connected as '{}')", key));
    // An anonymous edge is named after the port that created it: the producer's output port.
    if (eb.producer >= 0) {
      ea.producer = eb.producer;
      ea.origin = eb.origin;
    }
    if (ea.kind == PortKind::output || eb.kind == PortKind::output) ea.kind = PortKind::output;
    // Values: a user value beats a port default; two different user values conflict.
    if (eb.value && (!ea.value || (ea.value_is_default && !eb.value_is_default))) {
      ea.value = eb.value;
      ea.value_is_tensor = eb.value_is_tensor;
      ea.value_is_default = eb.value_is_default;
    } else if (eb.value && ea.value && !ea.value_is_default && !eb.value_is_default) {
      MI_CHECK(same_value(*ea.value, *eb.value), ValueError, "Possible values mismatch!");
    }
    if (eb.differentiable) ea.differentiable = eb.differentiable;
    ea.shapes.insert(ea.shapes.end(), eb.shapes.begin(), eb.shapes.end());
    ea.default_differentiable = ea.default_differentiable || eb.default_differentiable;
    parent_[static_cast<size_t>(b)] = a;
    return a;
  }

  Scope flatten_primitive(const PrimitiveDef& def, const std::string& path, const std::optional<json>& args) {
    Scope s;
    s.primitive = true;
    PrimCall call{def, path, {}, args};
    const int call_index = static_cast<int>(calls_.size());
    for (const PortDef& p : def.ports) {
      Edge e;
      e.origin = p.name;
      e.kind = p.kind;
      e.default_differentiable = p.differentiable;
      if (p.kind == PortKind::output) {
        e.producer = call_index;
        s.output_ports.push_back(p.name);
      } else if (p.default_value) {
        e.value = p.default_value;
        e.value_is_default = true;
        e.value_is_tensor = p.kind != PortKind::scalar_input;
      }
      const EdgeId id = new_edge(std::move(e));
      call.ports[p.name] = id;
      s.keys[p.name] = id;
      s.key_order.push_back(p.name);
    }
    const auto ins = def.input_names();
    const auto outs = def.output_names();
    auto pick = [&](const std::vector<std::string>& names, const char* preferred) -> std::optional<EdgeId> {
      if (names.empty()) return std::nullopt;
      const bool has = std::find(names.begin(), names.end(), preferred) != names.end();
      return s.keys[has ? std::string(preferred) : names.front()];
    };
    s.canonical_input = pick(ins, "input");
    s.canonical_output = pick(outs, "output");
    if (s.canonical_output) s.canonical_outputs.push_back(*s.canonical_output);
    calls_.push_back(std::move(call));
    return s;
  }

  EdgeId resolve_ref(const std::variant<SubPort, std::string>& ref, Scope& scope,
                     const std::map<std::string, Scope>& subs, const std::string& where) {
    if (const auto* sp = std::get_if<SubPort>(&ref)) {
      const auto it = subs.find(sp->submodel);
      MI_CHECK(it != subs.end(), KeyError, "[{}] no submodel named '{}' to connect to", where, sp->submodel);
      const auto kt = it->second.keys.find(sp->port);
      MI_CHECK(kt != it->second.keys.end(), KeyError, "[{}] submodel '{}' has no key '{}'", where, sp->submodel, sp->port);
      return kt->second;
    }
    const std::string& name = std::get<std::string>(ref);
    const auto it = scope.keys.find(name);
    MI_CHECK(it != scope.keys.end(), KeyError, "[{}] no key named '{}' to connect to", where, name);
    return it->second;
  }

  void bind_name(Scope& scope, const std::string& name, EdgeId edge, const std::string& where) {
    const auto it = scope.keys.find(name);
    if (it != scope.keys.end()) {
      unite(it->second, edge, where, name);
      return;
    }
    scope.keys[name] = edge;
    scope.key_order.push_back(name);
  }

  // A composite being flattened: its keys so far and the scopes of its submodels.
  struct Composite {
    Scope scope;
    std::map<std::string, Scope> subs;
    std::vector<EdgeId> child_canonical_outputs;
  };

  // Flattens one submodel of a composite at `path` and applies its connections.
  void add_submodel(Composite& comp, const Submodel& sub, const std::string& path, const std::string& where) {
    Scope& scope = comp.scope;
    std::map<std::string, Scope>& subs = comp.subs;
    std::vector<EdgeId>& child_canonical_outputs = comp.child_canonical_outputs;
    const std::string sub_path = path.empty() ? sub.local_name : path + "." + sub.local_name;
    Scope child = flatten_model(sub.model, sub_path);
    for (const auto& [port, conn] : sub.connections) {
      const auto kt = child.keys.find(port);
      MI_CHECK(kt != child.keys.end(), KeyError, "[{}] submodel '{}' ({}) has no key '{}'", where, sub.local_name,
               sub.model.name(), port);
      const EdgeId child_edge = kt->second;
      if (conn.kind != Connection::Kind::key) {
        Edge fixed;
        fixed.origin = port;
        fixed.kind = edges_[static_cast<size_t>(find_root(child_edge))].kind;
        fixed.value = conn.value;
        fixed.value_is_tensor = conn.kind == Connection::Kind::tensor;
        unite(child_edge, new_edge(std::move(fixed)), where);
        continue;
      }
      const IOKey& key = conn.key;
      for (const auto& ref : key.connect) unite(child_edge, resolve_ref(ref, scope, subs, where), where);
      if (!key.name.empty()) bind_name(scope, key.name, child_edge, where);
      Edge& e = edges_[static_cast<size_t>(find_root(child_edge))];
      if (key.value) {
        MI_CHECK(!e.value || e.value_is_default || *e.value == *key.value, ValueError, "Possible values mismatch!");
        e.value = key.value;
        e.value_is_tensor = key.value_is_tensor;
        e.value_is_default = false;
        touch(find_root(child_edge));
      }
      if (key.differentiable) e.differentiable = key.differentiable;
      if (key.shape)
        assign_shape(child_edge, {*key.shape, sub_path + "/" + port,
                                  fmt::format("the IOKey of port '{}' of '{}' ({})", port, sub_path, sub.model.name())});
      if (key.expose) {
        MI_CHECK(!key.name.empty(), ValueError, "[{}] an exposed key needs a name (port '{}' of '{}')", where, port,
                 sub.local_name);
        scope.exposed.push_back(key.name);
      }
    }
    if (child.canonical_output) child_canonical_outputs.push_back(*child.canonical_output);
    for (EdgeId e : child.canonical_outputs)
      if (!child.canonical_output || e != *child.canonical_output) child_canonical_outputs.push_back(e);
    subs.emplace(sub.local_name, std::move(child));
  }

  Scope flatten_model(const Model& model, const std::string& path) {
    if (const PrimitiveDef* def = model.primitive_def()) {
      Scope s = flatten_primitive(*def, path, model.impl()->args);
      // set_differentiability on a primitive marks its own ports (a model dict's primitive with
      // assigned_differentiabilities).
      for (const auto& [ref, flag] : model.impl()->differentiabilities) {
        const auto* key = std::get_if<std::string>(&ref);
        MI_CHECK(key != nullptr && s.keys.count(*key), KeyError, "[{}] has no port '{}' to mark differentiable",
                 def->name, key ? *key : std::get<SubPort>(ref).port);
        edges_[static_cast<size_t>(find_root(s.keys.at(*key)))].differentiable = flag;
      }
      add_shape_sets(*model.impl(), s, path, def->name);
      record_block(path, def->name, s);
      return s;
    }
    const ModelImpl& m = *model.impl();
    const std::string where = path.empty() ? m.name : path + " (" + m.name + ")";
    Composite comp;
    Scope& scope = comp.scope;
    std::map<std::string, Scope>& subs = comp.subs;
    std::vector<EdgeId>& child_canonical_outputs = comp.child_canonical_outputs;
    const size_t first_call = calls_.size();
    for (const Submodel& sub : m.submodels) add_submodel(comp, sub, path, where);
    // Canonical input/output: explicit, else the first submodel's input and the last one's output.
    auto sub_canonical = [&](const std::optional<SubPort>& explicit_ref, bool input) -> std::optional<EdgeId> {
      if (explicit_ref) return resolve_ref(*explicit_ref, scope, subs, where);
      if (m.submodels.empty()) return std::nullopt;
      const Scope& s = subs.at(input ? m.submodels.front().local_name : m.submodels.back().local_name);
      return input ? s.canonical_input : s.canonical_output;
    };
    scope.canonical_input = sub_canonical(m.canonical_input, true);
    scope.canonical_output = sub_canonical(m.canonical_output, false);
    // Canonical outputs of the composite: those of its submodels not consumed inside it.
    std::set<EdgeId> consumed;
    for (size_t c = first_call; c < calls_.size(); ++c)
      for (const PortDef& p : calls_[c].def.ports)
        if (p.kind != PortKind::output) consumed.insert(find_root(calls_[c].ports.at(p.name)));
    std::set<EdgeId> seen;
    for (EdgeId e : child_canonical_outputs) {
      const EdgeId r = find_root(e);
      if (!consumed.count(r) && seen.insert(r).second) scope.canonical_outputs.push_back(r);
    }
    if (scope.canonical_input) scope.keys[kCanonicalInput] = *scope.canonical_input;
    if (scope.canonical_output) scope.keys[kCanonicalOutput] = *scope.canonical_output;
    for (const std::string& k : m.exposed) {
      MI_CHECK(scope.keys.count(k), KeyError, "[{}] cannot expose unknown key '{}'", where, k);
      scope.exposed.push_back(k);
    }
    for (const auto& [ref, flag] : m.differentiabilities) {
      const EdgeId e = resolve_ref(ref, scope, subs, where);
      edges_[static_cast<size_t>(find_root(e))].differentiable = flag;
    }
    add_shape_sets(m, scope, path, m.name);
    record_block(path, m.name, scope);
    return scope;
  }

  void record_block(const std::string& path, const std::string& model, const Scope& scope) {
    if (path.empty()) return;
    FlatBlock b{path, model, {}};
    for (const auto& [k, e] : scope.keys)
      if (k.rfind('$', 0) != 0) b.keys[k] = e;
    blocks_.push_back(std::move(b));
  }

  void add_shape_sets(const ModelImpl& m, const Scope& scope, const std::string& path, const std::string& name) {
    const std::string who = path.empty() ? name : fmt::format("'{}' ({})", path, name);
    for (size_t i = 0; i < m.shape_sets.size(); ++i)
      for (const auto& [key, shape] : m.shape_sets[i]) {
        const auto it = scope.keys.find(key);
        MI_CHECK(it != scope.keys.end(), KeyError, "[{}] set_shapes: no key named '{}'", path.empty() ? name : path, key);
        assign_shape(it->second, {shape, fmt::format("{}#{}", path, i), "set_shapes of " + who});
      }
  }

  void finalize(const Scope& top, const Model& model, FlatModel& flat) {
    // Compact to root edges.
    std::vector<EdgeId> remap(edges_.size(), -1);
    auto root_of = [&](EdgeId e) {
      const EdgeId r = find_root(e);
      if (remap[static_cast<size_t>(r)] < 0) {
        remap[static_cast<size_t>(r)] = static_cast<EdgeId>(flat.edges.size());
        flat.edges.push_back(edges_[static_cast<size_t>(r)]);
        flat.edges.back().producer = -1;
      }
      return remap[static_cast<size_t>(r)];
    };
    std::vector<PrimCall> calls;
    for (PrimCall& c : calls_) {
      for (auto& [port, e] : c.ports) e = root_of(e);
      calls.push_back(std::move(c));
    }
    for (size_t i = 0; i < calls.size(); ++i)
      for (const PortDef& p : calls[i].def.ports)
        if (p.kind == PortKind::output) {
          Edge& e = flat.edges[static_cast<size_t>(calls[i].ports.at(p.name))];
          e.producer = static_cast<int>(i);
        }
    flat.calls = topological_order(std::move(calls), flat, model.name());

    for (const auto& [name, e] : top.keys)
      if (name.rfind('$', 0) != 0) flat.keys[name] = root_of(e);
    if (top.primitive) {
      for (const std::string& p : top.output_ports) flat.outputs.push_back(flat.keys.at(p));
    } else if (!top.exposed.empty()) {
      for (const std::string& k : top.exposed) flat.outputs.push_back(root_of(top.keys.at(k)));
    } else {
      for (EdgeId e : top.canonical_outputs) flat.outputs.push_back(root_of(e));
    }
    assign_names(flat, top);
    // Blocks are recorded when they finish (children first): ordering by depth is breadth first.
    for (FlatBlock& b : blocks_)
      for (auto& [k, e] : b.keys) e = root_of(e);
    std::stable_sort(blocks_.begin(), blocks_.end(), [](const FlatBlock& a, const FlatBlock& b) {
      return std::count(a.path.begin(), a.path.end(), '.') < std::count(b.path.begin(), b.path.end(), '.');
    });
    flat.blocks = std::move(blocks_);
  }

  static std::vector<PrimCall> topological_order(std::vector<PrimCall> calls, FlatModel& flat, const std::string& model) {
    const size_t n = calls.size();
    std::vector<int> state(n, 0);  // 0 new, 1 visiting, 2 done
    std::vector<size_t> order;
    std::function<void(size_t)> visit = [&](size_t i) {
      if (state[i] == 2) return;
      MI_CHECK(state[i] != 1, ValueError, "[{}] the model has a cycle through '{}' ({})", model, calls[i].path,
               calls[i].def.name);
      state[i] = 1;
      for (const PortDef& p : calls[i].def.ports) {
        if (p.kind == PortKind::output) continue;
        const int prod = flat.edges[static_cast<size_t>(calls[i].ports.at(p.name))].producer;
        if (prod >= 0) visit(static_cast<size_t>(prod));
      }
      state[i] = 2;
      order.push_back(i);
    };
    for (size_t i = 0; i < n; ++i) visit(i);
    std::vector<int> new_index(n);
    std::vector<PrimCall> sorted;
    for (size_t k = 0; k < order.size(); ++k) {
      new_index[order[k]] = static_cast<int>(k);
      sorted.push_back(std::move(calls[order[k]]));
    }
    for (Edge& e : flat.edges)
      if (e.producer >= 0) e.producer = new_index[static_cast<size_t>(e.producer)];
    return sorted;
  }

  // Mithril's short naming: named keys keep their names; anonymous edges are named after their
  // origin port, suffixed _0, _1, ... in call order when an origin occurs more than once.
  // Only the top model's keys keep names; names inside submodels are local to them.
  static void assign_names(FlatModel& flat, const Scope& top) {
    std::set<std::string> taken;
    for (const std::string& name : top.key_order) {
      const auto it = flat.keys.find(name);
      if (it == flat.keys.end()) continue;
      Edge& edge = flat.edges[static_cast<size_t>(it->second)];
      if (!edge.user_named) {  // the first name an edge gets at top level is its name
        edge.name = name;
        edge.user_named = true;
      }
      taken.insert(name);
    }
    const std::vector<EdgeId> anonymous = anonymous_edges_in_call_order(flat);
    std::map<std::string, std::vector<EdgeId>> by_origin;
    std::vector<std::string> origin_order;
    for (EdgeId e : anonymous) {
      const std::string& o = flat.edges[static_cast<size_t>(e)].origin;
      if (!by_origin.count(o)) origin_order.push_back(o);
      by_origin[o].push_back(e);
    }
    for (const std::string& o : origin_order) {
      const auto& es = by_origin[o];
      if (es.size() == 1 && !taken.count(o)) {
        flat.edges[static_cast<size_t>(es[0])].name = o;
        taken.insert(o);
        continue;
      }
      int counter = 0;
      for (EdgeId e : es) {
        std::string candidate;
        do candidate = o + "_" + std::to_string(counter++);
        while (taken.count(candidate));
        flat.edges[static_cast<size_t>(e)].name = candidate;
        taken.insert(candidate);
      }
    }
    for (EdgeId e : anonymous) flat.keys.emplace(flat.edges[static_cast<size_t>(e)].name, e);
  }

  std::vector<Edge> edges_;
  std::vector<EdgeId> parent_;
  std::vector<PrimCall> calls_;
  std::vector<FlatBlock> blocks_;
  std::vector<EdgeId>* touched_ = nullptr;                             // incremental flattening only
  std::vector<std::pair<EdgeId, AssignedShape>>* shape_log_ = nullptr;  // incremental flattening only
};

}  // namespace

std::vector<EdgeId> anonymous_edges_in_call_order(const FlatModel& flat) {
  std::vector<EdgeId> anonymous;
  std::set<EdgeId> seen;
  for (const PrimCall& c : flat.calls)
    for (const PortDef& p : c.def.ports) {
      const EdgeId e = c.ports.at(p.name);
      if (!flat.edges[static_cast<size_t>(e)].user_named && seen.insert(e).second) anonymous.push_back(e);
    }
  return anonymous;
}

FlatModel flatten(const Model& model, const FlattenOptions& options) {
  FlatModel flat = Flattener().run(model);
  if (!options.short_namings) assign_long_names(flat);
  return flat;
}

struct IncrementalFlattening::State {
  Flattener flattener;
  Flattener::Composite top;
  std::vector<EdgeId> touched;
  std::vector<std::pair<EdgeId, AssignedShape>> shapes;
};

IncrementalFlattening::IncrementalFlattening() : state_(std::make_unique<State>()) {
  state_->flattener.touched_ = &state_->touched;
  state_->flattener.shape_log_ = &state_->shapes;
}
IncrementalFlattening::~IncrementalFlattening() = default;

void IncrementalFlattening::add(const Submodel& sub, const std::string& model_name) {
  state_->flattener.add_submodel(state_->top, sub, "", model_name);
}
const std::vector<Edge>& IncrementalFlattening::edges() const { return state_->flattener.edges_; }
const std::vector<PrimCall>& IncrementalFlattening::calls() const { return state_->flattener.calls_; }
std::vector<EdgeId>& IncrementalFlattening::parent() { return state_->flattener.parent_; }
std::vector<EdgeId> IncrementalFlattening::take_touched() { return std::exchange(state_->touched, {}); }
std::vector<std::pair<EdgeId, AssignedShape>> IncrementalFlattening::take_assigned_shapes() {
  return std::exchange(state_->shapes, {});
}

}  // namespace mithril::logical
