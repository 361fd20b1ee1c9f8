// Pieces of the JSON conformance suite (shared/conformance) that every runner needs: JSON
// values to tensors, the golden comparison rule (README section 1.1) and the list of cases
// Mithril itself skips (README section 10).
#pragma once

#include <string>

#include "mithril/core/tensor.h"
#include "mithril/logical/primitive.h"  // json

namespace mithril::logical {

// A number, a bool (1/0) or nested rectangular lists of them. A JSON scalar gives a 0-d
// tensor, [2.0] shape (1,). Throws ValueError for ragged lists and non-numeric entries.
Tensor json_to_tensor(const json& value, DType dtype = DType::f64);

// True for an expected value given per backend: {"numpy": v, "torch": v, "jax": v}.
bool is_per_backend(const json& value);
// The value to compare against: the "numpy" entry of a per-backend object, else the value.
const json& expected_value(const json& value);

struct Comparison {
  bool ok = false;
  std::string reason;  // empty when ok
};
// The golden pass rule: identical shapes, and either every |e - a| < tolerance or every
// |e - a| < tolerance * |e| (strict; NaN never passes). `actual` may have any dtype.
Comparison compare_golden(const Tensor& actual, const json& expected, double tolerance = 1e-14);

// Converts a case of the legacy primitives_directed_test.json (README section 9) to the common
// format of section 1: results.eval becomes {"output": ...}, output_grad becomes
// output_grads.output, static_inputs becomes static_keys. Two differences of the old API are
// mapped: Concat took inputs input1..inputN (now the list `input`, with is_list and a list of
// gradients), and LeakyRelu's default slope was 0.2 (now 0.01, so it is passed explicitly).
json from_legacy_primitive_case(const json& legacy);

// Cases Mithril removes before running its golden files; `file` is the file name
// ("models_directed_test.json").
bool is_upstream_skipped(const std::string& file, const std::string& case_name);

}  // namespace mithril::logical
