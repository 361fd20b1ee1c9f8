#include "mithril/core/cpu_features.h"

#include <algorithm>
#include <cctype>

#include "mithril/core/env.h"
#include "mithril/core/error.h"

#if defined(__clang__) && (defined(__x86_64__) || defined(__i386__))
#include <cpuid.h>
#endif

namespace mithril {
namespace {

// clang (the fuzz build) has no "f16c" for __builtin_cpu_supports: CPUID leaf 1, ECX bit 29.
bool has_f16c() {
#if defined(__clang__) && (defined(__x86_64__) || defined(__i386__))
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
#elif defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("f16c");
#else
  return false;
#endif
}

}  // namespace

bool cpu_hardware_has(Isa isa) {
  switch (isa) {
    case Isa::baseline: return true;
#if defined(__x86_64__) || defined(__i386__)
    case Isa::avx2_fma:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c();
    case Isa::avx512f: return __builtin_cpu_supports("avx512f");
#else
    default: return false;
#endif
  }
  return false;
}

namespace {

// The highest ISA MITHRIL_ISA allows ("native", the default, allows everything). Read once:
// kernels are chosen when executors are built and must not change under a running program.
Isa isa_cap() {
  static const Isa cap = [] {
    std::string v = env_value("MITHRIL_ISA");
    std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (v == "native" || v.empty()) return Isa::avx512f;
    if (v == "baseline" || v == "scalar") return Isa::baseline;
    if (v == "avx2") return Isa::avx2_fma;
    if (v == "avx512") return Isa::avx512f;
    MI_THROW(ValueError, "MITHRIL_ISA='{}' is not one of native, baseline, avx2, avx512", v);
  }();
  return cap;
}

}  // namespace

bool cpu_has(Isa isa) { return static_cast<int>(isa) <= static_cast<int>(isa_cap()) && cpu_hardware_has(isa); }

Isa best_isa() {
  if (cpu_has(Isa::avx512f)) return Isa::avx512f;
  if (cpu_has(Isa::avx2_fma)) return Isa::avx2_fma;
  return Isa::baseline;
}

std::string isa_name(Isa isa) {
  switch (isa) {
    case Isa::baseline: return "baseline";
    case Isa::avx2_fma: return "avx2";
    case Isa::avx512f: return "avx512";
  }
  return "?";
}

std::string cpu_features_string() {
  std::string s = "baseline";
  if (cpu_hardware_has(Isa::avx2_fma)) s += " avx2 fma f16c";
  if (cpu_hardware_has(Isa::avx512f)) s += " avx512f";
  s += " (kernels: " + isa_name(best_isa()) + ")";
  return s;
}

}  // namespace mithril
