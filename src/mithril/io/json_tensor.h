// Tensors as JSON nested lists (the form Mithril's model dicts and test files use).
#pragma once

#include <nlohmann/json.hpp>

#include "mithril/core/tensor.h"

namespace mithril::io {

// A number becomes a 0-d tensor, [..] a tensor whose shape is the nesting (must be
// rectangular); booleans become 1/0. Throws ValueError naming the problem.
Tensor tensor_from_json(const nlohmann::ordered_json& value, DType dtype);
nlohmann::ordered_json tensor_to_json(const Tensor& t);

}  // namespace mithril::io
