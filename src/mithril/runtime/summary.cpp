#include "mithril/runtime/summary.h"

#include <algorithm>
#include <set>

#include "mithril/core/error.h"
#include "mithril/logical/flatten.h"
#include "mithril/logical/shape_inference.h"
#include "mithril/runtime/compile.h"

namespace mithril {

namespace {

std::string short_json(const logical::json& v) {
  std::string s = v.dump();
  constexpr size_t kMax = 24;
  return s.size() <= kMax ? s : s.substr(0, kMax - 3) + "...";
}

// Left-aligned columns, two spaces apart, under a header row.
std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows)
    for (size_t c = 0; c < r.size(); ++c) {
      if (width.size() <= c) width.push_back(0);
      width[c] = std::max(width[c], r[c].size());
    }
  std::string out;
  for (const auto& r : rows) {
    std::string line = " ";
    for (size_t c = 0; c < r.size(); ++c) line += fmt::format(" {:<{}}", r[c], c + 1 < r.size() ? width[c] + 1 : 0);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

}  // namespace

ModelSummary summarize(const logical::Model& model, const std::map<std::string, Shape>& input_shapes, bool gradients,
                       const CompileOptions& base) {
  CompileOptions options = base;
  options.safe_names = false;  // a summary lists the keys, generated names included
  const PhysicalModel pm = compile(model, options);
  const logical::FlatModel& flat = pm.flat_model();
  std::map<std::string, PhysicalModel::KeyInfo> infos;
  if (!input_shapes.empty()) infos = pm.infer_shapes(input_shapes);
  logical::SymbolicShapes symbolic(flat);
  for (const auto& [key, shape] : input_shapes) symbolic.constrain(*flat.find(key), shape, "the shape given for '" + key + "'");
  const std::set<std::string> trainable(pm.trainable_keys().begin(), pm.trainable_keys().end());
  const std::set<logical::EdgeId> outputs(flat.outputs.begin(), flat.outputs.end());

  ModelSummary s;
  s.with_shapes = !input_shapes.empty();
  std::vector<logical::EdgeId> order;
  std::set<logical::EdgeId> seen;
  auto use = [&](logical::EdgeId e) {
    if (seen.insert(e).second) order.push_back(e);
  };
  for (const logical::PrimCall& call : flat.calls) {
    ModelSummary::Call c{call.path, call.def.name, {}};
    for (const logical::PortDef& p : call.def.ports) {
      const logical::EdgeId e = call.ports.at(p.name);
      c.ports.emplace_back(p.name, flat.name(e));
      use(e);
    }
    s.calls.push_back(std::move(c));
  }
  for (const auto& [name, e] : flat.keys) use(e);

  for (logical::EdgeId e : order) {
    const logical::Edge& edge = flat.edges[static_cast<size_t>(e)];
    ModelSummary::Key k;
    k.name = edge.name;
    if (outputs.count(e)) k.role = "output";
    else if (edge.producer >= 0) k.role = "internal";
    else if (edge.value) k.role = "constant";
    else k.role = "input";
    k.trainable = trainable.count(edge.name) > 0;
    if (edge.value) k.value = short_json(*edge.value);
    k.is_tensor = edge.kind != logical::PortKind::scalar_input;
    if (k.is_tensor) k.symbolic = symbolic.str(e);
    if (const auto it = infos.find(edge.name); it != infos.end()) {
      k.shape = it->second.shape;
      k.dtype = it->second.dtype;
    }
    s.keys.push_back(std::move(k));
  }
  if (!input_shapes.empty()) {
    for (const std::string& key : pm.input_keys())
      if (!input_shapes.count(key) || flat.edges[static_cast<size_t>(*flat.find(key))].kind != logical::PortKind::tensor_input)
        s.inputs_without_shape.push_back(key);
    if (s.inputs_without_shape.empty()) s.program = pm.program_report(input_shapes, gradients);
    s.program_gradients = gradients;
  }
  return s;
}

std::string format_program_report(const ProgramReport& r, bool gradients) {
  std::vector<std::vector<std::string>> passes = {{"pass", "nodes before", "nodes after"}};
  for (const ProgramReport::Pass& p : r.passes)
    passes.push_back({p.name, std::to_string(p.nodes_before), std::to_string(p.nodes_after)});
  auto bytes = [](int64_t b) { return fmt::format("{} B", b); };
  std::vector<std::vector<std::string>> plan = {
      {"intermediate buffers", std::to_string(r.buffers)},
      {"arena", bytes(r.arena_bytes)},
      {"outputs", bytes(r.output_bytes)},
      {"planned peak (arena + outputs)", bytes(r.planned_peak_bytes)},
      {"naive (every buffer separately)", bytes(r.naive_bytes)},
      {"lower bound (most bytes live at once)", bytes(r.lower_bound_bytes)}};
  return fmt::format("program ({}): {} kernel steps after the passes\n{}\nmemory plan:\n{}{}",
                     gradients ? "forward + gradients" : "forward", r.nodes, table(passes), table(plan),
                     r.backend_report.empty() ? "" : "\n" + r.backend_report);
}

std::string format_summary(const ModelSummary& s) {
  std::vector<std::vector<std::string>> calls = {{"#", "path", "model", "ports (port -> key)"}};
  for (size_t i = 0; i < s.calls.size(); ++i) {
    std::string ports;
    for (const auto& [port, key] : s.calls[i].ports)
      ports += fmt::format("{}{} -> {}", ports.empty() ? "" : ", ", port, key);
    calls.push_back({std::to_string(i), s.calls[i].path.empty() ? "-" : s.calls[i].path, s.calls[i].model, ports});
  }
  std::vector<std::vector<std::string>> keys = {{"key", "role", "trainable", "value", "shape"}};
  if (s.with_shapes) keys[0].push_back("dtype");
  for (const ModelSummary::Key& k : s.keys) {
    std::vector<std::string> row = {k.name, k.role, k.trainable ? "yes" : "no", k.value.value_or("-"),
                                    !k.is_tensor ? "-" : k.shape ? shape_str(*k.shape) : k.symbolic};
    if (s.with_shapes) row.push_back(!k.is_tensor ? "-" : k.dtype ? std::string(dtype_name(*k.dtype)) : "?");
    keys.push_back(std::move(row));
  }
  std::string out = fmt::format("primitive calls ({}):\n{}\nkeys ({}):\n{}", s.calls.size(), table(calls),
                                s.keys.size(), table(keys));
  if (s.program) out += "\n" + format_program_report(*s.program, s.program_gradients);
  else if (!s.inputs_without_shape.empty())
    out += fmt::format("\nno program: give --shapes for every tensor input (missing: {})\n",
                       fmt::join(s.inputs_without_shape, ", "));
  return out;
}

}  // namespace mithril
