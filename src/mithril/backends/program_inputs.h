// The check an executable makes of the tensors run() is given: one per graph input, defined, of
// the shape and dtype the program was built for. `who` opens each message ("[executor]").
#pragma once

#include <span>
#include <string_view>

#include "mithril/core/tensor.h"
#include "mithril/ir/ir.h"

namespace mithril {

void check_program_inputs(const Graph& graph, std::span<const Tensor* const> inputs, std::string_view who);

}  // namespace mithril
