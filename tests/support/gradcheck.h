// Test support: random tensors, one-op graph evaluation, and the float64 gradient check
// against central finite differences used by every GradCheck.<Op> test.
#pragma once

#include <functional>
#include <random>
#include <vector>

#include "mithril/core/tensor.h"
#include "mithril/ir/ir.h"

namespace mithril::testing {

// Builds the outputs of a test graph from its input Vars (one per input tensor).
using GraphFn = std::function<std::vector<Var>(Graph&, const std::vector<Var>&)>;

// Uniform values in [lo, hi), deterministic for a given seed.
Tensor random_tensor(const Shape& shape, DType dtype, uint64_t seed, double lo = -1.0, double hi = 1.0);
// Uniform values in [lo, hi) with |value| >= min_abs: keeps inputs away from kinks such as 0.
Tensor random_tensor_away_from_zero(const Shape& shape, DType dtype, uint64_t seed, double lo, double hi,
                                    double min_abs);

// Builds a graph with one input per tensor (named in0, in1, ...) and evaluates it on the CPU.
std::vector<Tensor> evaluate(const GraphFn& fn, const std::vector<Tensor>& inputs);

struct GradCheckOptions {
  double eps = 1e-6;        // central difference step
  double tolerance = 1e-6;  // max |analytic - numeric| / max(1, |analytic|, |numeric|)
  // Inputs to differentiate; empty means every floating-point input.
  std::vector<size_t> wrt;
  uint64_t seed = 7;  // for the random output cotangents
};

// Checks d<outputs, cotangents>/d(inputs) from autodiff against central finite differences
// in float64 (the inputs must be float64). Reports failures through GoogleTest with the
// worst element of each input.
void expect_gradients_match(const GraphFn& fn, const std::vector<Tensor>& inputs, const GradCheckOptions& options = {});

// Element-wise comparison with a combined tolerance |a-b| <= atol + rtol*|b|; reports the
// first mismatch through GoogleTest.
void expect_close(const Tensor& actual, const Tensor& expected, double rtol = 1e-12, double atol = 1e-12);
void expect_close(const Tensor& actual, const std::vector<double>& expected, double rtol = 1e-12, double atol = 1e-12);

}  // namespace mithril::testing
