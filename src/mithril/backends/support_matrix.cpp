#include "mithril/backends/support_matrix.h"

#include <fmt/format.h>


#include "mithril/backends/backend.h"
#include "mithril/core/error.h"

namespace mithril {

std::string format_support_matrix(std::string_view family) {
  check_op_family(family);
  const auto& backends = BackendRegistry::instance().backends();
  std::string dtypes;
  for (int d = 0; d < kNumDTypes; ++d) dtypes += fmt::format("{}{}", d ? " " : "", dtype_name(static_cast<DType>(d)));
  std::string out = fmt::format("{:<24} {:<8} {:<5}", "op", "family", "grad");
  for (const BackendInfo& b : backends) out += fmt::format(" {:<10}", b.name);
  out += "\n";
  int shown = 0;
  std::vector<int> covered(backends.size(), 0);
  for (int i = 0; i < kNumOps; ++i) {
    const auto k = static_cast<OpKind>(i);
    const OpInfo& info = op_info(k);
    if (!family.empty() && info.family != family) continue;
    ++shown;
    out += fmt::format("{:<24} {:<8} {:<5}", info.name, info.family, info.differentiable ? "yes" : "-");
    for (size_t b = 0; b < backends.size(); ++b) {
      const KernelTable& t = backends[b].kernels();
      std::string marks;
      bool any = false;
      for (int d = 0; d < kNumDTypes; ++d) {
        const bool has = t.has(k, static_cast<DType>(d));
        any = any || has;
        marks += has ? 'x' : '.';
      }
      covered[b] += any;
      out += fmt::format(" {:<10}", marks);
    }
    out += "\n";
  }
  out += fmt::format("{} ops; per backend one mark per dtype ({}): x = kernel available on this machine\n", shown,
                     dtypes);
  for (size_t b = 0; b < backends.size(); ++b)
    out += fmt::format("  {}: {} of {} ops — {}\n", backends[b].name, covered[b], shown, backends[b].description);
  return out;
}

}  // namespace mithril
