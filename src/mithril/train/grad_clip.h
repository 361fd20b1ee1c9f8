// Gradient clipping, as torch.nn.utils.clip_grad_norm_ / clip_grad_value_.
#pragma once

#include "mithril/train/optimizer.h"

namespace mithril::train {

// Scales every gradient by max_norm / (norm + 1e-6) when the global L2 norm over all of them
// exceeds max_norm; returns the norm before clipping. A non-finite norm is a ValueError naming it
// (clipping cannot repair NaN/inf gradients).
double clip_grad_norm(TensorMap& grads, double max_norm);

// Clamps every gradient element to [-clip_value, clip_value].
void clip_grad_value(TensorMap& grads, double clip_value);

// The global L2 norm of the gradients (float64 accumulation).
double grad_norm(const TensorMap& grads);

}  // namespace mithril::train
