// The system C++ compiler the jit backend builds generated code with, and its flags for this
// machine's ISA. Found once per process: $MITHRIL_CXX, else c++, g++ or clang++ on PATH.
#pragma once

#include <optional>
#include <string>

namespace mithril::jit {

struct Toolchain {
  std::string compiler;  // path
  std::string version;   // the first line of `compiler --version` (part of the cache key)
  std::string flags;     // optimization, ISA (-march for the ISA the cpu backend's kernels use), -shared -fPIC
  std::string isa;       // isa_name(best_isa())
};

// nullopt when no compiler is found.
const std::optional<Toolchain>& toolchain();
// Why toolchain() found none: the places it looked.
std::string toolchain_search_description();

// Compiles `source` into the shared library `library`, the compiler's output going to `log`
// (removed on success); a failure is a KernelError with the compiler's first error line, the
// source path and the log path.
void compile_library(const Toolchain& tc, const std::string& source, const std::string& library, const std::string& log);

}  // namespace mithril::jit
