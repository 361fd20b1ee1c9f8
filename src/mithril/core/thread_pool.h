// A small fixed-size thread pool for our own elementwise and reduction kernels.
//
// parallel_for splits [begin, end) into equal contiguous chunks, one per worker, so the
// partition (and therefore any reduction order) depends only on the range and the thread
// count: results are deterministic for a given thread count. Work below `grain` elements per
// chunk runs inline on the caller, which keeps tiny graphs free of synchronisation.
#pragma once

#include <cstdint>
#include <functional>  // std::function, std::ref

namespace mithril {

// Number of threads our kernels use: MITHRIL_NUM_THREADS if set, else the hardware count.
int num_threads();
void set_num_threads(int n);

// The chunks parallel_for would use for a range: lets reductions keep one partial per chunk.
int64_t num_chunks(int64_t n, int64_t grain);

namespace detail {
// True when a parallel_for over n elements runs as one inline call (one chunk, or nested).
bool runs_inline(int64_t n, int64_t grain);
void parallel_for_pool(int64_t begin, int64_t end, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);
}  // namespace detail

// Calls fn(chunk_begin, chunk_end) over a static partition of [begin, end). A range that runs
// as one chunk calls fn directly: no std::function is built (its heap allocation was a tenth
// of a tiny graph's call).
template <typename F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, F&& fn) {
  if (end <= begin) return;
  if (detail::runs_inline(end - begin, grain)) {
    fn(begin, end);
    return;
  }
  detail::parallel_for_pool(begin, end, grain, std::ref(fn));
}

}  // namespace mithril
