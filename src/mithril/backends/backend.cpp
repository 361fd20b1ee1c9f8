#include "mithril/backends/backend.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>

#include "mithril/core/error.h"
#include "mithril/ir/ir.h"

namespace mithril {

std::string_view precision_name(DType dtype) {
  switch (dtype) {
    case DType::f64: return "float64";
    case DType::f32: return "float32";
    case DType::bf16: return "bfloat16";
    case DType::f16: return "float16";
    default: return dtype_name(dtype);
  }
}

Backend::Backend(BackendOptions options, const Capabilities& caps)
    : options_(std::move(options)), devices_(caps.devices) {
  const DType p = options_.precision;
  if (std::find(caps.precisions.begin(), caps.precisions.end(), p) == caps.precisions.end()) {
    std::vector<std::string_view> names;
    for (DType d : caps.precisions) names.push_back(precision_name(d));
    MI_THROW(ValueError, "[backend {}] precision {} is not available (precisions: {})", caps.name, precision_name(p),
             fmt::join(names, ", "));
  }
  std::string device = options_.device;
  std::transform(device.begin(), device.end(), device.begin(), [](unsigned char c) { return std::tolower(c); });
  if (std::find(devices_.begin(), devices_.end(), device) == devices_.end()) {
    const bool accelerator = device.starts_with("cuda") || device.starts_with("gpu") || device.starts_with("tpu") ||
                             device.starts_with("mps") || device.starts_with("metal");
    MI_THROW(ValueError, "[backend {}] device '{}' is not available: {} (devices: {})", caps.name, options_.device,
             accelerator ? "this build has no GPU or TPU backend" : "not a device of this backend",
             fmt::join(devices_, ", "));
  }
  options_.device = device;
  MI_CHECK(options_.mem_size >= 0, ValueError, "[backend {}] mem_size must be >= 0 bytes, got {}", caps.name,
           options_.mem_size);
  if (!options_.quantize.empty() &&
      std::find(caps.quantizations.begin(), caps.quantizations.end(), options_.quantize) == caps.quantizations.end()) {
    MI_THROW(ValueError, "[backend {}] quantize '{}' is not available: {}", caps.name, options_.quantize,
             caps.quantizations.empty()
                 ? std::string("this backend computes in floating point only (float64, float32, bfloat16, float16)")
                 : fmt::format("formats: {}", fmt::join(caps.quantizations, ", ")));
  }
}

Support Backend::supports(const Graph& graph, const Node& node) const {
  std::vector<DType> in, out;
  for (ValueId v : node.inputs) in.push_back(graph.value(v).dtype);
  for (ValueId v : node.outputs) out.push_back(graph.value(v).dtype);
  const DType d = node.op->dispatch_dtype(in, out);
  if (kernels().has(node.op->kind(), d)) return Support::yes();
  return Support::no(kernels().candidates(node.op->kind(), d).empty()
                         ? fmt::format("no {} kernel for dtype {}", node.op->name(), dtype_name(d))
                         : fmt::format("the {} kernels for dtype {} need an instruction set this CPU lacks",
                                       node.op->name(), dtype_name(d)));
}

std::vector<Tensor> Backend::run_node(const Node& node, const Graph& graph, const std::vector<Tensor>& inputs) const {
  return mithril::run_node(kernels(), node, graph, inputs);
}

void BackendRegistry::add(BackendInfo info) {
  MI_ASSERT(std::none_of(backends_.begin(), backends_.end(), [&](const BackendInfo& b) { return b.name == info.name; }));
  backends_.push_back(std::move(info));
}

std::vector<std::string> BackendRegistry::names() const {
  std::vector<std::string> n;
  for (const BackendInfo& b : backends_) n.push_back(b.name);
  return n;
}

const BackendInfo& BackendRegistry::find(std::string_view name) const {
  for (const BackendInfo& b : backends_)
    if (b.name == name) return b;
  MI_THROW(KeyError, "backend '{}' is not available in this build (backends: {})", name, fmt::join(names(), ", "));
}

}  // namespace mithril
