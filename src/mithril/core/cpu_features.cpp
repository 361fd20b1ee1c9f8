#include "mithril/core/cpu_features.h"

namespace mithril {

bool cpu_has(Isa isa) {
  switch (isa) {
    case Isa::baseline: return true;
#if defined(__x86_64__) || defined(__i386__)
    case Isa::avx2_fma: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::avx512f: return __builtin_cpu_supports("avx512f");
#else
    default: return false;
#endif
  }
  return false;
}

std::string cpu_features_string() {
  std::string s = "baseline";
  if (cpu_has(Isa::avx2_fma)) s += " avx2 fma";
  if (cpu_has(Isa::avx512f)) s += " avx512f";
  return s;
}

}  // namespace mithril
