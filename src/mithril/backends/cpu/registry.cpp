#include "mithril/backends/cpu/registry.h"

#include <algorithm>

#include "mithril/core/error.h"

namespace mithril::cpu {

KernelRegistry& KernelRegistry::instance() {
  static KernelRegistry r;
  return r;
}

KernelRegistry::KernelRegistry() : table_(static_cast<size_t>(kNumOps * kNumDTypes)) {
  register_unary_kernels(*this);
  register_binary_kernels(*this);
  register_reduce_kernels(*this);
  register_shape_kernels(*this);
  register_linalg_kernels(*this);
  register_conv_kernels(*this);
  register_loss_kernels(*this);
  register_fused_kernels(*this);
  register_low_precision_kernels(*this);  // last: wraps the float32 kernels registered above
}

void KernelRegistry::add(OpKind kind, DType dtype, KernelFn fn, std::string name, Isa isa, int priority) {
  auto& list = table_[static_cast<size_t>(kind) * kNumDTypes + static_cast<size_t>(dtype)];
  list.push_back({fn, std::move(name), isa, priority});
  std::stable_sort(list.begin(), list.end(), [](const KernelEntry& a, const KernelEntry& b) { return a.priority > b.priority; });
}

const KernelEntry& KernelRegistry::find(OpKind kind, DType dtype) const {
  const auto& list = table_[static_cast<size_t>(kind) * kNumDTypes + static_cast<size_t>(dtype)];
  for (const KernelEntry& e : list)
    if (cpu_has(e.isa)) return e;
  MI_THROW(KernelError, "[{}] no kernel for dtype {} on backend cpu{}", op_name(kind), dtype_name(dtype),
           list.empty() ? "" : " (registered kernels need an instruction set this CPU lacks)");
}

bool KernelRegistry::has(OpKind kind, DType dtype) const {
  const auto& list = table_[static_cast<size_t>(kind) * kNumDTypes + static_cast<size_t>(dtype)];
  return std::any_of(list.begin(), list.end(), [](const KernelEntry& e) { return cpu_has(e.isa); });
}

void add_for_dtypes(KernelRegistry& r, OpKind kind, std::initializer_list<DType> dtypes, KernelFn fn, const char* name) {
  for (DType d : dtypes) r.add(kind, d, fn, fmt::format("{}_{}", name, dtype_name(d)));
}

}  // namespace mithril::cpu
