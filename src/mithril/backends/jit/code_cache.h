// The on-disk cache of generated programs: <dir>/jit/<key>.cpp (the source), <key>.so (the
// library) and <key>.ok (the manifest: key, library size and FNV-1a hash, written last), plus
// <key>.tune for max-autotune's choices. The key hashes the source (which spells out the graph,
// its shapes, dtypes and memory plan), the compiler's version line and flags, the ISA and the
// Mithril version. An entry whose manifest is missing, unreadable or does not match its
// library (truncated, corrupt) is rebuilt. Every file is written under a temporary name and
// renamed into place, so concurrent processes building the same entry each leave a whole file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mithril/backends/jit/toolchain.h"

namespace mithril::jit {

// The cache directory: `option` if given, else $MITHRIL_CACHE_DIR, else ~/.cache/mithril.
std::string cache_root(const std::string& option);

struct CacheEntry {
  std::string key;
  std::string source_path, library_path, tune_path;
  bool compiled = false;    // this call compiled it (a miss, or a rebuilt corrupt entry)
  double compile_seconds = 0;
};

uint64_t fnv1a(const void* data, size_t n, uint64_t h = 1469598103934665603ull);
// The key of `source` (with codegen.h's placeholder in it) for this toolchain.
std::string cache_key(const std::string& source, const Toolchain& tc);

// Returns the entry of `source`, compiling it unless a valid one exists. The library's text
// has the placeholder replaced by the key. `invalidate`: rebuild whatever is there.
CacheEntry build_or_load(const std::string& dir, const std::string& source, const Toolchain& tc, bool invalidate = false);

// Writes `text` to `path` atomically (temporary file in the same folder, rename).
void write_atomic(const std::string& path, const std::string& text);
std::optional<std::string> read_text(const std::string& path);

}  // namespace mithril::jit
