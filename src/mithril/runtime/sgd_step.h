// Plain SGD for benchmarks and examples: param -= lr * grad, in place. The optimizer library
// (train/optimizer.h: SGD with momentum, Adam, ...) sits above runtime/, which cannot depend on
// it; the benchmarks keep this step because Mithril's speed benchmarks train with plain SGD, and
// one multiply-subtract per element is all that step is.
#pragma once

#include "mithril/runtime/compile.h"

namespace mithril {

// Updates every tensor of `params` that has a gradient in `grads` (same shape; the gradient is
// converted to the parameter's dtype). Throws ShapeError on a shape mismatch.
void sgd_step(DataMap& params, const DataMap& grads, double learning_rate);

}  // namespace mithril
