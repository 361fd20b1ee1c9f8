// Instruction-set detection at run time. Kernels are tagged with the ISA they need and the
// registry picks the best one this CPU has; nothing assumes an ISA at build time.
// MITHRIL_ISA=baseline|avx2|avx512 caps what counts as available, so the AVX2 kernels can be
// tested and benchmarked on a machine that also has AVX-512 (the deployment targets do not).
#pragma once

#include <string>

namespace mithril {

// avx2_fma also implies F16C (every AVX2 CPU has it; it is checked all the same).
enum class Isa { baseline, avx2_fma, avx512f };

bool cpu_has(Isa isa);             // the CPU has it and MITHRIL_ISA does not exclude it
bool cpu_hardware_has(Isa isa);    // the CPU has it, whatever MITHRIL_ISA says
Isa best_isa();                    // the best ISA cpu_has() allows
std::string isa_name(Isa isa);     // "baseline", "avx2", "avx512"
std::string cpu_features_string();  // e.g. "avx2 fma f16c (MITHRIL_ISA=avx2)" for logs and benchmarks

}  // namespace mithril
