// The CPU backend's kernel table: built on first use from one registration function per op
// family (src/mithril/backends/cpu/<family>.cpp). Kernels are tagged with the instruction set
// they need (AVX2+FMA, ...) and a priority; lookups pick the best this machine runs
// (MITHRIL_ISA caps it).
#pragma once

#include "mithril/backends/kernel_table.h"

namespace mithril::cpu {

const KernelTable& kernel_table();

// One registration function per op family (src/mithril/backends/cpu/<family>.cpp).
void register_unary_kernels(KernelTable& r);
void register_binary_kernels(KernelTable& r);
void register_reduce_kernels(KernelTable& r);
void register_shape_kernels(KernelTable& r);
void register_linalg_kernels(KernelTable& r);
void register_conv_kernels(KernelTable& r);
void register_loss_kernels(KernelTable& r);
void register_fused_kernels(KernelTable& r);  // fused_kernels.cpp: ops made by operator fusion
// f16/bf16 kernels (float32 compute) for every op with a float32 kernel and no 16-bit one.
void register_low_precision_kernels(KernelTable& r);

}  // namespace mithril::cpu
