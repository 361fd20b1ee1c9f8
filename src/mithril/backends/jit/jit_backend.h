// The jit backend: compile() generates one C++ translation unit for the program (codegen.h),
// builds it with the system compiler into a shared library kept in the cache (code_cache.h),
// loads it with dlopen and runs it through the Executable interface (jit_executable.h). Regions
// of elementwise float32/float64 work become loops of generated code; every other node runs the
// cpu backend's kernel for it, found through the registry (the seam), called from the
// generated code through a host callback.
#pragma once

#include "mithril/backends/backend.h"

namespace mithril {

class JitBackend final : public Backend {
 public:
  explicit JitBackend(const BackendOptions& options = {});
  static BackendPtr make(const BackendOptions& options = {}) { return std::make_shared<JitBackend>(options); }

  std::string_view name() const override { return "jit"; }
  // The cpu backend's kernels for float32, float64 and the integer and bool dtypes (the
  // generated code is float32/float64; 16-bit floats stay on the cpu backend).
  const KernelTable& kernels() const override;
  std::unique_ptr<Executable> compile(const GraphProgram& program, const ExecutableOptions& options) const override;
  bool generates_code() const override { return true; }
};

}  // namespace mithril
