#include "mithril/backends/reference/reference_backend.h"

#include "mithril/backends/reference/interpreter.h"
#include "mithril/core/error.h"
#include "mithril/ir/ir.h"

namespace mithril {

namespace {

const Backend::Capabilities& capabilities() {
  static const Backend::Capabilities caps{
      "reference", {"cpu"}, {DType::f64, DType::f32, DType::bf16, DType::f16}, {}};
  return caps;
}

}  // namespace

ReferenceBackend::ReferenceBackend(const BackendOptions& options, FromOptions) : Backend(options, capabilities()) {}

ReferenceBackend::ReferenceBackend(ReferenceOptions options)
    : ReferenceBackend(BackendOptions{options.precision, std::move(options.device), 0, {}}, FromOptions{}) {}

BackendPtr ReferenceBackend::from_options(const BackendOptions& options) {
  return std::shared_ptr<const ReferenceBackend>(new ReferenceBackend(options, FromOptions{}));
}

const KernelTable& ReferenceBackend::kernels() const { return reference::kernel_table(); }

Support ReferenceBackend::supports(const Graph& graph, const Node& node) const {
  if (op_info(node.op->kind()).family == "fused")
    return Support::no(fmt::format("{} is made by operator fusion, which the reference backend turns off: it runs "
                                   "the unfused graph",
                                   node.op->name()));
  return Backend::supports(graph, node);
}

PassOptions ReferenceBackend::passes(const PassOptions& requested) const {
  PassOptions p = requested;
  p.operator_fusion = false;
  return p;
}

std::unique_ptr<Executable> ReferenceBackend::compile(const GraphProgram& program,
                                                      const ExecutableOptions& options) const {
  auto exe = std::make_unique<reference::Interpreter>(*program.graph, program.outputs, kernels(), options);
  const int64_t cap = this->options().mem_size;
  MI_CHECK(cap <= 0 || exe->planned_peak_bytes() <= cap, ValueError,
           "[compile] the reference backend keeps every value of a run: {} bytes ({} for intermediates, {} for "
           "outputs) but mem_size is {}",
           exe->planned_peak_bytes(), exe->memory_plan().arena_bytes, exe->output_bytes(), cap);
  return exe;
}

void register_reference_backend(BackendRegistry& registry) {
  registry.add({"reference",
                "plain scalar loops in float64, no threads, no fusion: the oracle of the cross-backend op test",
                &ReferenceBackend::from_options, &reference::kernel_table});
}

}  // namespace mithril
