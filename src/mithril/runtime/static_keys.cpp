#include "mithril/runtime/static_keys.h"

#include <map>

namespace mithril {

using logical::EdgeId;
using logical::PortKind;

std::vector<std::string> static_keys(const StaticKeyQuery& q) {
  const logical::FlatModel& flat = *q.flat;
  std::vector<EdgeId> canon(flat.edges.size());
  for (size_t i = 0; i < canon.size(); ++i) canon[i] = static_cast<EdgeId>(i);
  auto root = [&](EdgeId e) { return canon[static_cast<size_t>(e)]; };

  // Merge duplicate calls. A fixed value nobody named (a port default, a literal in a
  // connection) is compared by value: two Sum calls with axis=None read equal axes. Primitives
  // built by hand (no recorded arguments) may differ in what they capture: never merged.
  std::vector<bool> live(flat.calls.size(), false);
  std::map<std::string, size_t> first_call;
  for (size_t c = 0; c < flat.calls.size(); ++c) {
    if (!q.needed_call[c]) continue;
    const logical::PrimCall& call = flat.calls[c];
    if (!call.args) {
      live[c] = true;
      continue;
    }
    std::string sig = call.def.name + "|" + call.args->dump();
    for (const auto& p : call.def.ports) {
      if (p.kind == PortKind::output) continue;
      const EdgeId e = call.ports.at(p.name);
      const logical::Edge& edge = flat.edges[static_cast<size_t>(e)];
      const bool literal = edge.value && !edge.user_named && edge.producer < 0;
      sig += "|" + p.name + (literal ? "=v" + edge.value->dump() : "=e" + std::to_string(root(e)));
    }
    const auto [it, fresh] = first_call.emplace(sig, c);
    if (fresh) {
      live[c] = true;
      continue;
    }
    const logical::PrimCall& first = flat.calls[it->second];
    for (const auto& p : call.def.ports)
      if (p.kind == PortKind::output) canon[static_cast<size_t>(call.ports.at(p.name))] = root(first.ports.at(p.name));
  }

  // Fold: a call whose inputs are all known at compile time is computed then.
  std::vector<bool> is_static(flat.edges.size(), false), folded(flat.calls.size(), false);
  for (EdgeId e : q.constants) is_static[static_cast<size_t>(e)] = true;
  for (size_t c = 0; c < flat.calls.size(); ++c) {
    if (!live[c]) continue;
    const logical::PrimCall& call = flat.calls[c];
    bool all_static = true;
    for (const auto& p : call.def.ports)
      if (p.kind != PortKind::output && !is_static[static_cast<size_t>(root(call.ports.at(p.name)))]) all_static = false;
    if (!all_static) continue;
    folded[c] = true;
    for (const auto& p : call.def.ports)
      if (p.kind == PortKind::output) is_static[static_cast<size_t>(call.ports.at(p.name))] = true;
  }

  // The frontier: folded values the runtime graph still reads or returns, plus the data inputs.
  std::set<std::string> keys;
  for (EdgeId e : q.data_inputs) keys.insert(flat.name(e));
  for (EdgeId e : q.outputs)
    if (is_static[static_cast<size_t>(root(e))]) keys.insert(flat.name(root(e)));
  for (size_t c = 0; c < flat.calls.size(); ++c) {
    if (!live[c] || folded[c]) continue;
    for (const auto& p : flat.calls[c].def.ports) {
      if (p.kind == PortKind::output) continue;
      const EdgeId e = root(flat.calls[c].ports.at(p.name));
      if (is_static[static_cast<size_t>(e)]) keys.insert(flat.name(e));
    }
  }
  return {keys.begin(), keys.end()};
}

}  // namespace mithril
