// The kernels of one backend: (op kind, dtype) -> an ordered list of kernels, best first, each
// tagged with the instruction set it needs and a priority. A backend owns one table; the
// backend registry (backend.h) answers lookups keyed by (backend, op, dtype, ISA) through it.
// Lookup happens once when a program is planned, never per call. A missing kernel is a
// KernelError naming the op, the dtype and the backend.
#pragma once

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mithril/core/cpu_features.h"
#include "mithril/core/tensor.h"
#include "mithril/ir/op.h"

namespace mithril {

struct Node;  // graph/ir.h
class Graph;

// Inputs are contiguous; outputs are freshly allocated contiguous tensors of the inferred
// shapes and dtypes. A kernel writes every element of its outputs.
using KernelFn = void (*)(const Op& op, std::span<const Tensor> inputs, std::span<Tensor> outputs);

struct KernelEntry {
  KernelFn fn;
  std::string name;  // e.g. "add_f32_ref", shown by MITHRIL_VERBOSE and the support matrix
  Isa isa = Isa::baseline;
  int priority = 0;  // higher wins among kernels whose ISA this machine has
};

class KernelTable {
 public:
  explicit KernelTable(std::string backend);

  const std::string& backend() const { return backend_; }
  void add(OpKind kind, DType dtype, KernelFn fn, std::string name, Isa isa = Isa::baseline, int priority = 0);
  // The best kernel for this machine whose ISA `cap` admits (a program's target_hardware);
  // throws KernelError when none is registered.
  const KernelEntry& find(OpKind kind, DType dtype, IsaLevel cap = IsaLevel::amx) const;
  // The kernel for a call of `op` with these input and output dtypes (the op's dispatch dtype).
  const KernelEntry& find(const Op& op, std::span<const DType> inputs, std::span<const DType> outputs,
                          IsaLevel cap = IsaLevel::amx) const {
    return find(op.kind(), op.dispatch_dtype(inputs, outputs), cap);
  }
  // A kernel this machine can run is registered.
  bool has(OpKind kind, DType dtype) const;
  // Every kernel registered for (kind, dtype), best first, whatever ISA they need.
  const std::vector<KernelEntry>& candidates(OpKind kind, DType dtype) const;

 private:
  std::string backend_;
  std::vector<std::vector<KernelEntry>> table_;  // [kind * kNumDTypes + dtype]
};

// Registers `fn` for each dtype in `dtypes` (fn is usually a template instantiated per dtype
// by the caller; this helper is for kernels written once for any dtype, such as copies).
void add_for_dtypes(KernelTable& t, OpKind kind, std::initializer_list<DType> dtypes, KernelFn fn, const char* name);

// Runs one node on the given inputs with the table's kernel (constant folding, op tests).
std::vector<Tensor> run_node(const KernelTable& kernels, const Node& node, const Graph& graph,
                             const std::vector<Tensor>& inputs);

}  // namespace mithril
