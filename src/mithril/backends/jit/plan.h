// The static plan of a program for the jit backend: the steps the outputs need (each a CPU
// kernel of the cpu backend's table, or a region the generator turns into a loop), every
// intermediate at a fixed offset of one arena (graph/memory_plan.h, with the cpu executor's rules:
// reshapes of a dying buffer alias it, elementwise steps may write over an input whose last use
// they are), and the io slots the generated code reads the bound tensors through.
#pragma once

#include <vector>

#include "mithril/backends/executable.h"
#include "mithril/graph/memory_plan.h"
#include "mithril/ir/ir.h"

namespace mithril::jit {

// Where the data of a value lives during a run.
enum class Place { none, arena, input, output, constant };

struct PlanStep {
  NodeId node;
  const Op* op;
  KernelFn fn;         // the CPU kernel (host steps; generated steps keep it for reference only)
  bool generated;      // a region of generated code
  bool aliased;        // a reshape/identity over a dying buffer: nothing to run
  uint32_t in_begin, n_in, out_begin, n_out;  // argument ranges of arg_values
};

struct Plan {
  std::vector<PlanStep> steps;
  std::vector<StepInfo> info;
  std::vector<ValueId> arg_values;  // the value at every argument position
  std::vector<Place> place;         // per value
  std::vector<int> buffer_of;       // per value: arena buffer or -1
  std::vector<int> slot;            // per value: io slot (input, output, constant) or -1
  MemoryPlan memory;
  std::vector<ValueId> io_values;   // per io slot: inputs (graph order), produced outputs, constants
  size_t n_inputs = 0, n_outputs = 0;  // io slots [0, n_inputs) are inputs, then n_outputs outputs
  // Per fetched output: its io slot (inputs, produced outputs and constants alike).
  std::vector<int> output_slot;
  int64_t output_bytes = 0;

  int64_t arena_offset(ValueId v) const {
    const int b = buffer_of[static_cast<size_t>(v)];
    return b < 0 ? -1 : memory.offsets[static_cast<size_t>(b)];
  }
};

// `generated_node[n]`: node n becomes a region of generated code. `donated[i]`: graph input i
// may be overwritten once read (elementwise steps write over it at its last use, as over a dying
// intermediate). Kernels come from `kernels` (the cpu backend's table).
Plan make_plan(const Graph& graph, const std::vector<ValueId>& outputs, const KernelTable& kernels,
               const std::vector<bool>& generated_node, const std::vector<bool>& donated);

}  // namespace mithril::jit
