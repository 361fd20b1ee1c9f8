#include "mithril/backends/kernel_table.h"

#include <algorithm>

#include "mithril/core/error.h"
#include "mithril/ir/ir.h"

namespace mithril {

KernelTable::KernelTable(std::string backend)
    : backend_(std::move(backend)), table_(static_cast<size_t>(kNumOps * kNumDTypes)) {}

void KernelTable::add(OpKind kind, DType dtype, KernelFn fn, std::string name, Isa isa, int priority) {
  auto& list = table_[static_cast<size_t>(kind) * kNumDTypes + static_cast<size_t>(dtype)];
  list.push_back({fn, std::move(name), isa, priority});
  std::stable_sort(list.begin(), list.end(), [](const KernelEntry& a, const KernelEntry& b) { return a.priority > b.priority; });
}

const std::vector<KernelEntry>& KernelTable::candidates(OpKind kind, DType dtype) const {
  return table_[static_cast<size_t>(kind) * kNumDTypes + static_cast<size_t>(dtype)];
}

const KernelEntry& KernelTable::find(OpKind kind, DType dtype, IsaLevel cap) const {
  const auto& list = candidates(kind, dtype);
  for (const KernelEntry& e : list)
    if (cpu_has(e.isa, cap)) return e;
  MI_THROW(KernelError, "[{}] no kernel for dtype {} on backend {}{}", op_name(kind), dtype_name(dtype), backend_,
           list.empty() ? "" : " (registered kernels need an instruction set this CPU lacks)");
}

bool KernelTable::has(OpKind kind, DType dtype) const {
  const auto& list = candidates(kind, dtype);
  return std::any_of(list.begin(), list.end(), [](const KernelEntry& e) { return cpu_has(e.isa); });
}

void add_for_dtypes(KernelTable& t, OpKind kind, std::initializer_list<DType> dtypes, KernelFn fn, const char* name) {
  for (DType d : dtypes) t.add(kind, d, fn, fmt::format("{}_{}", name, dtype_name(d)));
}

std::vector<Tensor> run_node(const KernelTable& kernels, const Node& node, const Graph& graph,
                             const std::vector<Tensor>& inputs) {
  std::vector<DType> in_dtypes, out_dtypes;
  for (ValueId v : node.inputs) in_dtypes.push_back(graph.value(v).dtype);
  for (ValueId v : node.outputs) out_dtypes.push_back(graph.value(v).dtype);
  const KernelEntry& k = kernels.find(*node.op, in_dtypes, out_dtypes);
  std::vector<Tensor> ins, outs;
  for (const Tensor& t : inputs) ins.push_back(t.contiguous());
  for (ValueId v : node.outputs) outs.push_back(Tensor::empty(graph.value(v).shape, graph.value(v).dtype));
  k.fn(*node.op, ins, outs);
  return outs;
}

}  // namespace mithril
