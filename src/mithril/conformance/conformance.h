// The conformance runner: executes Mithril's JSON test-case files (shared/conformance) through
// the general model-dict -> compile -> evaluate path and applies the pass rules of the suite's
// README: float64, exact key sets, |e - a| < 1e-14 entirely by absolute or by relative error.
#pragma once

#include <string>
#include <vector>

#include "mithril/backends/backend.h"
#include "mithril/core/tensor.h"
#include "mithril/logical/primitive.h"
#include "mithril/runtime/compile.h"

namespace mithril::conformance {

using logical::json;

enum class Status { passed, failed, skipped };

struct CaseResult {
  std::string name;
  Status status;
  std::string reason;  // why it failed or was skipped
  std::string detail;  // what a passed case checked, where the runner counts it (randomized cases)
};

struct FileReport {
  std::string file;
  std::vector<CaseResult> cases;
  int passed = 0, failed = 0, skipped = 0;
};

// Runs every case of one file (only names containing `filter` when it is not empty).
// The kind of file is recognised from its name (models_directed_test.json, ...). Every compile
// of a case starts from `base` (`mithril conformance --options`, e.g. {"jit": false}), with the
// case's own constant, discard and trainable keys and inference added.
FileReport run_file(const std::string& path, const std::string& filter = "", const CompileOptions& base = {});

// The cases Mithril itself skips upstream (README §10); `file` is the file name
// ("models_directed_test.json").
bool is_upstream_skipped(const std::string& file, const std::string& case_name);

// The value to compare against: the "numpy" entry of a per-backend object
// {"numpy": v, "torch": v, "jax": v}, else the value itself.
const json& expected_value(const json& value);

struct Comparison {
  bool ok = false;
  std::string reason;  // empty when ok
};
// The golden pass rule: identical shapes, and either every |e - a| < tolerance or every
// |e - a| < tolerance * |e| (strict; NaN never passes). `actual` may have any dtype.
Comparison compare_golden(const Tensor& actual, const json& expected, double tolerance = 1e-14);

// Converts a case of the legacy primitives_directed_test.json (README §9) to the common
// format of §1: results.eval becomes {"output": ...}, output_grad becomes output_grads.output,
// static_inputs becomes static_keys. Two differences of the old API are mapped: Concat took
// inputs input1..inputN (now the list `input`, with is_list and a list of gradients), and
// LeakyRelu's default slope was 0.2 (now 0.01, so it is passed explicitly).
json from_legacy_primitive_case(const json& legacy);

}  // namespace mithril::conformance
