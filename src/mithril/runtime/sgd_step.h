// Plain SGD for benchmarks and examples: param -= lr * grad, in place. A stand-in until the
// optimizer library exists; it is deliberately one small function so callers can switch.
#pragma once

#include "mithril/runtime/compile.h"

namespace mithril {

// Updates every tensor of `params` that has a gradient in `grads` (same shape; the gradient is
// converted to the parameter's dtype). Throws ShapeError on a shape mismatch.
void sgd_step(DataMap& params, const DataMap& grads, double learning_rate);

}  // namespace mithril
