#include "mithril/core/env.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "mithril/core/error.h"

namespace mithril {

const std::vector<EnvKnob>& env_knobs() {
  static const std::vector<EnvKnob> knobs = {
      {"MITHRIL_NUM_THREADS", "hardware threads", "threads used by Mithril's own elementwise and reduction kernels"},
      {"MITHRIL_ALLOCATOR_CACHE_MB", "1024", "cap on freed tensor memory kept for reuse (0 disables the cache)"},
      {"MITHRIL_VERBOSE", "0", "1: log every kernel call (kernel chosen, op, shapes, time) to stderr"},
      {"MITHRIL_OPTIMIZE", "1", "0: compile without graph passes (folding, CSE, DCE, fusion, simplification)"},
      {"MITHRIL_ISA", "native",
       "cap on the instruction set kernels may use: native (best available), baseline, x86-64-v2, avx2 (x86-64-v3), avx512 (x86-64-v4) or amx"},
      {"MITHRIL_BACKEND_OPS_MODE", "test and grad",
       "the cross-backend op test's mode (tests/backends/backend_ops_test.cpp): test, grad, support or perf"},
  };
  return knobs;
}

std::string env_value(std::string_view name) {
  const auto& knobs = env_knobs();
  const auto it = std::find_if(knobs.begin(), knobs.end(), [&](const EnvKnob& k) { return k.name == name; });
  MI_ASSERT(it != knobs.end());
  if (const char* v = std::getenv(std::string(name).c_str())) return v;
  return std::string(it->default_value);
}

bool env_flag(std::string_view name) {
  std::string v = env_value(name);
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return v == "1" || v == "true" || v == "yes" || v == "on";
}

}  // namespace mithril
