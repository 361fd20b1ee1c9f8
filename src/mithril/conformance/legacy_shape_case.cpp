#include "mithril/conformance/legacy_shape_case.h"

#include <algorithm>
#include <regex>
#include <set>

#include "mithril/core/error.h"
#include "mithril/logical/primitive.h"

namespace mithril::conformance {
namespace {

// The old port names of the binary primitives.
std::string current_port(const std::string& model, const std::string& port) {
  const std::string m = logical::lowercase(model);
  const bool first = port == "input" || port == "input1", second = port == "rhs" || port == "input2";
  if (m == "divide") return first ? "numerator" : second ? "denominator" : port;
  if (m == "add" || m == "subtract" || m == "multiply") return first ? "left" : second ? "right" : port;
  return port;
}

std::string model_name(const json& d) { return d.is_string() ? d.get<std::string>() : d.value("name", std::string()); }

// [["m1", "output"], ...]: the port is merged with those ports.
bool is_port_list(const json& spec) {
  if (!spec.is_array() || spec.empty()) return false;
  return std::all_of(spec.begin(), spec.end(), [](const json& r) {
    return r.is_array() && r.size() == 2 && r[0].is_string() && r[1].is_string();
  });
}

json convert_model(const json& d, bool top, std::map<std::string, json>& key_shapes) {
  if (d.is_string()) return d;
  MI_CHECK(d.is_object() && d.contains("name"), ValueError,
           "[legacy shapes] model descriptions without 'name' (the older 'model'/'input_models' form) are not "
           "supported: {}", d.dump().substr(0, 80));
  const std::string name = d.at("name").get<std::string>();
  json out = d;
  json args = d.value("args", json::object());
  if (args.contains("shapes")) {
    const json shapes = args.at("shapes");
    args.erase("shapes");
    if (top) {
      for (const auto& [key, shape] : shapes.items()) key_shapes[current_port(name, key)] = shape;
    } else {
      json set = json::array();
      for (const auto& [key, shape] : shapes.items()) set.push_back({current_port(name, key), shape});
      out["assigned_shapes"] = json::array({set});
    }
  }
  if (args.empty()) out.erase("args");
  else out["args"] = args;
  if (name != "Model") return out;

  const json subs = d.value("submodels", json::object());
  const json connections = d.value("connections", json::object());
  json new_subs = json::object(), new_conns = json::object();
  for (const auto& [local, sub] : subs.items()) new_subs[local] = convert_model(sub, false, key_shapes);
  for (const auto& [local, ports] : connections.items()) {
    const std::string sub_name = subs.contains(local) ? model_name(subs.at(local)) : "";
    json conns = json::object();
    for (const auto& [port, spec] : ports.items()) {
      json s = spec;
      if (is_port_list(spec)) {
        json connect = json::array();
        for (const json& r : spec) {
          const std::string other = r[0].get<std::string>();
          const std::string other_model = subs.contains(other) ? model_name(subs.at(other)) : "";
          connect.push_back({other, current_port(other_model, r[1].get<std::string>())});
        }
        s = {{"key", {{"connect", connect}}}};
      } else if (spec.is_number() || spec.is_array()) {
        s = {{"tensor", spec}};
      }
      conns[current_port(sub_name, port)] = s;
    }
    new_conns[local] = conns;
  }
  out["submodels"] = new_subs;
  out["connections"] = new_conns;
  return out;
}

}  // namespace

LegacyShapeCase from_legacy_shape_case(const json& legacy) {
  LegacyShapeCase c;
  c.model = convert_model(legacy.at("model"), true, c.key_shapes);
  for (const char* field : {"static_shapes", "static_input_shapes", "input_shapes"}) {
    const json given = legacy.value(field, json::object());
    for (const auto& [key, shape] : given.items()) c.key_shapes[key] = shape;
  }
  if (legacy.contains("output_specs")) {
    c.training = json::object();
    json specs = json::object();
    for (const auto& [key, spec] : legacy.at("output_specs").items()) {
      json s = spec;
      if (s.contains("reduce")) {
        s["reduce_steps"] = json::array({s.at("reduce")});
        s.erase("reduce");
      }
      specs[key] = s;
    }
    c.training["output_specs"] = specs;
    if (legacy.contains("regularizations")) {
      MI_CHECK(legacy.at("regularizations").is_array(), ValueError,
               "[legacy shapes] regularizations given as an object (the older form) are not supported");
      c.training["regularizations"] = legacy.at("regularizations");
    }
    if (legacy.contains("final_loss_combiner")) c.training["final_loss_combiner"] = legacy.at("final_loss_combiner");
  }
  c.expected = legacy.at("results");
  return c;
}

namespace {

struct Resolved {
  std::optional<logical::EdgeId> edge;
  bool reversed = false;  // a legacy Linear `w`: [d_in, d_out]
  std::string ours;       // what it was resolved to, for messages
};

// Old-style long key names: <Class>_<index>_<port>.
const std::regex& long_name_pattern() {
  static const std::regex long_name("^([A-Za-z][A-Za-z0-9]*)_([0-9]+)_(.+)$");
  return long_name;
}

Resolved resolve(const logical::FlatModel& flat, const std::string& key,
                 const std::map<std::string, std::vector<int64_t>>& indices) {
  if (const auto e = flat.find(key)) return {e, false, key};
  static const std::regex param("^(w|b)([0-9]*)$");
  std::smatch m;
  if (std::regex_match(key, m, param)) {
    const std::string ours = (m[1] == "w" ? "weight" : "bias") + m[2].str();
    return {flat.find(ours), m[1] == "w", ours};
  }
  if (!std::regex_match(key, m, long_name_pattern())) return {std::nullopt, false, ""};
  const std::string model = m[1].str(), port = m[3].str();
  const std::vector<int64_t>& used = indices.at(model);
  const auto rank = std::find(used.begin(), used.end(), std::stoll(m[2].str())) - used.begin();
  int64_t seen = 0;
  for (const logical::FlatBlock& b : flat.blocks) {
    if (logical::lowercase(b.model) != logical::lowercase(model) || seen++ != rank) continue;
    const std::string p = current_port(model, port);
    const auto it = b.keys.find(p);
    const std::string ours = "port '" + p + "' of '" + b.path + "' (" + b.model + ")";
    return {it == b.keys.end() ? std::nullopt : std::optional<logical::EdgeId>(it->second), false, ours};
  }
  return {std::nullopt, false, ""};
}

std::string dims_str(const std::vector<logical::SymbolicShapes::DimInfo>& dims) {
  std::vector<std::string> parts;
  for (const auto& d : dims) parts.push_back(d.value ? std::to_string(*d.value) : "_");
  return fmt::format("[{}]", fmt::join(parts, ", "));
}

}  // namespace

std::optional<std::string> compare_legacy_shapes(const logical::FlatModel& flat, const logical::SymbolicShapes& shapes,
                                                 const json& expected) {
  // Indices each class is used with in the case's long names, in increasing order.
  std::map<std::string, std::vector<int64_t>> indices;
  for (const auto& [key, shape] : expected.items()) {
    std::smatch m;
    if (!flat.find(key) && std::regex_match(key, m, long_name_pattern())) {
      auto& v = indices[m[1].str()];
      const int64_t i = std::stoll(m[2].str());
      if (std::find(v.begin(), v.end(), i) == v.end()) v.insert(std::upper_bound(v.begin(), v.end(), i), i);
    }
  }
  std::vector<std::string> problems;
  std::map<std::string, int> symbol_to_dim;
  std::map<int, std::string> dim_to_symbol;
  for (const auto& [key, want] : expected.items()) {
    const Resolved r = resolve(flat, key, indices);
    if (!r.edge) {
      problems.push_back(fmt::format("'{}': no matching key{}", key, r.ours.empty() ? "" : " (" + r.ours + ")"));
      continue;
    }
    auto got = shapes.dims(*r.edge);
    if (!got) {
      problems.push_back(fmt::format("'{}' ({}): expected {} but inference gives {}", key, r.ours, want.dump(),
                                     shapes.str(*r.edge)));
      continue;
    }
    if (r.reversed) std::reverse(got->begin(), got->end());
    const bool legacy_scalar = want.is_array() && want.size() == 1 && want[0] == 1 && got->empty();
    bool ok = want.is_array() && (legacy_scalar || want.size() == got->size());
    for (size_t i = 0; ok && !legacy_scalar && i < want.size(); ++i) {
      const json& w = want[i];
      const auto& g = (*got)[i];
      if (w.is_number_integer()) {
        ok = g.value && *g.value == w.get<int64_t>();
      } else if (w.is_null()) {
        ok = !g.value;
      } else if (w.is_string()) {
        const std::string sym = w.get<std::string>();
        const auto s = symbol_to_dim.emplace(sym, g.id).first;
        const auto d = dim_to_symbol.emplace(g.id, sym).first;
        ok = !g.value && s->second == g.id && d->second == sym;
      } else {
        ok = false;
      }
    }
    if (!ok)
      problems.push_back(fmt::format("'{}' ({}{}): expected {} but inference gives {}", key, r.ours,
                                     r.reversed ? ", reversed" : "", want.dump(), dims_str(*got)));
  }
  if (problems.empty()) return std::nullopt;
  return fmt::format("{}", fmt::join(problems, "; "));
}

}  // namespace mithril::conformance
