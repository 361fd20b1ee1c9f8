// The StepInfo of a graph node before a backend picks its kernel: the node, its op and the
// shapes and dtypes of its inputs and outputs. Every backend's plan starts from it.
#pragma once

#include "mithril/backends/executable.h"
#include "mithril/ir/ir.h"

namespace mithril {

StepInfo step_info_of(const Graph& graph, NodeId node);

}  // namespace mithril
