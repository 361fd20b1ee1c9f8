// 64-byte aligned host memory with statistics. Every tensor buffer comes from here so that
// SIMD loads are aligned and the benchmark/profiler can report peak bytes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mithril {

inline constexpr size_t kAlignment = 64;

struct AllocatorStats {
  int64_t current_bytes = 0;
  int64_t peak_bytes = 0;
  int64_t total_allocations = 0;
};

void* aligned_alloc_bytes(size_t bytes);  // throws std::bad_alloc (never returns null)
void aligned_free(void* p, size_t bytes) noexcept;
AllocatorStats allocator_stats();
void reset_peak_bytes();  // peak := current

}  // namespace mithril
