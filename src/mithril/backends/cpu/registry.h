// The CPU kernel registry: (op kind, dtype) -> an ordered list of kernels, best first, each
// tagged with the instruction set it needs. Lookup happens once when an executor is built,
// never per call. A missing kernel is a KernelError naming the op, the dtype and the backend.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "mithril/core/cpu_features.h"
#include "mithril/core/tensor.h"
#include "mithril/ir/op.h"

namespace mithril::cpu {

// Inputs are contiguous; outputs are freshly allocated contiguous tensors of the inferred
// shapes and dtypes. A kernel writes every element of its outputs.
using KernelFn = void (*)(const Op& op, std::span<const Tensor> inputs, std::span<Tensor> outputs);

struct KernelEntry {
  KernelFn fn;
  std::string name;  // e.g. "add_f32_ref", shown by MITHRIL_VERBOSE and the support matrix
  Isa isa = Isa::baseline;
  int priority = 0;  // higher wins among kernels whose ISA this machine has
};

class KernelRegistry {
 public:
  static KernelRegistry& instance();  // built on first use with every family registered

  void add(OpKind kind, DType dtype, KernelFn fn, std::string name, Isa isa = Isa::baseline, int priority = 0);
  // The best kernel for this machine; throws KernelError when none is registered.
  const KernelEntry& find(OpKind kind, DType dtype) const;
  // The kernel for a call of `op` with these input and output dtypes (the op's dispatch dtype).
  const KernelEntry& find(const Op& op, std::span<const DType> inputs, std::span<const DType> outputs) const {
    return find(op.kind(), op.dispatch_dtype(inputs, outputs));
  }
  bool has(OpKind kind, DType dtype) const;

 private:
  KernelRegistry();
  std::vector<std::vector<KernelEntry>> table_;  // [kind * kNumDTypes + dtype]
};

// Registers `fn` for each dtype in `dtypes` (fn is usually a template instantiated per dtype
// by the caller; this helper is for kernels written once for any dtype, such as copies).
void add_for_dtypes(KernelRegistry& r, OpKind kind, std::initializer_list<DType> dtypes, KernelFn fn, const char* name);

// One registration function per op family (src/mithril/backends/cpu/<family>.cpp).
void register_unary_kernels(KernelRegistry& r);
void register_binary_kernels(KernelRegistry& r);
void register_reduce_kernels(KernelRegistry& r);
void register_shape_kernels(KernelRegistry& r);
void register_linalg_kernels(KernelRegistry& r);
void register_conv_kernels(KernelRegistry& r);
void register_loss_kernels(KernelRegistry& r);
void register_fused_kernels(KernelRegistry& r);  // fused_kernels.cpp: ops made by operator fusion
// f16/bf16 kernels (float32 compute) for every op with a float32 kernel and no 16-bit one.
void register_low_precision_kernels(KernelRegistry& r);

}  // namespace mithril::cpu
