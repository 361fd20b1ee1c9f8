// Reverse-mode automatic differentiation as a graph transform.
//
// vjp() appends to the graph the nodes that compute the vector-Jacobian product of `outputs`
// with the given cotangents, using each op's gradient rule (Op::vjp), which is itself written
// with registered ops. There is no tape: the result is ordinary graph values that the passes
// and any backend treat like the forward graph.
#pragma once

#include <optional>
#include <vector>

#include "mithril/ir/ir.h"

namespace mithril {

// Returns d<outputs, cotangents>/d(wrt) for each wrt value. An output whose cotangent is
// nullopt contributes nothing. A wrt value that no output depends on (or that only reaches
// the outputs through non-differentiable ops) gets nullopt: its gradient is zero.
// Gradients of broadcast uses are summed back to the value's shape; multiple uses add up.
std::vector<std::optional<Var>> vjp(Graph& graph, const std::vector<Var>& outputs,
                                    const std::vector<std::optional<Var>>& cotangents, const std::vector<Var>& wrt);

}  // namespace mithril
