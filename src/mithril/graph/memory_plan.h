// Static memory planning: every intermediate buffer of a program gets a fixed byte offset in
// one arena, chosen so that buffers alive at the same time never overlap. Lifetimes are step
// intervals [first, last] (inclusive: a step's inputs and outputs are live together). The
// planner packs buffers greedily under several orders and keeps the smallest arena; with few
// buffers it searches every placement order, which reaches the optimum (any optimal packing,
// pushed down as far as it goes, is what lowest-fit placement builds in order of offsets).
#pragma once

#include <cstdint>
#include <vector>

namespace mithril {

inline constexpr int64_t kPlanAlignment = 64;  // every offset is a multiple (SIMD-aligned loads)

struct BufferLifetime {
  int64_t bytes = 0;  // rounded up to kPlanAlignment by the planner
  int first = 0;      // first step that writes or reads the buffer
  int last = 0;       // last step that reads it
};

struct MemoryPlan {
  std::vector<int64_t> offsets;  // per buffer
  int64_t arena_bytes = 0;       // planned peak: the arena's size
  int64_t naive_bytes = 0;       // sum of every buffer: one allocation each, never reused
  int64_t lower_bound = 0;       // largest total of buffers alive at one step: no plan is smaller
};

int64_t plan_aligned(int64_t bytes);
bool lifetimes_overlap(const BufferLifetime& a, const BufferLifetime& b);
MemoryPlan plan_memory(const std::vector<BufferLifetime>& buffers);

}  // namespace mithril
