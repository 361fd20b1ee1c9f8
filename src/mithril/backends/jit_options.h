// What a compile() asks of a backend that generates code (the jit backend): the compile options
// `jit_options` and `file_path`. Backends that run the graph themselves generate no code and
// refuse them (Backend::generates_code), so neither is ever ignored.
#pragma once

#include <string>
#include <vector>

namespace mithril {

struct JitOptions {
  // "default": one generated function per region, called from the plan's step loop (per-step
  // profiling works); "reduce-overhead": the whole program is one call into generated code;
  // "max-autotune": as default, plus each region's thread split and block size timed on the real
  // shapes when the code is built, the fastest kept in the cache with the code.
  std::string mode = "default";
  std::vector<std::string> donate;  // graph inputs the program may overwrite once it has read them
  std::string cache_dir;            // empty: $MITHRIL_CACHE_DIR, else ~/.cache/mithril
  bool fallback = false;            // no C++ compiler: run on the CPU kernels with a warning instead of failing

  bool is_default() const { return mode == "default" && donate.empty() && cache_dir.empty() && !fallback; }
  bool operator==(const JitOptions&) const = default;
};

}  // namespace mithril
