#include <gtest/gtest.h>

#include <atomic>
#include <numeric>
#include <stdexcept>
#include <vector>

#include "mithril/core/thread_pool.h"

namespace mithril {
namespace {

TEST(ThreadPool, CoversRangeExactlyOnce) {
  std::vector<int> hits(100000, 0);
  parallel_for(0, static_cast<int64_t>(hits.size()), 1000, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) ++hits[static_cast<size_t>(i)];
  });
  for (int h : hits) ASSERT_EQ(h, 1);
}

TEST(ThreadPool, PartitionIsDeterministic) {
  auto chunks = [] {
    std::vector<std::pair<int64_t, int64_t>> out(static_cast<size_t>(num_threads()));
    std::atomic<int> n{0};
    parallel_for(0, 1000, 1, [&](int64_t b, int64_t e) { out[static_cast<size_t>(n++)] = {b, e}; });
    std::sort(out.begin(), out.begin() + n.load());
    out.resize(static_cast<size_t>(n.load()));
    return out;
  };
  EXPECT_EQ(chunks(), chunks());
}

TEST(ThreadPool, SmallRangesRunInline) {
  int calls = 0;  // not atomic: a single inline call is expected
  parallel_for(0, 10, 1000, [&](int64_t b, int64_t e) {
    ++calls;
    EXPECT_EQ(b, 0);
    EXPECT_EQ(e, 10);
  });
  EXPECT_EQ(calls, 1);
}

TEST(ThreadPool, NestedCallsRunInlineAndExceptionsPropagate) {
  std::atomic<int64_t> total{0};
  parallel_for(0, 4, 1, [&](int64_t b, int64_t e) {
    parallel_for(0, 100, 1, [&](int64_t ib, int64_t ie) { total += (ie - ib) * (e - b); });
  });
  EXPECT_EQ(total.load(), 400);
  EXPECT_THROW(parallel_for(0, 100, 1, [](int64_t b, int64_t) {
                 if (b == 0) throw std::runtime_error("boom");
               }),
               std::runtime_error);
  // The pool still works after an exception.
  std::atomic<int64_t> sum{0};
  parallel_for(0, 1000, 1, [&](int64_t b, int64_t e) { sum += e - b; });
  EXPECT_EQ(sum.load(), 1000);
}

// Chunks are claimed by whichever thread is free: back-to-back regions, with more threads than
// cores (no spinning: workers sleep and wake late) and with as many as cores, still run every
// chunk of every region exactly once and never a chunk of an older region.
TEST(ThreadPool, BackToBackRegionsRunEachChunkOnce) {
  const int before = num_threads();
  for (int threads : {2, 3, 8}) {
    set_num_threads(threads);
    SCOPED_TRACE(threads);
    for (int region = 0; region < 2000; ++region) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(threads));
      for (auto& h : hits) h = 0;
      parallel_for(0, threads, 1, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
      });
      for (int i = 0; i < threads; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "region " << region;
    }
  }
  set_num_threads(before);
}

}  // namespace
}  // namespace mithril
