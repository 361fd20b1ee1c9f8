// The reference backend: every op as plain scalar loops in float64 (other dtypes by conversion),
// no threads, no fusion, no memory planning, written to be obviously right rather than fast. It
// is the oracle of the cross-backend op test (tests/backends/backend_ops_test.cpp).
#pragma once

#include "mithril/backends/backend.h"

namespace mithril {

struct ReferenceOptions {
  DType precision = DType::f64;
  std::string device = "cpu";
};

class ReferenceBackend final : public Backend {
 public:
  explicit ReferenceBackend(ReferenceOptions options = {});
  static BackendPtr from_options(const BackendOptions& options);
  static BackendPtr make(ReferenceOptions options = {}) {
    return std::make_shared<ReferenceBackend>(std::move(options));
  }

  std::string_view name() const override { return "reference"; }
  const KernelTable& kernels() const override;
  // Fused ops (made by operator fusion, which this backend turns off) are a no with the reason.
  Support supports(const Graph& graph, const Node& node) const override;
  // Fused ops are the CPU backend's: graphs run here unfused.
  PassOptions passes(const PassOptions& requested) const override;
  std::unique_ptr<Executable> compile(const GraphProgram& program, const ExecutableOptions& options) const override;

 private:
  struct FromOptions {};  // a tag: `{.precision = ...}` must pick the public constructor
  ReferenceBackend(const BackendOptions& options, FromOptions);
};

namespace reference {
const KernelTable& kernel_table();
}  // namespace reference

}  // namespace mithril
