#include "mithril/core/cpu_features.h"

#include <algorithm>
#include <array>
#include <cctype>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "mithril/core/env.h"
#include "mithril/core/error.h"

namespace mithril {
namespace {

constexpr int kNumIsas = static_cast<int>(Isa::amx_int8) + 1;

struct IsaRow {
  Isa isa;
  const char* name;
  IsaLevel level;
};

// One row per Isa, in enum order (static_assert below).
constexpr std::array<IsaRow, kNumIsas> kIsas = {{
    {Isa::baseline, "baseline", IsaLevel::baseline},
    {Isa::x86_64_v2, "x86-64-v2", IsaLevel::x86_64_v2},
    {Isa::avx2_fma, "avx2", IsaLevel::x86_64_v3},
    {Isa::avx512f, "avx512f", IsaLevel::x86_64_v4},
    {Isa::avx512, "avx512", IsaLevel::x86_64_v4},
    {Isa::avx512_vnni, "avx512-vnni", IsaLevel::x86_64_v4},
    {Isa::avx512_bf16, "avx512-bf16", IsaLevel::x86_64_v4},
    {Isa::avx512_fp16, "avx512-fp16", IsaLevel::x86_64_v4},
    {Isa::amx_bf16, "amx-bf16", IsaLevel::amx},
    {Isa::amx_int8, "amx-int8", IsaLevel::amx},
}};
constexpr bool rows_in_order() {
  for (int i = 0; i < kNumIsas; ++i)
    if (static_cast<int>(kIsas[i].isa) != i) return false;
  return true;
}
static_assert(rows_in_order(), "kIsas needs one row per Isa, in enum order");

#if defined(__x86_64__) || defined(__i386__)
struct Regs {
  unsigned a = 0, b = 0, c = 0, d = 0;
};

Regs cpuid(unsigned leaf, unsigned sub) {
  Regs r;
  if (!__get_cpuid_count(leaf, sub, &r.a, &r.b, &r.c, &r.d)) return {};
  return r;
}

bool bit(unsigned reg, int b) { return (reg >> b) & 1u; }

// XCR0: which register states the OS saves on a context switch (without it the registers are
// unusable even where CPUID lists the instructions).
unsigned long long xcr0() {
  unsigned eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}

// Linux (5.16 on) gives a process AMX tile data only on request; an older kernel or a refusal
// means AMX is unusable here.
bool amx_permitted() {
#if defined(__linux__) && defined(SYS_arch_prctl)
  constexpr int kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

std::array<bool, kNumIsas> detect() {
  std::array<bool, kNumIsas> has{};
  has[0] = true;
  const Regs l1 = cpuid(1, 0);
  const unsigned max_leaf = cpuid(0, 0).a;
  const Regs l7 = max_leaf >= 7 ? cpuid(7, 0) : Regs{};
  const Regs l7s1 = max_leaf >= 7 && l7.a >= 1 ? cpuid(7, 1) : Regs{};
  const Regs ext = cpuid(0x80000001u, 0);
  const bool osxsave = bit(l1.c, 27);
  const unsigned long long xcr = osxsave ? xcr0() : 0;
  const bool ymm_state = (xcr & 0x6) == 0x6;       // SSE + AVX state
  const bool zmm_state = ymm_state && (xcr & 0xe0) == 0xe0;  // opmask + ZMM halves
  const bool tile_state = (xcr & 0x60000) == 0x60000;        // XTILECFG + XTILEDATA
  auto set = [&](Isa i, bool v) { has[static_cast<size_t>(i)] = v; };

  const bool v2 = bit(l1.c, 0) && bit(l1.c, 9) && bit(l1.c, 13) && bit(l1.c, 19) && bit(l1.c, 20) && bit(l1.c, 23) &&
                  bit(ext.c, 0);  // sse3 ssse3 cx16 sse4.1 sse4.2 popcnt lahf
  set(Isa::x86_64_v2, v2);
  const bool v3 = v2 && ymm_state && bit(l1.c, 28) && bit(l7.b, 5) && bit(l1.c, 12) && bit(l1.c, 29) && bit(l7.b, 3) &&
                  bit(l7.b, 8) && bit(ext.c, 5) && bit(l1.c, 22);  // avx avx2 fma f16c bmi1 bmi2 lzcnt movbe
  set(Isa::avx2_fma, v3);
  const bool f = v3 && zmm_state && bit(l7.b, 16);
  set(Isa::avx512f, f);
  const bool v4 = f && bit(l7.b, 17) && bit(l7.b, 28) && bit(l7.b, 30) && bit(l7.b, 31);  // dq cd bw vl
  set(Isa::avx512, v4);
  set(Isa::avx512_vnni, v4 && bit(l7.c, 11));
  set(Isa::avx512_bf16, v4 && bit(l7s1.a, 5));
  set(Isa::avx512_fp16, v4 && bit(l7.d, 23));
  const bool tiles = v4 && tile_state && bit(l7.d, 24) && amx_permitted();
  set(Isa::amx_bf16, tiles && bit(l7.d, 22));
  set(Isa::amx_int8, tiles && bit(l7.d, 25));
  return has;
}
#else
std::array<bool, kNumIsas> detect() {
  std::array<bool, kNumIsas> has{};
  has[0] = true;
  return has;
}
#endif

const std::array<bool, kNumIsas>& hardware() {
  static const std::array<bool, kNumIsas> h = detect();
  return h;
}

std::string lower(std::string_view s) {
  std::string v(s);
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return v;
}

}  // namespace

IsaLevel isa_level(Isa isa) { return kIsas[static_cast<size_t>(isa)].level; }

bool cpu_hardware_has(Isa isa) { return hardware()[static_cast<size_t>(isa)]; }

IsaLevel hardware_isa_level() {
  if (cpu_hardware_has(Isa::amx_bf16)) return IsaLevel::amx;
  if (cpu_hardware_has(Isa::avx512)) return IsaLevel::x86_64_v4;
  if (cpu_hardware_has(Isa::avx2_fma)) return IsaLevel::x86_64_v3;
  if (cpu_hardware_has(Isa::x86_64_v2)) return IsaLevel::x86_64_v2;
  return IsaLevel::baseline;
}

std::string level_name(IsaLevel level) {
  switch (level) {
    case IsaLevel::baseline: return "baseline";
    case IsaLevel::x86_64_v2: return "x86-64-v2";
    case IsaLevel::x86_64_v3: return "avx2";
    case IsaLevel::x86_64_v4: return "avx512";
    case IsaLevel::amx: return "amx";
  }
  return "?";
}

IsaLevel parse_isa_level(std::string_view name, std::string_view what) {
  const std::string v = lower(name);
  if (v == "native" || v.empty()) return hardware_isa_level();
  if (v == "baseline" || v == "scalar") return IsaLevel::baseline;
  if (v == "x86-64-v2") return IsaLevel::x86_64_v2;
  if (v == "x86-64-v3" || v == "avx2") return IsaLevel::x86_64_v3;
  if (v == "x86-64-v4" || v == "avx512") return IsaLevel::x86_64_v4;
  if (v == "amx") return IsaLevel::amx;
  MI_THROW(ValueError, "{}='{}' is not one of native, baseline, x86-64-v2, x86-64-v3 (avx2), x86-64-v4 (avx512), amx",
           what, name);
}

// Read once: kernels are chosen when executors are built and must not change under a running
// program. A cap above the hardware admits what the hardware has.
IsaLevel isa_level_cap() {
  static const IsaLevel cap = [] {
    const std::string v = env_value("MITHRIL_ISA");
    return lower(v) == "native" ? IsaLevel::amx : parse_isa_level(v, "MITHRIL_ISA");
  }();
  return cap;
}

bool cpu_has(Isa isa) { return cpu_hardware_has(isa) && isa_level(isa) <= isa_level_cap(); }

bool cpu_has(Isa isa, IsaLevel cap) { return cpu_has(isa) && isa_level(isa) <= cap; }

Isa best_isa() {
  for (Isa i : {Isa::amx_bf16, Isa::avx512, Isa::avx512f, Isa::avx2_fma, Isa::x86_64_v2})
    if (cpu_has(i)) return i;
  return Isa::baseline;
}

std::string isa_name(Isa isa) { return kIsas[static_cast<size_t>(isa)].name; }

std::string hardware_isa_list() {
  std::string s;
  for (const IsaRow& r : kIsas)
    if (cpu_hardware_has(r.isa)) s += (s.empty() ? "" : " ") + std::string(r.name);
  return s;
}

std::string cpu_features_string() {
  std::string s = hardware_isa_list() + " (kernels: " + isa_name(best_isa());
  const std::string env = env_value("MITHRIL_ISA");
  if (lower(env) != "native") s += ", MITHRIL_ISA=" + env;
  return s + ")";
}

}  // namespace mithril
