// The randomized-model property runner (shared/conformance README §8). Upstream Mithril compares
// its backends against each other on random models and inputs; we have one backend, so each
// iteration checks our forward and VJP against an independent float64 reference: central finite
// differences of <cotangent, outputs> along random directions of the trainable inputs.
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

// Runs one case; throws with the reason (including the seed) when a property fails.
void run_randomized_case(const json& c, uint64_t seed = kRandomizedSeed, const CompileOptions& base = {});

}  // namespace mithril::conformance
