// Graph rewriting for the passes. Graphs are append-only, so a pass copies its source graph into
// a fresh one, node by node, deciding for each node whether to copy it, replace it, or map its
// outputs onto values that already exist. Inputs keep their order and names, so a rewritten
// graph is fed exactly like the original.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mithril/ir/ir.h"

namespace mithril {

// A graph together with the values a program fetches from it.
struct GraphProgram {
  std::unique_ptr<Graph> graph = std::make_unique<Graph>();
  std::vector<ValueId> outputs;
};

class Rewriter {
 public:
  explicit Rewriter(const GraphProgram& source);

  const Graph& source() const { return src_; }
  Graph& target() { return *dst_.graph; }
  // The target value of a source value (constants are copied on first use).
  Var map(ValueId source_value);
  bool mapped(ValueId source_value) const { return map_[static_cast<size_t>(source_value)] >= 0 || src_.is_constant(source_value); }
  void set(ValueId source_value, const Var& target_value) { map_[static_cast<size_t>(source_value)] = target_value.id(); }
  // Copies `node` with mapped inputs (shape rules run again) and maps its outputs.
  void copy(const Node& node);
  // Finishes: maps the source outputs and hands over the rewritten program.
  GraphProgram finish();

 private:
  const Graph& src_;
  std::vector<ValueId> source_outputs_;
  GraphProgram dst_;
  std::vector<ValueId> map_;
};

// Which source nodes the outputs need (backwards reachability).
std::vector<bool> needed_nodes(const Graph& graph, const std::vector<ValueId>& outputs);

}  // namespace mithril
