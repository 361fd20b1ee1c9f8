#include "mithril/core/random.h"

#include <cmath>
#include <numbers>

#include "mithril/core/error.h"

namespace mithril {

Rng Rng::stream(uint64_t seed, uint64_t stream) {
  Rng mix(seed ^ (0xD1B54A32D192ED03ull * (stream + 1)));
  return Rng(mix.next());
}

uint64_t Rng::next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

double Rng::uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

double Rng::normal() {
  const double u1 = 1.0 - uniform();  // (0, 1]
  const double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

uint64_t Rng::below(uint64_t n) {
  MI_CHECK(n > 0, ValueError, "[rng] below(0)");
  // Rejection removes the modulo bias.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x = next();
  while (x >= limit) x = next();
  return x % n;
}

std::string Rng::state_string() const { return std::to_string(state_); }

Rng Rng::from_state_string(const std::string& s) {
  MI_CHECK(!s.empty() && s.find_first_not_of("0123456789") == std::string::npos, ValueError,
           "[rng] malformed state '{}'", s);
  try {
    return Rng(std::stoull(s));
  } catch (const std::exception&) {
    MI_THROW(ValueError, "[rng] malformed state '{}'", s);
  }
}

std::vector<int64_t> permutation(int64_t n, Rng& rng) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) p[static_cast<size_t>(i)] = i;
  for (int64_t i = n - 1; i > 0; --i)
    std::swap(p[static_cast<size_t>(i)], p[rng.below(static_cast<uint64_t>(i + 1))]);
  return p;
}

}  // namespace mithril
