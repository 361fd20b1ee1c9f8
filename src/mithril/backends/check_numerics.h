// The `check_numerics` compile option (and MITHRIL_CHECK_NUMERICS=1): a backend's run loop calls
// this after every step when ExecutableOptions::check_numerics is set, so a run stops at the
// first node that writes NaN or Inf instead of carrying it to the loss. Off, nothing is called.
#pragma once

#include <span>

#include "mithril/core/tensor.h"
#include "mithril/ir/ir.h"

namespace mithril {

// Throws ValueError "[check_numerics] node 12 (log) wrote -inf at index 1 of output 0 (shape
// (2,3), f32), its inputs (2,3) f32: the first node to produce NaN or Inf" when a floating-point
// output holds a NaN or an infinity; integer and bool outputs pass.
void check_step_numerics(const Graph& graph, NodeId node, std::span<const Tensor> outputs);

}  // namespace mithril
