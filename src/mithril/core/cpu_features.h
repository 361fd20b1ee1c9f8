// Instruction-set detection at run time. Kernels are tagged with the ISA they need and the
// registry picks the best one this CPU has; nothing assumes an ISA at build time.
#pragma once

#include <string>

namespace mithril {

enum class Isa { baseline, avx2_fma, avx512f };

bool cpu_has(Isa isa);
std::string cpu_features_string();  // e.g. "avx2 fma" for logs and benchmarks

}  // namespace mithril
