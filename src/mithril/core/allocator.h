// 64-byte aligned host memory with statistics and a capped cache of freed large blocks.
//
// Every tensor buffer comes from here so that SIMD loads are aligned and the benchmark and
// profiler can report peak bytes. Freed blocks of at least kCacheMinBytes are kept (up to a
// cap, MITHRIL_ALLOCATOR_CACHE_MB) and handed out again for the same rounded size: fresh pages
// cost a page fault each on first touch, which for a 4 MiB buffer costs more than a 1024^2
// float32 GEMM on this class of machine. Freed small blocks (up to 4 KiB) are kept per thread, a
// few per 64-byte size class, for that thread's next allocation of the class.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mithril {

inline constexpr size_t kAlignment = 64;
inline constexpr size_t kCacheMinBytes = size_t{64} << 10;  // smaller blocks go straight to malloc

struct AllocatorStats {
  int64_t current_bytes = 0;      // bytes held by live tensors
  int64_t peak_bytes = 0;         // high-water mark of current_bytes
  int64_t total_allocations = 0;
  int64_t cached_bytes = 0;       // freed blocks kept for reuse
  int64_t cache_hits = 0;
  int64_t cache_limit_bytes = 0;
};

void* aligned_alloc_bytes(size_t bytes);  // throws MemoryError (checked.h) naming the bytes; never null
void aligned_free(void* p, size_t bytes) noexcept;
AllocatorStats allocator_stats();
void reset_peak_bytes();  // peak := current
void clear_allocator_cache();  // returns every cached block (small ones: this thread's) to the system
void set_allocator_cache_limit(size_t bytes);  // 0 disables caching
}  // namespace mithril
