// Graph optimization passes and the pipeline that runs them. Every pass maps a program (graph +
// fetched values) to an equivalent one; one pass per file under graph/passes/. Passes that
// evaluate kernels (constant folding) take the evaluator from the caller, so the graph layer
// stays independent of any backend.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "mithril/graph/rewrite.h"

namespace mithril {

struct PassOptions {
  bool constant_folding = true;
  bool operator_fusion = true;
  bool dead_code_elimination = true;
  bool common_subexpression = true;
  bool graph_optimization = true;  // algebraic simplification, transpose/reshape folding
};

struct PassStat {
  std::string name;
  size_t nodes_before = 0, nodes_after = 0;
};

// Computes a node's outputs from constant inputs (the backend's kernels).
using NodeEvaluator = std::function<std::vector<Tensor>(const Node& node, const Graph& graph, const std::vector<Tensor>& inputs)>;

// The passes (graph/passes/<name>.cpp).
GraphProgram dead_code_elimination(const GraphProgram& p);
GraphProgram common_subexpression_elimination(const GraphProgram& p);
// Folds nodes whose inputs are all constants, unless the result would exceed `max_elements`.
GraphProgram constant_folding(const GraphProgram& p, const NodeEvaluator& evaluate, int64_t max_elements = int64_t{1} << 20);
GraphProgram algebraic_simplification(const GraphProgram& p);
GraphProgram operator_fusion(const GraphProgram& p);
// Horizontal fusion: products of one operand by several weights become one product. Runs on the
// forward graph before autodiff (runtime/compile.cpp), not in optimize().
GraphProgram merge_parallel_products(const GraphProgram& p);

// Runs the enabled passes in order (simplify, fold, CSE, DCE, fuse, DCE) and records node
// counts around each. `evaluate` may be empty when constant folding is off.
std::vector<PassStat> optimize(GraphProgram& program, const PassOptions& options, const NodeEvaluator& evaluate);

}  // namespace mithril
