// The reference backend's kernels, one registration function per op family
// (src/mithril/backends/reference/<family>.cpp). Every kernel reads its inputs as float64,
// computes in float64 with plain scalar loops and converts into the output dtype.
#pragma once

#include "mithril/backends/kernel_table.h"

namespace mithril::reference {

void register_unary_kernels(KernelTable& t);
void register_binary_kernels(KernelTable& t);
void register_reduce_kernels(KernelTable& t);
void register_shape_kernels(KernelTable& t);
void register_linalg_kernels(KernelTable& t);
void register_conv_kernels(KernelTable& t);
void register_loss_kernels(KernelTable& t);

}  // namespace mithril::reference
