// The C++ source of a planned program. Regions (elementwise nodes and fused elementwise chains
// of float32/float64, their operands the output's shape, one element, one row or one column) become
// loops whose intermediates are local variables, so they stay in registers; every other step is a
// call back into the host (the cpu backend's kernel for the node). Arena values are fixed offsets
// of one arena pointer; inputs, outputs and constants are read through an io table bound per run.
// The source is freestanding (no headers), which keeps compiling it fast.
#pragma once

#include <string>
#include <vector>

#include "mithril/backends/jit/plan.h"

namespace mithril::jit {

// Whether the generator makes a loop of `node` (and so the plan marks it generated).
bool can_generate(const Graph& graph, const Node& node);

struct GeneratedSource {
  std::string text;
  std::vector<int> region_step;   // per region: its plan step
  std::vector<long> region_rows;  // per region: the parallel range (rows or elements)
  std::vector<long> region_grain; // per region: default chunk of that range per task
};

// `key_placeholder` is written as the program's key string; the cache replaces it by the key
// (which hashes the rest of the text) before compiling.
GeneratedSource generate_source(const Graph& graph, const Plan& plan, const std::string& title);

// The text the key of a source replaces in it.
inline constexpr const char* kKeyPlaceholder = "@MITHRIL_JIT_KEY@";

}  // namespace mithril::jit
