#include "mithril/logical/long_names.h"

#include <algorithm>
#include <set>

namespace mithril::logical {
namespace {

size_t depth(const std::string& path) { return static_cast<size_t>(std::count(path.begin(), path.end(), '.')); }

// `path` is `block` or lies inside it ("m0.add" inside "m0").
bool within(const std::string& path, const std::string& block) {
  return path == block || (path.size() > block.size() && path.compare(0, block.size(), block) == 0 &&
                           path[block.size()] == '.');
}

// The long name of edge `e`: "<submodel path>_<key>" by the shallowest block that has a key for
// it (the producing one among blocks of that depth); empty when no block has one.
std::string long_name(const FlatModel& flat, EdgeId e) {
  const Edge& edge = flat.edges[static_cast<size_t>(e)];
  const std::string* producer = edge.producer >= 0 ? &flat.calls[static_cast<size_t>(edge.producer)].path : nullptr;
  const FlatBlock* best = nullptr;
  const std::string* best_key = nullptr;
  for (const FlatBlock& b : flat.blocks) {  // breadth first: depths never decrease
    if (best && depth(b.path) > depth(best->path)) break;
    const std::string* key = nullptr;
    for (const auto& [k, ke] : b.keys)
      if (ke == e && (!key || k == edge.origin)) key = &k;  // the origin port's name when it has several
    if (!key) continue;
    if (!best || (producer && within(*producer, b.path) && !within(*producer, best->path))) {
      best = &b;
      best_key = key;
    }
  }
  if (!best) return "";
  std::string name = best->path;
  std::replace(name.begin(), name.end(), '.', '_');
  return name + "_" + *best_key;
}

}  // namespace

void assign_long_names(FlatModel& flat) {
  std::set<std::string> taken;
  for (const auto& [name, e] : flat.keys)
    if (flat.edges[static_cast<size_t>(e)].user_named) taken.insert(name);
  // Anonymous edges in call order (as short names are given), each once.
  const std::vector<EdgeId> anonymous = anonymous_edges_in_call_order(flat);
  for (EdgeId e : anonymous) flat.keys.erase(flat.edges[static_cast<size_t>(e)].name);
  for (EdgeId e : anonymous) {
    Edge& edge = flat.edges[static_cast<size_t>(e)];
    std::string base = long_name(flat, e);
    if (base.empty()) base = edge.name;  // no submodel has a key for it: the short name
    std::string name = base;
    for (int counter = 0; taken.count(name);) name = base + "_" + std::to_string(counter++);
    edge.name = name;
    taken.insert(name);
  }
  for (EdgeId e : anonymous) flat.keys[flat.edges[static_cast<size_t>(e)].name] = e;
}

}  // namespace mithril::logical
