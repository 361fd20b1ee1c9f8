// The pass pipeline: simplify first (it exposes constants and duplicates), fold, merge equal
// nodes, drop what no output needs, then fuse what is left.
#include "mithril/graph/passes.h"

namespace mithril {

std::vector<PassStat> optimize(GraphProgram& program, const PassOptions& options, const NodeEvaluator& evaluate) {
  std::vector<PassStat> stats;
  auto run = [&](const char* name, bool enabled, auto&& pass) {
    if (!enabled) return;
    const size_t before = program.graph->nodes().size();
    program = pass(program);
    stats.push_back({name, before, program.graph->nodes().size()});
  };
  run("algebraic_simplification", options.graph_optimization, algebraic_simplification);
  run("constant_folding", options.constant_folding && evaluate,
      [&](const GraphProgram& p) { return constant_folding(p, evaluate); });
  run("common_subexpression", options.common_subexpression, common_subexpression_elimination);
  run("dead_code_elimination", options.dead_code_elimination, dead_code_elimination);
  // Fusion needs exact use counts: without the pass above it drops dead nodes itself first.
  // Afterwards, transposes that fused products read in place are dead.
  const bool dead_code_gone = options.dead_code_elimination;
  run("operator_fusion", options.operator_fusion, [dead_code_gone](const GraphProgram& p) {
    if (dead_code_gone) return dead_code_elimination(operator_fusion(p));
    return dead_code_elimination(operator_fusion(dead_code_elimination(p)));
  });
  return stats;
}

}  // namespace mithril
