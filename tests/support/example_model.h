// The README's example model, examples/linear_relu.json (y = relu(x @ w^T + b); x [4, 3], w [2, 3],
// b [2] in the tests), loaded from its model dict as users load it.
#pragma once

#include <string>

#include "mithril/logical/model_dict.h"

namespace mithril::testing {

inline logical::Model example_model() {
  return logical::load_model_dict(std::string(MITHRIL_SOURCE_DIR) + "/examples/linear_relu.json");
}

}  // namespace mithril::testing
