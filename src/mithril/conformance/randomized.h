// The randomized-model property runner (shared/conformance README §8). Upstream Mithril compares
// its backends against each other on random models and inputs; we have one backend, so each
// iteration checks our forward and VJP against an independent float64 reference: central finite
// differences of <cotangent, outputs> along random directions of the trainable inputs, and the
// forward outputs against the same model compiled for a second backend (cpu against the
// float64 reference backend, whose kernels are an independent implementation, or the other way
// round), with the case's float64 tolerances.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>

#include "mithril/core/tensor.h"
#include "mithril/logical/primitive.h"
#include "mithril/runtime/compile.h"

namespace mithril::conformance {

using logical::json;
using Rng = std::mt19937_64;

// The fixed seed of `mithril conformance` runs: results are reproducible run to run.
inline constexpr uint64_t kRandomizedSeed = 20240611;

// One draw of `randomized_args`: [lo, hi] (integers) -> an int in [lo, hi]; a list of other
// values (strings, bools) -> one of them; a list of lists -> one draw per element. Names listed
// in `floats` draw a real number uniformly in [lo, hi].
json draw_args(const json& randomized_args, const json& floats, Rng& rng);

// A shape from `shapes`: [[lo, hi], ...] draws each dim in [lo, hi]; a string names an entry
// of `random_shapes` (drawn once per iteration and passed in `named`).
Shape draw_shape(const json& shapes, const std::map<std::string, Shape>& named, Rng& rng);

// Values for one input: normal(mean, std_dev), then is_positive (|x|), is_symmetric and
// zero_diag (over the last two axes), normalize (divide by the total); "bool" -> x > 0;
// "mode": "int" -> integers uniform in [interval lo, interval hi] (each bound may itself be
// a [lo, hi] range). Integers and booleans are stored as float64; ports convert them.
Tensor draw_tensor(const json& info, const Shape& shape, Rng& rng);

// What one case really checked. Every iteration must make at least one check: a gradient
// direction compared with central differences when the model has trainable inputs, else a
// forward comparison with an independent float64 reference. An iteration that made none (every
// output non-finite, nothing to compare with) is drawn again, up to kRandomizedRedraws times,
// and the case fails when it still made none, so no case passes without being checked.
struct RandomizedReport {
  int iterations = 0;
  int redraws = 0;                 // iterations drawn again because the draw checked nothing
  int forward_checks = 0;          // outputs compared with a hand-written reference
  int cross_backend_checks = 0;    // outputs compared with the same model on another backend
  int gradient_checks = 0;         // directions compared with central differences
  std::string summary() const;     // "10 iterations: 10 forward, 30 gradient directions, ..."
};

inline constexpr int kRandomizedRedraws = 4;

// Runs one case; throws with the reason (including the seed) when a property fails or an
// iteration could not be checked.
RandomizedReport run_randomized_case(const json& c, uint64_t seed = kRandomizedSeed, const CompileOptions& base = {});

}  // namespace mithril::conformance
