// The default backend: our CPU kernels (AVX2/AVX-512 where the machine has them, chosen at run
// time), the thread pool, fused kernels, and one static memory arena per program.
#pragma once

#include "mithril/backends/backend.h"

namespace mithril {

struct CpuOptions {
  DType precision = DType::f64;  // float64, float32, bfloat16 or float16
  std::string device = "cpu";
  int64_t mem_size = 0;  // > 0: cap in bytes on a program's planned peak (arena + outputs)
};

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(CpuOptions options = {});
  // From the registry's generic options (JSON, CLI); `quantize` is rejected here.
  static BackendPtr from_options(const BackendOptions& options);
  static BackendPtr make(CpuOptions options = {}) { return std::make_shared<CpuBackend>(std::move(options)); }

  std::string_view name() const override { return "cpu"; }
  const KernelTable& kernels() const override;
  std::unique_ptr<Executable> compile(const GraphProgram& program, const ExecutableOptions& options) const override;

 private:
  struct FromOptions {};  // a tag: `{.precision = ...}` must pick the public constructor
  CpuBackend(const BackendOptions& options, FromOptions);
};

}  // namespace mithril
