#include "mithril/logical/model_dict.h"

#include <algorithm>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "mithril/core/error.h"
#include "mithril/io/file.h"
#include "mithril/io/json_parse.h"
#include "mithril/logical/library.h"

namespace mithril::logical {
namespace {

const std::set<std::string> kKnownFields = {
    "name", "args", "tuples", "enums", "submodels", "connections", "exposed_keys", "assigned_differentiabilities",
    "assigned_shapes", "assigned_types", "assigned_constraints", "assigned_cins", "assigned_couts", "unnamed_keys",
    "types", "randomized_args", "regular_args", "floats", "static_input_info"};

// A {"tensor": v} object or a plain value.
std::pair<json, bool> value_of(const json& v) {
  if (v.is_object() && v.contains("tensor")) return {v.at("tensor"), true};
  return {v, false};
}

IOKey parse_key(const json& k, const std::string& path) {
  MI_CHECK(k.is_object(), ValueError, "[model dict] {}: a key must be an object, got {}", path, k.dump());
  IOKey key;
  for (const auto& [field, v] : k.items()) {
    if (field == "name") {
      key.name = v.get<std::string>();
    } else if (field == "value") {
      auto [val, is_tensor] = value_of(v);
      key.value = val;
      key.value_is_tensor = is_tensor;
    } else if (field == "differentiable") {
      key.differentiable = v.get<bool>();
    } else if (field == "expose") {
      key.expose = v.get<bool>();
    } else if (field == "shape") {
      key.shape = v;
    } else if (field == "connect") {
      for (const json& c : v) {
        if (c.is_string()) key.connect.emplace_back(c.get<std::string>());
        else if (c.is_array() && c.size() == 2 && c[0].is_string() && c[1].is_string())
          key.connect.emplace_back(SubPort{c[0].get<std::string>(), c[1].get<std::string>()});
        else MI_THROW(ValueError, "[model dict] {}.connect: expected a key name or [submodel, key], got {}", path, c.dump());
      }
    } else if (field == "type") {
      // Types narrow what a key accepts; values are always checked by the ops themselves.
    } else {
      MI_THROW(KeyError, "[model dict] {}: unknown field '{}' of a key", path, field);
    }
  }
  return key;
}

Connection parse_connection(const json& spec, const std::string& path) {
  if (spec.is_string()) return Connection(spec.get<std::string>());
  if (spec.is_object()) {
    if (spec.contains("key")) {
      MI_CHECK(spec.size() == 1, KeyError, "[model dict] {}: a key connection has only the field 'key'", path);
      return Connection(parse_key(spec.at("key"), path + ".key"));
    }
    if (spec.contains("tensor")) return Connection::tensor(spec.at("tensor"));
    MI_THROW(KeyError, "[model dict] {}: expected 'key' or 'tensor' in connection {}", path, spec.dump());
  }
  return Connection::scalar(spec);  // number, bool, list, null: a fixed non-tensor value
}

// "(Ellipsis,)" is how model dicts spell Python's `...` inside arguments.
json normalize_args(const json& args) {
  if (args.is_string() && args.get<std::string>() == "(Ellipsis,)") return "...";
  if (!args.is_structured()) return args;
  json out = args;
  for (auto& v : out) v = normalize_args(v);
  return out;
}

Model model_from_dict_unchecked(const json& d, const std::string& path) {
  const ModelResolver resolve = [&](const json& sub) { return model_from_dict(sub, path + ".args"); };
  if (d.is_string()) {
    try {
      return make_model(d.get<std::string>(), json::object(), resolve);
    } catch (const KeyError& e) {  // an unknown model name
      MI_THROW(KeyError, "[model dict] {}: {}", path, e.what());
    }
  }
  MI_CHECK(d.is_object(), ValueError, "[model dict] {}: expected a model name or an object, got {}", path, d.dump());
  for (const auto& [field, v] : d.items())
    MI_CHECK(kKnownFields.count(field), KeyError, "[model dict] {}: unknown field '{}' (valid: {})", path, field,
             fmt::join(kKnownFields, ", "));
  MI_CHECK(d.contains("name") && d.at("name").is_string(), KeyError, "[model dict] {}: missing the model 'name'", path);
  const std::string name = d.at("name").get<std::string>();

  Model model;
  if (name == "Model") {
    const json submodels = d.value("submodels", json::object());
    const json connections = d.value("connections", json::object());
    // Looked up by name through hash maps: an ordered_json object finds a key by scanning its
    // members, which made loading a model of n submodels n^2.
    std::unordered_map<std::string, const json*> connections_of;
    for (const auto& [local, c] : connections.items()) connections_of.emplace(local, &c);
    std::unordered_set<std::string> submodel_names;
    for (const auto& [local, sub_desc] : submodels.items()) {
      submodel_names.insert(local);
      const std::string sub_path = path + ".submodels." + local;
      Model sub = model_from_dict(sub_desc, sub_path);
      std::map<std::string, Connection> conns;
      if (const auto it = connections_of.find(local); it != connections_of.end())
        for (const auto& [port, spec] : it->second->items())
          conns.emplace(port, parse_connection(spec, path + ".connections." + local + "." + port));
      model.add(sub, std::move(conns), local);
    }
    for (const auto& [local, c] : connections.items())
      MI_CHECK(submodel_names.count(local), KeyError, "[model dict] {}.connections: no submodel named '{}'", path, local);
  } else {
    try {
      model = make_model(name, normalize_args(d.value("args", json::object())), resolve);
    } catch (const Error& e) {
      MI_THROW(AttributeError, "[model dict] {}: {}", path, e.what());
    }
  }
  if (d.contains("exposed_keys")) model.expose(d.at("exposed_keys").get<std::vector<std::string>>());
  for (const json& a : d.value("assigned_differentiabilities", json::array())) {
    MI_CHECK(a.is_array() && a.size() == 2 && a[1].is_boolean(), ValueError,
             "[model dict] {}.assigned_differentiabilities: expected [key, bool], got {}", path, a.dump());
    if (a[0].is_string()) {
      model.set_differentiability(a[0].get<std::string>(), a[1].get<bool>());
    } else {
      MI_CHECK(a[0].is_array() && a[0].size() == 2, ValueError,
               "[model dict] {}.assigned_differentiabilities: bad key reference {}", path, a[0].dump());
      // [submodel, index]: the index-th external key of that submodel.
      // The submodel is looked up in the model built so far: a library model has no
      // "submodels" field, its constructor made them.
      MI_CHECK(a[0][0].is_string() && a[0][1].is_number_integer() && a[0][1].get<int64_t>() >= 0, ValueError,
               "[model dict] {}.assigned_differentiabilities: bad key reference {}", path, a[0].dump());
      const std::string sub = a[0][0].get<std::string>();
      const auto idx = a[0][1].get<size_t>();
      const auto& subs = model.impl()->submodels;
      const auto it = std::find_if(subs.begin(), subs.end(), [&](const Submodel& s) { return s.local_name == sub; });
      const PrimitiveDef* def = it == subs.end() ? nullptr : it->model.primitive_def();
      MI_CHECK(def && idx < def->ports.size(), ValueError,
               "[model dict] {}.assigned_differentiabilities: cannot resolve key {} of submodel '{}'", path,
               a[0].dump(), sub);
      model.set_differentiability(SubPort{sub, def->ports[idx].name}, a[1].get<bool>());
    }
  }
  // assigned_shapes: one list of [key, shape] pairs per set_shapes call (a bare [key, shape]
  // pair is read as a call of its own).
  for (const json& entry : d.value("assigned_shapes", json::array())) {
    MI_CHECK(entry.is_array(), ValueError,
             "[model dict] {}.assigned_shapes: expected a list of [key, shape] lists, got {}", path, entry.dump());
    const json set = !entry.empty() && entry[0].is_string() ? json::array({entry}) : entry;
    std::map<std::string, json> shapes;
    for (const json& a : set) {
      MI_CHECK(a.is_array() && a.size() == 2 && a[1].is_array(), ValueError,
               "[model dict] {}.assigned_shapes: expected [key, shape], got {}", path, a.dump());
      MI_CHECK(a[0].is_string(), ValueError,
               "[model dict] {}.assigned_shapes: key {} must be a key name (submodel port references are not "
               "supported for shapes)", path, a[0].dump());
      shapes[a[0].get<std::string>()] = a[1];
    }
    model.set_shapes(shapes);
  }
  return model;
}

}  // namespace

// nlohmann's type errors (a string where a number belongs) are reported at the innermost model
// being read, with its path, instead of as "[json.exception.type_error.302] ...".
Model model_from_dict(const json& d, const std::string& path) {
  try {
    return model_from_dict_unchecked(d, path);
  } catch (const nlohmann::json::exception& e) {
    MI_THROW(ValueError, "[model dict] {}: {}", path, io::json_error_text(e));
  }
}

Model load_model_dict(const std::string& file_path) {
  const json d = io::parse_ordered_json(io::read_file(file_path, "model dict"), fmt::format("[model dict] {}", file_path));
  return model_from_dict(d, "model");
}

}  // namespace mithril::logical

namespace mithril::logical {
namespace {

json key_to_dict(const IOKey& k) {
  json key = json::object();
  if (!k.name.empty()) key["name"] = k.name;
  if (k.value) key["value"] = k.value_is_tensor ? json{{"tensor", *k.value}} : *k.value;
  if (k.differentiable) key["differentiable"] = *k.differentiable;
  if (k.expose) key["expose"] = true;
  if (k.shape) key["shape"] = *k.shape;
  if (!k.connect.empty()) {
    json c = json::array();
    for (const auto& ref : k.connect) {
      if (const auto* sp = std::get_if<SubPort>(&ref)) c.push_back({sp->submodel, sp->port});
      else c.push_back(std::get<std::string>(ref));
    }
    key["connect"] = c;
  }
  return key;
}

json connection_to_dict(const Connection& c) {
  switch (c.kind) {
    case Connection::Kind::scalar: return c.value;
    case Connection::Kind::tensor: return json{{"tensor", c.value}};
    case Connection::Kind::key: break;
  }
  const IOKey& k = c.key;
  const bool plain_name = !k.name.empty() && !k.value && !k.differentiable && !k.expose && !k.shape && k.connect.empty();
  if (plain_name) return k.name;
  return json{{"key", key_to_dict(k)}};
}

}  // namespace

json model_to_dict(const Model& model) {
  const ModelImpl& m = *model.impl();
  json d = json::object();
  // A composite without constructor arguments is saved as a plain "Model" whatever its display
  // name, so that loading composes it from its submodels.
  d["name"] = m.primitive ? m.primitive->name : m.args ? m.name : std::string("Model");
  if (m.args) {
    json args = *m.args;
    for (const auto& [pointer, arg] : m.model_args) args[json::json_pointer(pointer)] = model_to_dict(arg);
    if (!args.empty()) d["args"] = args;
  } else if (!m.primitive) {
    json subs = json::object(), conns = json::object();
    for (const Submodel& s : m.submodels) {
      subs[s.local_name] = model_to_dict(s.model);
      json c = json::object();
      for (const auto& [port, conn] : s.connections) c[port] = connection_to_dict(conn);
      conns[s.local_name] = c;
    }
    d["submodels"] = subs;
    d["connections"] = conns;
  }
  // What the user assigned; what a library constructor set is made again when loading.
  const size_t first_exposed = m.args ? m.constructor_exposed : 0;
  if (m.exposed.size() > first_exposed)
    d["exposed_keys"] = std::vector<std::string>(m.exposed.begin() + static_cast<std::ptrdiff_t>(first_exposed),
                                                 m.exposed.end());
  const size_t first_set = m.args ? m.constructor_shape_sets : 0;
  if (m.shape_sets.size() > first_set) {
    json sets = json::array();
    for (size_t i = first_set; i < m.shape_sets.size(); ++i) {
      const auto& set = m.shape_sets[i];
      json pairs = json::array();
      for (const auto& [key, shape] : set) pairs.push_back({key, shape});
      sets.push_back(pairs);
    }
    d["assigned_shapes"] = sets;
  }
  const size_t first_diff = m.args ? m.constructor_differentiabilities : 0;
  if (m.differentiabilities.size() > first_diff) {
    json a = json::array();
    for (size_t i = first_diff; i < m.differentiabilities.size(); ++i) {
      const auto& [ref, flag] = m.differentiabilities[i];
      if (const auto* name = std::get_if<std::string>(&ref)) {
        a.push_back({*name, flag});
        continue;
      }
      // A submodel port is written as [submodel, index into its ordered keys].
      const SubPort& sp = std::get<SubPort>(ref);
      const auto sub = std::find_if(m.submodels.begin(), m.submodels.end(),
                                    [&](const Submodel& s) { return s.local_name == sp.submodel; });
      const PrimitiveDef* def = sub == m.submodels.end() ? nullptr : sub->model.primitive_def();
      const auto port = def ? std::find_if(def->ports.begin(), def->ports.end(),
                                           [&](const PortDef& p) { return p.name == sp.port; })
                            : std::vector<PortDef>::const_iterator{};
      MI_CHECK(def && port != def->ports.end(), ValueError,
               "[model dict] cannot save the differentiability of '{}.{}': not a primitive port", sp.submodel, sp.port);
      a.push_back({json{sp.submodel, port - def->ports.begin()}, flag});
    }
    d["assigned_differentiabilities"] = a;
  }
  return d;
}

void save_model_dict(const Model& model, const std::string& file_path) {
  io::write_file_atomic(file_path, model_to_dict(model).dump(2) + "\n", "model dict");
}

}  // namespace mithril::logical
