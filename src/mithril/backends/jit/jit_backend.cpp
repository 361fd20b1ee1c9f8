#include "mithril/backends/jit/jit_backend.h"

#include <fmt/format.h>

#include "mithril/backends/jit/jit_executable.h"
#include "mithril/core/error.h"

namespace mithril {
namespace {

const Backend::Capabilities& capabilities() {
  static const Backend::Capabilities caps{"jit", {"cpu"}, {DType::f64, DType::f32}, {}};
  return caps;
}

const KernelTable& cpu_kernels() { return BackendRegistry::instance().find("cpu").kernels(); }

// The cpu table without its 16-bit float kernels, in the same order (so the same choices).
const KernelTable& jit_kernels() {
  static const KernelTable table = [] {
    KernelTable t("jit");
    const KernelTable& cpu = cpu_kernels();
    for (int k = 0; k < kNumOps; ++k)
      for (int d = 0; d < kNumDTypes; ++d) {
        const auto kind = static_cast<OpKind>(k);
        const auto dtype = static_cast<DType>(d);
        if (dtype == DType::f16 || dtype == DType::bf16) continue;
        for (const KernelEntry& e : cpu.candidates(kind, dtype)) t.add(kind, dtype, e.fn, e.name, e.isa, e.priority);
      }
    return t;
  }();
  return table;
}

}  // namespace

JitBackend::JitBackend(const BackendOptions& options) : Backend(options, capabilities()) {}

const KernelTable& JitBackend::kernels() const { return jit_kernels(); }

std::unique_ptr<Executable> JitBackend::compile(const GraphProgram& program, const ExecutableOptions& options) const {
  const std::string& mode = options.jit.mode;
  MI_CHECK(mode == "default" || mode == "max-autotune" || mode == "reduce-overhead", ValueError,
           "[backend jit] jit_options.mode '{}' is not a mode (modes: default, max-autotune, reduce-overhead)", mode);
  return std::make_unique<jit::JitExecutable>(*program.graph, program.outputs, options, jit_kernels(), this->options().mem_size);
}

void register_jit_backend(BackendRegistry& registry) {
  registry.add({"jit", "generated C++ for the program (fused loops, cpu kernels for the rest), compiled once and cached",
                &JitBackend::make, &jit_kernels});
}

}  // namespace mithril
