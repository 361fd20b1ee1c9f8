#include "mithril/core/allocator.h"

#include <array>
#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <string>

#include "mithril/core/checked.h"
#include "mithril/core/env.h"
#include "mithril/core/error.h"

namespace mithril {
namespace {

std::atomic<int64_t> g_current{0};
std::atomic<int64_t> g_peak{0};
std::atomic<int64_t> g_count{0};

// Size actually requested from the system: a multiple of the alignment (std::aligned_alloc
// requires it), of the page size for cacheable blocks so near sizes share entries.
size_t rounded_size(size_t bytes) {
  if (bytes >= kCacheMinBytes) return (bytes + 4095) / 4096 * 4096;
  return bytes == 0 ? kAlignment : (bytes + kAlignment - 1) / kAlignment * kAlignment;
}

class BlockCache {
 public:
  BlockCache() {
    limit_ = static_cast<size_t>(env_int("MITHRIL_ALLOCATOR_CACHE_MB", 0, int64_t{1} << 30).value_or(1024)) << 20;
  }
  ~BlockCache() { clear(); }

  void* take(size_t size) {
    std::lock_guard g(m_);
    const auto it = blocks_.find(size);
    if (it == blocks_.end()) return nullptr;
    void* p = it->second;
    blocks_.erase(it);
    cached_ -= size;
    ++hits_;
    return p;
  }

  // Keeps the block when it fits under the limit; otherwise the caller frees it.
  bool keep(void* p, size_t size) {
    std::lock_guard g(m_);
    if (cached_ + size > limit_) return false;
    blocks_.emplace(size, p);
    cached_ += size;
    return true;
  }

  void clear() {
    std::lock_guard g(m_);
    for (auto& [size, p] : blocks_) std::free(p);
    blocks_.clear();
    cached_ = 0;
  }

  void set_limit(size_t bytes) {
    {
      std::lock_guard g(m_);
      limit_ = bytes;
    }
    clear();
  }

  void stats(AllocatorStats& s) {
    std::lock_guard g(m_);
    s.cached_bytes = static_cast<int64_t>(cached_);
    s.cache_hits = hits_;
    s.cache_limit_bytes = static_cast<int64_t>(limit_);
  }

 private:
  std::mutex m_;
  std::multimap<size_t, void*> blocks_;
  size_t cached_ = 0, limit_ = 0;
  int64_t hits_ = 0;
};

BlockCache& cache() {
  static BlockCache c;
  return c;
}

// Small blocks (up to kSmallMaxBytes, in 64-byte classes) freed on a thread are kept on that
// thread, up to kSmallPerClass per class, for its next allocation of the class: glibc's aligned
// allocation and free of a 64-byte output cost ~50 ns, a fifth of a tiny graph's whole call.
// AddressSanitizer builds skip it so that a use after free is still caught.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSmallCache = false;
#else
constexpr bool kSmallCache = true;
#endif
constexpr size_t kSmallMaxBytes = 4096;
constexpr size_t kSmallPerClass = 32;

// Set when the thread's SmallBlocks is destroyed (thread exit), so that tensors freed after it
// (statics destroyed late) go straight to free(). A plain bool: it outlives every destructor.
thread_local bool t_small_gone = false;

struct SmallBlocks {
  ~SmallBlocks() {
    t_small_gone = true;
    clear();
  }
  void clear() {
    for (auto& blocks : free)
      for (size_t i = 0; i < blocks.count; ++i) std::free(blocks.block[i]);
    free = {};
  }
  struct Class {
    size_t count = 0;
    void* block[kSmallPerClass];
  };
  std::array<Class, kSmallMaxBytes / kAlignment> free{};
};
thread_local SmallBlocks t_small;

size_t small_class(size_t size) { return size / kAlignment - 1; }  // size: a multiple of kAlignment

}  // namespace

void* aligned_alloc_bytes(size_t bytes) {
  // Larger sizes would wrap in rounded_size and in every byte offset computed from them.
  MI_CHECK(bytes <= static_cast<size_t>(kMaxTensorBytes), MemoryError,
           "[allocator] cannot allocate {} bytes: over the limit of {} bytes per tensor", bytes, kMaxTensorBytes);
  const size_t size = rounded_size(bytes);
  void* p = nullptr;
  if (size >= kCacheMinBytes) {
    p = cache().take(size);
  } else if (kSmallCache && size <= kSmallMaxBytes && !t_small_gone) {
    SmallBlocks::Class& c = t_small.free[small_class(size)];
    if (c.count > 0) p = c.block[--c.count];
  }
  if (!p) p = std::aligned_alloc(kAlignment, size);
  if (!p) {
    clear_allocator_cache();  // memory held for reuse is better spent here
    p = std::aligned_alloc(kAlignment, size);
    MI_CHECK(p != nullptr, MemoryError, "[allocator] out of memory: cannot allocate {} bytes ({:.3g} GiB)", bytes,
             static_cast<double>(bytes) / static_cast<double>(1 << 30));
  }
  const int64_t now = g_current.fetch_add(static_cast<int64_t>(bytes)) + static_cast<int64_t>(bytes);
  int64_t peak = g_peak.load();
  while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {}
  g_count.fetch_add(1);
  return p;
}

void aligned_free(void* p, size_t bytes) noexcept {
  if (!p) return;
  g_current.fetch_sub(static_cast<int64_t>(bytes));
  const size_t size = rounded_size(bytes);
  if (size >= kCacheMinBytes && cache().keep(p, size)) return;
  if (kSmallCache && size <= kSmallMaxBytes && !t_small_gone) {
    SmallBlocks::Class& c = t_small.free[small_class(size)];
    if (c.count < kSmallPerClass) {
      c.block[c.count++] = p;
      return;
    }
  }
  std::free(p);
}

AllocatorStats allocator_stats() {
  AllocatorStats s{g_current.load(), g_peak.load(), g_count.load()};
  cache().stats(s);
  return s;
}

void reset_peak_bytes() { g_peak.store(g_current.load()); }
void clear_allocator_cache() {
  cache().clear();
  if (!t_small_gone) t_small.clear();
}
void set_allocator_cache_limit(size_t bytes) { cache().set_limit(bytes); }

}  // namespace mithril
