// Seeded random numbers: shuffles, splits and parameter initialisation. The
// generator and the draws are ours (SplitMix64, Fisher-Yates, Box-Muller) rather than <random>'s
// distributions, whose algorithms differ between standard libraries: a seed gives the same batch
// order and the same initial weights on every platform.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mithril {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) : state_(seed) {}
  // Mixes a stream number into a seed (e.g. the epoch), giving independent sequences.
  static Rng stream(uint64_t seed, uint64_t stream);
  uint64_t next();
  double uniform();                        // [0, 1)
  double uniform(double lo, double hi);    // [lo, hi)
  double normal();                         // standard normal
  uint64_t below(uint64_t n);              // [0, n), n > 0
  std::string state_string() const;        // for checkpoints
  static Rng from_state_string(const std::string& s);  // ValueError if malformed

 private:
  uint64_t state_;
};

// A permutation of 0..n-1 (Fisher-Yates).
std::vector<int64_t> permutation(int64_t n, Rng& rng);

}  // namespace mithril
