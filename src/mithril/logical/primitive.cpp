#include "mithril/logical/primitive.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "mithril/core/closest.h"
#include "mithril/core/error.h"
#include "mithril/io/json_tensor.h"
#include "mithril/logical/model_catalog.h"
#include "mithril/logical/primitives/common.h"

namespace mithril::logical {

std::string lowercase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

namespace {

const PrimitiveRegistry& registry() {
  static const PrimitiveRegistry instance = [] {
    PrimitiveRegistry r;
    register_arithmetic_primitives(r);
    register_shape_primitives(r);
    register_reduction_primitives(r);
    register_loss_primitives(r);
    register_layer_primitives(r);
    register_kernel_primitives(r);
    register_tensor_primitives(r);
    return r;
  }();
  return instance;
}

// The dtype for tensor defaults: that of the first floating-point tensor reaching the primitive.
DType float_dtype_of(const PortValues& values) {
  for (const auto& [name, v] : values) {
    if (v.tensor && is_float(v.tensor->dtype())) return v.tensor->dtype();
    for (const Var& t : v.tensors)
      if (is_float(t.dtype())) return t.dtype();
  }
  return DType::f64;
}

// Completes what reaches the ports before the family's rule runs: unconnected ports take their
// defaults (tensor defaults become graph constants), tensor ports given only a JSON value become
// constants, and integer/boolean ports get their element type.
PortValues complete_ports(const PrimitiveDef& def, Graph& graph, const PortValues& given) {
  for (const auto& [name, v] : given) {
    const PortDef* p = def.port(name);
    MI_CHECK(p != nullptr && p->kind != PortKind::output, KeyError, "[{}] unknown input port '{}'", def.name, name);
  }
  PortValues values = given;
  const DType dtype = float_dtype_of(given);
  for (const PortDef& p : def.ports) {
    if (p.kind == PortKind::output) continue;
    auto it = values.find(p.name);
    // A scalar port given null (axis = None) is connected; a tensor port needs a tensor or a value.
    const bool present = it != values.end() && (p.kind == PortKind::scalar_input || it->second.tensor ||
                                                !it->second.tensors.empty() || !it->second.scalar.is_null());
    if (!present) {
      // A null default (axis = None) is a value; only ports with no default must be connected.
      MI_CHECK(p.default_value.has_value(), KeyError, "[{}] port '{}' is not connected", def.name, p.name);
      PortValue v;
      v.scalar = *p.default_value;
      values[p.name] = v;
      it = values.find(p.name);
    }
    PortValue& v = it->second;
    if (p.kind == PortKind::tensor_input && !v.tensor) {
      MI_CHECK(!v.scalar.is_null(), KeyError, "[{}] port '{}' is not connected", def.name, p.name);
      v.tensor = graph.constant(io::tensor_from_json(v.scalar, dtype));
    }
    if (p.kind == PortKind::tensor_input && p.elem == PortDef::Elem::integer) v.tensor = to_integer(graph, *v.tensor);
    if (p.kind == PortKind::tensor_input && p.elem == PortDef::Elem::boolean) v.tensor = to_boolean(*v.tensor);
  }
  return values;
}

}  // namespace

const PortDef* PrimitiveDef::port(const std::string& port_name) const {
  for (const PortDef& p : ports)
    if (p.name == port_name) return &p;
  return nullptr;
}

std::vector<std::string> PrimitiveDef::input_names() const {
  std::vector<std::string> names;
  for (const PortDef& p : ports)
    if (p.kind != PortKind::output) names.push_back(p.name);
  return names;
}

std::vector<std::string> PrimitiveDef::output_names() const {
  std::vector<std::string> names;
  for (const PortDef& p : ports)
    if (p.kind == PortKind::output) names.push_back(p.name);
  return names;
}

void PrimitiveRegistry::add(std::string name, std::vector<std::string> args, PrimitiveFactory factory) {
  std::string key = lowercase(name);
  MI_ASSERT(entries_.count(key) == 0);
  entries_.emplace(std::move(key), PrimitiveEntry{std::move(name), std::move(args), std::move(factory)});
}

const PrimitiveEntry* PrimitiveRegistry::find(const std::string& name) const {
  const auto it = entries_.find(lowercase(name));
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<std::string> PrimitiveRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [key, entry] : entries_) out.push_back(entry.name);
  std::sort(out.begin(), out.end());
  return out;
}

PrimitiveDef make_primitive(const std::string& name, const json& args) {
  const PrimitiveEntry* entry = registry().find(name);
  if (entry == nullptr) {
    const std::vector<std::string> near = closest_names(name, primitive_names());
    MI_THROW(KeyError, "unknown model '{}'{}", name,
             near.empty() ? std::string() : fmt::format(" (closest: {})", fmt::join(near, ", ")));
  }
  const json& a = args.is_null() ? json::object() : args;
  MI_CHECK(a.is_object(), AttributeError, "[{}] arguments must be a JSON object, got {}", entry->name, a.dump());
  PrimitiveDef def = entry->factory(a);

  // Constructor arguments naming an input port set that port's default value.
  const std::set<std::string> declared(entry->args.begin(), entry->args.end());
  for (const auto& [arg, value] : a.items()) {
    PortDef* p = nullptr;
    for (PortDef& q : def.ports)
      if (q.name == arg && (q.kind == PortKind::tensor_input || q.kind == PortKind::scalar_input)) p = &q;
    if (p == nullptr && declared.count(arg) == 0) {
      const std::vector<std::string> valid = primitive_arguments(entry->name);
      MI_THROW(AttributeError, "[{}] unknown argument '{}' (valid: {})", entry->name, arg,
               valid.empty() ? std::string("none") : fmt::format("{}", fmt::join(valid, ", ")));
    }
    if (p != nullptr) p->default_value = value;
  }

  if (def.build_lists) {
    auto rule = std::move(def.build_lists);
    def.build_lists = [rule = std::move(rule), shell = def](Graph& graph, const PortValues& in) {
      return rule(graph, complete_ports(shell, graph, in));
    };
    return def;
  }
  auto rule = std::move(def.build);
  def.build = [rule = std::move(rule), shell = def](Graph& graph, const PortValues& in) {
    return rule(graph, complete_ports(shell, graph, in));
  };
  return def;
}

bool is_primitive(const std::string& name) { return registry().find(name) != nullptr; }

std::vector<std::string> primitive_names() { return registry().names(); }

std::vector<std::string> primitive_arguments(const std::string& name) {
  const PrimitiveEntry* entry = registry().find(name);
  MI_ASSERT(entry != nullptr);
  std::vector<std::string> out;
  try {  // the ports of the primitive built without arguments
    for (const PortDef& p : entry->factory(json::object()).ports)
      if (p.kind == PortKind::tensor_input || p.kind == PortKind::scalar_input) out.push_back(p.name);
  } catch (const Error&) {  // a primitive that needs an argument to have ports: its declared ones
  }
  for (const std::string& a : entry->args)
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  return out;
}

}  // namespace mithril::logical
