#include "mithril/graph/memory_plan.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <optional>

namespace mithril {

int64_t plan_aligned(int64_t bytes) { return (std::max<int64_t>(bytes, 1) + kPlanAlignment - 1) / kPlanAlignment * kPlanAlignment; }

bool lifetimes_overlap(const BufferLifetime& a, const BufferLifetime& b) { return a.first <= b.last && b.first <= a.last; }

namespace {

// The buffers placed so far, by lifetime, so that finding those that share a step with a new
// buffer costs what they are, not a scan of every placed buffer (a chain of n steps would be
// n^2). A lifetime [first, last] overlaps [f, l] when it contains step f or starts in (f, l]:
// the first are found in a segment tree over the steps (a lifetime is stored at the O(log
// steps) nodes covering it, and the nodes on the path to step f hold exactly those containing
// f), the second in a map by first step. Each placed buffer is reported once.
class PlacedLifetimes {
 public:
  explicit PlacedLifetimes(int steps) {
    while (size_ < steps) size_ *= 2;
    nodes_.resize(2 * static_cast<size_t>(size_));
  }
  void insert(int id, const BufferLifetime& b) {
    cover(1, 0, size_ - 1, b.first, b.last, id);
    by_first_.emplace(b.first, id);
  }
  template <class F>
  void overlapping(const BufferLifetime& b, F&& f) const {
    for (int node = 1, lo = 0, hi = size_ - 1;;) {
      for (int id : nodes_[static_cast<size_t>(node)]) f(id);
      if (lo == hi) break;
      const int mid = (lo + hi) / 2;
      if (b.first <= mid) node = 2 * node, hi = mid;
      else node = 2 * node + 1, lo = mid + 1;
    }
    for (auto it = by_first_.upper_bound(b.first); it != by_first_.end() && it->first <= b.last; ++it) f(it->second);
  }

 private:
  void cover(int node, int lo, int hi, int first, int last, int id) {
    if (last < lo || hi < first) return;
    if (first <= lo && hi <= last) {
      nodes_[static_cast<size_t>(node)].push_back(id);
      return;
    }
    const int mid = (lo + hi) / 2;
    cover(2 * node, lo, mid, first, last, id);
    cover(2 * node + 1, mid + 1, hi, first, last, id);
  }
  int size_ = 1;
  std::vector<std::vector<int>> nodes_;
  std::multimap<int, int> by_first_;
};

// Below this many buffers a scan of the placed ones is cheaper than building the index (and
// the exhaustive search over orders, for up to 7 buffers, places them thousands of times).
constexpr size_t kIndexedPlacement = 64;

// Places buffers in `order`, each at the lowest offset where it overlaps no placed buffer whose
// lifetime it shares. Returns the arena size; fills `offsets`.
int64_t lowest_fit(const std::vector<BufferLifetime>& bufs, const std::vector<int>& order, std::vector<int64_t>& offsets,
                   int64_t give_up_above, int steps) {
  std::vector<int> placed;
  std::optional<PlacedLifetimes> index;
  if (bufs.size() >= kIndexedPlacement) index.emplace(steps);
  std::vector<std::pair<int64_t, int64_t>> busy;  // [begin, end) of conflicting placed buffers
  int64_t arena = 0;
  for (int b : order) {
    const BufferLifetime& me = bufs[static_cast<size_t>(b)];
    busy.clear();
    auto conflict = [&](int p) {
      busy.emplace_back(offsets[static_cast<size_t>(p)], offsets[static_cast<size_t>(p)] + bufs[static_cast<size_t>(p)].bytes);
    };
    if (index) {
      index->overlapping(me, conflict);
    } else {
      for (int p : placed)
        if (lifetimes_overlap(me, bufs[static_cast<size_t>(p)])) conflict(p);
    }
    std::sort(busy.begin(), busy.end());
    int64_t at = 0;
    for (const auto& [begin, end] : busy) {
      if (begin >= at + me.bytes) break;  // the gap before this block fits
      at = std::max(at, end);
    }
    offsets[static_cast<size_t>(b)] = at;
    arena = std::max(arena, at + me.bytes);
    if (arena > give_up_above) return arena;
    if (index) index->insert(b, me);
    else placed.push_back(b);
  }
  return arena;
}

}  // namespace

MemoryPlan plan_memory(const std::vector<BufferLifetime>& input) {
  std::vector<BufferLifetime> bufs = input;
  MemoryPlan plan;
  const size_t n = bufs.size();
  plan.offsets.assign(n, 0);
  int last_step = 0;
  for (BufferLifetime& b : bufs) {
    b.bytes = plan_aligned(b.bytes);
    plan.naive_bytes += b.bytes;
    last_step = std::max(last_step, b.last);
  }
  if (n == 0) return plan;
  // Lower bound: the most bytes alive at any one step (difference array over steps).
  std::vector<int64_t> live(static_cast<size_t>(last_step) + 2, 0);
  for (const BufferLifetime& b : bufs) {
    live[static_cast<size_t>(b.first)] += b.bytes;
    live[static_cast<size_t>(b.last) + 1] -= b.bytes;
  }
  int64_t running = 0;
  for (int64_t d : live) plan.lower_bound = std::max(plan.lower_bound, running += d);

  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::vector<int64_t> offsets(n);
  int64_t best = INT64_MAX;
  auto consider = [&](const std::vector<int>& o) {
    const int64_t size = lowest_fit(bufs, o, offsets, best, last_step + 1);
    if (size < best) {
      best = size;
      plan.offsets = offsets;
    }
  };
  // Heuristic orders: largest first, earliest first, longest-lived first.
  auto by = [&](auto key) {
    std::vector<int> o = order;
    std::stable_sort(o.begin(), o.end(), [&](int a, int b) { return key(bufs[static_cast<size_t>(a)]) > key(bufs[static_cast<size_t>(b)]); });
    consider(o);
  };
  by([](const BufferLifetime& b) { return b.bytes; });
  by([](const BufferLifetime& b) { return -static_cast<int64_t>(b.first); });
  by([](const BufferLifetime& b) { return static_cast<int64_t>(b.last - b.first) * 1'000'000'000 + b.bytes; });
  by([](const BufferLifetime& b) { return b.bytes * static_cast<int64_t>(b.last - b.first + 1); });
  // Few buffers: every order (7! = 5040 placements at most), stopping at the lower bound.
  if (n <= 7 && best > plan.lower_bound) {
    do {
      consider(order);
    } while (best > plan.lower_bound && std::next_permutation(order.begin(), order.end()));
  }
  plan.arena_bytes = best;
  return plan;
}

}  // namespace mithril
