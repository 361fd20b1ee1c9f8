#include "mithril/backends/jit/code_cache.h"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "mithril/backends/jit/codegen.h"
#include "mithril/core/error.h"

#ifndef MITHRIL_VERSION_STRING
#define MITHRIL_VERSION_STRING "unknown"
#endif

namespace mithril::jit {
namespace fs = std::filesystem;
namespace {

constexpr const char* kManifestMagic = "mithril-jit-cache 1";

// A name no other writer uses: process id, thread and a counter.
std::string temporary_name(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  return fmt::format("{}.tmp-{}-{}-{}", path, ::getpid(), std::hash<std::thread::id>{}(std::this_thread::get_id()) % 100000,
                     counter++);
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) s.replace(p, from.size(), to);
  return s;
}

std::string manifest_text(const std::string& key, const std::string& library) {
  const std::optional<std::string> bytes = read_text(library);
  MI_CHECK(bytes.has_value(), KernelError, "[backend jit] cannot read the compiled library {}", library);
  return fmt::format("{}\n{}\n{}\n{:016x}\n", kManifestMagic, key, bytes->size(), fnv1a(bytes->data(), bytes->size()));
}

// The entry is whole: its manifest names this key and matches the library byte for byte.
bool valid(const CacheEntry& e, const std::string& manifest_path) {
  const std::optional<std::string> manifest = read_text(manifest_path);
  if (!manifest || !fs::exists(e.library_path)) return false;
  try {
    return *manifest == manifest_text(e.key, e.library_path);
  } catch (const Error&) {
    return false;
  }
}

}  // namespace

uint64_t fnv1a(const void* data, size_t n, uint64_t h) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

std::string cache_root(const std::string& option) {
  if (!option.empty()) return option;
  if (const char* env = std::getenv("MITHRIL_CACHE_DIR"); env && *env) return env;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/mithril";
  const char* home = std::getenv("HOME");
  MI_CHECK(home && *home, ValueError,
           "[backend jit] no cache directory: HOME is unset; set MITHRIL_CACHE_DIR or jit_options.cache_dir");
  return std::string(home) + "/.cache/mithril";
}

std::string cache_key(const std::string& source, const Toolchain& tc) {
  uint64_t h = fnv1a(source.data(), source.size());
  for (const std::string& part : {tc.version, tc.flags, tc.isa, std::string(MITHRIL_VERSION_STRING)}) {
    h = fnv1a("\n", 1, h);
    h = fnv1a(part.data(), part.size(), h);
  }
  // A second, differently seeded hash makes accidental collisions of two programs negligible.
  uint64_t h2 = fnv1a(source.data(), source.size(), 0x84222325cbf29ce4ull);
  h2 = fnv1a(tc.flags.data(), tc.flags.size(), h2);
  return fmt::format("{:016x}{:08x}", h, static_cast<uint32_t>(h2));
}

void write_atomic(const std::string& path, const std::string& text) {
  const std::string tmp = temporary_name(path);
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    f.close();
    MI_CHECK(f.good(), KernelError, "[backend jit] cannot write {}", tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp);
    MI_THROW(KernelError, "[backend jit] cannot move {} into place: {}", path, ec.message());
  }
}

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

CacheEntry build_or_load(const std::string& dir, const std::string& source, const Toolchain& tc, bool invalidate) {
  CacheEntry e;
  e.key = cache_key(source, tc);
  const std::string folder = dir + "/jit";
  std::error_code ec;
  fs::create_directories(folder, ec);
  MI_CHECK(!ec, KernelError, "[backend jit] cannot create the cache directory {}: {}", folder, ec.message());
  const std::string base = folder + "/" + e.key;
  e.source_path = base + ".cpp";
  e.library_path = base + ".so";
  e.tune_path = base + ".tune";
  const std::string manifest = base + ".ok";
  if (!invalidate && valid(e, manifest)) return e;

  const auto t0 = std::chrono::steady_clock::now();
  std::remove(manifest.c_str());
  write_atomic(e.source_path, replace_all(source, kKeyPlaceholder, e.key));
  const std::string tmp = temporary_name(e.library_path);
  try {
    compile_library(tc, e.source_path, tmp, base + ".log");
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  const std::string m = manifest_text(e.key, tmp);
  fs::rename(tmp, e.library_path, ec);
  MI_CHECK(!ec, KernelError, "[backend jit] cannot move {} into place: {}", e.library_path, ec.message());
  write_atomic(manifest, m);
  e.compiled = true;
  e.compile_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return e;
}

}  // namespace mithril::jit
