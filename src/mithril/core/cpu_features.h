// Instruction-set detection at run time. Kernels are tagged with the ISA they need and the
// registry picks the best one this CPU has; nothing assumes an ISA at build time. Detection reads
// CPUID and, for the register state, XGETBV (the OS must save YMM/ZMM/tile registers) and, for
// AMX, asks Linux for permission to use tile data (arch_prctl).
//
// Caps are levels (IsaLevel): MITHRIL_ISA caps what counts as available for the whole process,
// and a program's `target_hardware` compile option caps it further for that program, so the AVX2
// kernels can be tested and benchmarked on a machine that also has AVX-512.
#pragma once

#include <string>
#include <string_view>

namespace mithril {

// What a kernel may need. Each belongs to one level (isa_level()).
enum class Isa {
  baseline,     // any CPU (x86-64: SSE2)
  x86_64_v2,    // SSE3, SSSE3, SSE4.1, SSE4.2, POPCNT, CMPXCHG16B
  avx2_fma,     // x86-64-v3: AVX, AVX2, FMA, F16C, BMI1/2, LZCNT, MOVBE
  avx512f,      // AVX-512 Foundation
  avx512,       // x86-64-v4: AVX-512 F, BW, CD, DQ, VL
  avx512_vnni,  // int8 dot products
  avx512_bf16,  // bf16 dot products
  avx512_fp16,  // f16 arithmetic
  amx_bf16,     // AMX tiles with bf16 (the OS granted tile data)
  amx_int8,     // AMX tiles with int8
};

// The caps, lowest first: baseline < x86-64-v2 < x86-64-v3 (avx2) < x86-64-v4 (avx512) < amx.
enum class IsaLevel { baseline, x86_64_v2, x86_64_v3, x86_64_v4, amx };

IsaLevel isa_level(Isa isa);  // the lowest cap that admits isa

bool cpu_hardware_has(Isa isa);            // the CPU (and OS) has it, whatever MITHRIL_ISA says
bool cpu_has(Isa isa);                     // ... and MITHRIL_ISA admits it
bool cpu_has(Isa isa, IsaLevel cap);       // ... and `cap` admits it too (a program's target_hardware)
Isa best_isa();                            // the best ISA cpu_has() allows, of the level-defining ones
std::string isa_name(Isa isa);             // "baseline", "x86-64-v2", "avx2", "avx512f", "avx512", "amx-bf16", ...

IsaLevel hardware_isa_level();  // the highest level whose every ISA the machine has
IsaLevel isa_level_cap();       // MITHRIL_ISA's cap (native, the default: amx, i.e. whatever the machine has)
std::string level_name(IsaLevel level);  // "baseline", "x86-64-v2", "avx2", "avx512", "amx"
// Parses a level name: native (the hardware level), baseline (or scalar), x86-64-v2,
// x86-64-v3 or avx2, x86-64-v4 or avx512, amx; anything else is a ValueError naming `what`.
IsaLevel parse_isa_level(std::string_view name, std::string_view what);

// The ISAs the hardware has, e.g. "baseline x86-64-v2 avx2", for messages.
std::string hardware_isa_list();
// ... and what the kernels use, e.g. "baseline x86-64-v2 avx2 (kernels: x86-64-v2, MITHRIL_ISA=x86-64-v2)",
// for logs and benchmarks.
std::string cpu_features_string();

}  // namespace mithril
