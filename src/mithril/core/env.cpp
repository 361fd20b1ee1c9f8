#include "mithril/core/env.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

#include "mithril/core/error.h"

namespace mithril {

const std::vector<EnvKnob>& env_knobs() {
  static const std::vector<EnvKnob> knobs = {
      {"MITHRIL_NUM_THREADS", "hardware threads", "threads used by Mithril's own elementwise and reduction kernels"},
      {"MITHRIL_ALLOCATOR_CACHE_MB", "1024", "cap on freed tensor memory kept for reuse (0 disables the cache)"},
      {"MITHRIL_VERBOSE", "0", "1: log every kernel call (kernel chosen, op, shapes, time) to stderr"},
      {"MITHRIL_OPTIMIZE", "1", "0: compile without graph passes (folding, CSE, DCE, fusion, simplification)"},
      {"MITHRIL_CHECK_NUMERICS", "0",
       "1: every compile checks numerics (the check_numerics option): stop at the first node writing NaN or Inf"},
      {"MITHRIL_ISA", "native",
       "cap on the instruction set kernels may use: native (best available), baseline, x86-64-v2, avx2 (x86-64-v3), avx512 (x86-64-v4) or amx"},
      {"MITHRIL_BACKEND_OPS_MODE", "test and grad",
       "the cross-backend op test's mode (tests/backends/backend_ops_test.cpp): test, grad, support or perf"},
      {"MITHRIL_CACHE_DIR", "~/.cache/mithril",
       "where the jit backend keeps generated code and its compiled libraries (jit_options.cache_dir wins)"},
      {"MITHRIL_CXX", "c++, g++ or clang++ on PATH", "the C++ compiler the jit backend builds generated code with"},
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
  const std::string given = env_value(name);
  std::string v = given;
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
  if (v == "0" || v == "false" || v == "no" || v == "off" || v.empty()) return false;
  MI_THROW(ValueError, "{}='{}' is not a switch: expected 1 or 0 (true/false, yes/no, on/off)", name, given);
}

std::optional<int64_t> env_int(std::string_view name, int64_t min, int64_t max) {
  MI_ASSERT(std::any_of(env_knobs().begin(), env_knobs().end(), [&](const EnvKnob& k) { return k.name == name; }));
  const char* set = std::getenv(std::string(name).c_str());
  if (set == nullptr || *set == '\0') return std::nullopt;
  const std::string_view v(set);
  int64_t n = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  MI_CHECK(ec == std::errc() && end == v.data() + v.size() && n >= min && n <= max, ValueError,
           "{}='{}' is not an integer from {} to {}", name, v, min, max);
  return n;
}

}  // namespace mithril
