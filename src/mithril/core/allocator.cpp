#include "mithril/core/allocator.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace mithril {
namespace {
std::atomic<int64_t> g_current{0};
std::atomic<int64_t> g_peak{0};
std::atomic<int64_t> g_count{0};
}  // namespace

void* aligned_alloc_bytes(size_t bytes) {
  // std::aligned_alloc requires a size that is a multiple of the alignment; round up, and give
  // zero-byte tensors a real (tiny) block so data() is never null.
  const size_t rounded = bytes == 0 ? kAlignment : (bytes + kAlignment - 1) / kAlignment * kAlignment;
  void* p = std::aligned_alloc(kAlignment, rounded);
  if (!p) throw std::bad_alloc();
  const int64_t now = g_current.fetch_add(static_cast<int64_t>(bytes)) + static_cast<int64_t>(bytes);
  int64_t peak = g_peak.load();
  while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {}
  g_count.fetch_add(1);
  return p;
}

void aligned_free(void* p, size_t bytes) noexcept {
  if (!p) return;
  std::free(p);
  g_current.fetch_sub(static_cast<int64_t>(bytes));
}

AllocatorStats allocator_stats() { return {g_current.load(), g_peak.load(), g_count.load()}; }

void reset_peak_bytes() { g_peak.store(g_current.load()); }

}  // namespace mithril
