#include "mithril/backends/cpu/cpu_backend.h"

#include "mithril/backends/cpu/executor.h"
#include "mithril/backends/cpu/registry.h"

namespace mithril {

namespace {

const Backend::Capabilities& capabilities() {
  static const Backend::Capabilities caps{
      "cpu", {"cpu"}, {DType::f64, DType::f32, DType::bf16, DType::f16}, {}};
  return caps;
}

}  // namespace

CpuBackend::CpuBackend(const BackendOptions& options, FromOptions) : Backend(options, capabilities()) {}

CpuBackend::CpuBackend(CpuOptions options)
    : CpuBackend(BackendOptions{options.precision, std::move(options.device), options.mem_size, {}}, FromOptions{}) {}

BackendPtr CpuBackend::from_options(const BackendOptions& options) {
  return std::shared_ptr<const CpuBackend>(new CpuBackend(options, FromOptions{}));
}

const KernelTable& CpuBackend::kernels() const { return cpu::kernel_table(); }

std::unique_ptr<Executable> CpuBackend::compile(const GraphProgram& program, const ExecutableOptions& options) const {
  cpu::ExecutorOptions eo;
  eo.profile = options.profile;
  eo.trace_runs = options.trace_runs;
  eo.check_numerics = options.check_numerics;
  eo.isa_cap = options.isa_cap;
  eo.mem_size = this->options().mem_size;
  return std::make_unique<cpu::Executor>(*program.graph, program.outputs, eo);
}

void register_cpu_backend(BackendRegistry& registry) {
  registry.add({"cpu", "our CPU kernels: AVX2/AVX-512 picked at run time, threads, fused kernels, one arena per program",
                &CpuBackend::from_options, &cpu::kernel_table});
}

}  // namespace mithril
