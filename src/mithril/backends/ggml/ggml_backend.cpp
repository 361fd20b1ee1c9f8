#include "mithril/backends/ggml/ggml_backend.h"

#include "mithril/backends/ggml/ggml_executable.h"
#include "mithril/core/error.h"
#include "mithril/ir/ir.h"

namespace mithril {

namespace {

const Backend::Capabilities& capabilities() {
  static const Backend::Capabilities caps{"ggml", {"cpu"}, {DType::f32, DType::f64}, {"int8", "q8_0", "q4_0"}};
  return caps;
}

// The float kernels are the cpu backend's, found through the registry: a backend includes no
// other backend's headers.
const KernelTable& cpu_kernels() { return BackendRegistry::instance().find("cpu").kernels(); }

}  // namespace

GgmlBackend::GgmlBackend(const BackendOptions& options, FromOptions) : Backend(options, capabilities()) {}

GgmlBackend::GgmlBackend(GgmlOptions options)
    : GgmlBackend(BackendOptions{options.precision, "cpu", options.mem_size, std::move(options.quantize)},
                  FromOptions{}) {}

BackendPtr GgmlBackend::from_options(const BackendOptions& options) {
  return std::shared_ptr<const GgmlBackend>(new GgmlBackend(options, FromOptions{}));
}

const KernelTable& GgmlBackend::kernels() const { return cpu_kernels(); }

PassOptions GgmlBackend::passes(const PassOptions& requested) const {
  PassOptions p = requested;
  p.operator_fusion = false;
  return p;
}

std::unique_ptr<Executable> GgmlBackend::compile(const GraphProgram& program, const ExecutableOptions& options) const {
  ggml::PlanOptions po;
  if (!this->options().quantize.empty()) po.quantize = ggml::parse_quant_type(this->options().quantize);
  po.mem_size = this->options().mem_size;
  po.exec = options;
  return std::make_unique<ggml::GgmlExecutable>(*program.graph, program.outputs, kernels(), po);
}

void register_ggml_backend(BackendRegistry& registry) {
  registry.add({"ggml",
                "quantized inference: constant product weights in GGUF blocks (q8_0, q4_0) on int8 kernels, the rest "
                "on the cpu kernels in float32/float64, one arena per program",
                &GgmlBackend::from_options, &cpu_kernels});
}

}  // namespace mithril
