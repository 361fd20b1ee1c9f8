#include "mithril/backends/jit/toolchain.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "mithril/core/cpu_features.h"
#include "mithril/core/error.h"

namespace mithril::jit {
namespace {

bool executable(const std::string& path) { return !path.empty() && ::access(path.c_str(), X_OK) == 0; }

std::string on_path(const std::string& name) {
  if (name.find('/') != std::string::npos) return executable(name) ? name : "";
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (executable(dir + "/" + name)) return dir + "/" + name;
  return "";
}

std::string quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string first_line_of_command(const std::string& command) {
  std::string line;
  if (FILE* f = ::popen(command.c_str(), "r")) {
    char buf[512];
    if (std::fgets(buf, sizeof buf, f)) line = buf;
    while (std::fgets(buf, sizeof buf, f)) {
    }
    ::pclose(f);
  }
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  return line;
}

// The ISA the generated code may use: the one the cpu backend's kernels are chosen for
// (MITHRIL_ISA caps both), as an x86-64 micro-architecture level so every compiler agrees.
std::string isa_flags(Isa isa) {
#if defined(__x86_64__)
  switch (isa) {
    case Isa::avx512f: return "-march=x86-64-v4 -mtune=native";
    case Isa::avx2_fma: return "-march=x86-64-v3 -mtune=native";
    case Isa::baseline: return "-march=x86-64";
  }
#endif
  return "-mcpu=native";
}

}  // namespace

std::string toolchain_search_description() {
  const char* env = std::getenv("MITHRIL_CXX");
  return env && *env ? fmt::format("$MITHRIL_CXX = '{}' is not an executable", env)
                     : std::string("no c++, g++ or clang++ on PATH and MITHRIL_CXX is unset");
}

const std::optional<Toolchain>& toolchain() {
  static const std::optional<Toolchain> tc = []() -> std::optional<Toolchain> {
    std::string cxx;
    if (const char* env = std::getenv("MITHRIL_CXX"); env && *env) {
      cxx = on_path(env);
    } else {
      for (const char* name : {"c++", "g++", "clang++"})
        if (cxx.empty()) cxx = on_path(name);
    }
    if (cxx.empty()) return std::nullopt;
    Toolchain t;
    t.compiler = cxx;
    t.version = first_line_of_command(quoted(cxx) + " --version 2>/dev/null");
    if (t.version.empty()) return std::nullopt;  // not a working compiler
    t.isa = isa_name(best_isa());
    // -ffp-contract=off: every op rounds as the cpu kernels do (no a*b+c fused across ops);
    // -fno-math-errno lets sqrt be an instruction (same correctly rounded result).
    t.flags = "-std=c++17 -O2 -fPIC -shared -fno-math-errno -ffp-contract=off -fno-plt " + isa_flags(best_isa());
    return t;
  }();
  return tc;
}

void compile_library(const Toolchain& tc, const std::string& source, const std::string& library, const std::string& log) {
  const std::string command =
      fmt::format("{} {} -o {} {} > {} 2>&1", quoted(tc.compiler), tc.flags, quoted(library), quoted(source), quoted(log));
  const int status = std::system(command.c_str());
  if (status == 0) {
    std::remove(log.c_str());
    return;
  }
  std::ifstream in(log);
  std::string line, first;
  while (std::getline(in, line)) {
    if (first.empty() && line.find("error:") != std::string::npos) first = line;
  }
  if (first.empty()) first = fmt::format("exit status {}", status);
  MI_THROW(KernelError, "[backend jit] compiling the generated source failed: {} (source: {}, compiler log: {})", first, source,
           log);
}

}  // namespace mithril::jit
