// The conformance runner: executes Mithril's JSON test-case files (shared/conformance) through
// the general model-dict -> compile -> evaluate path and applies the pass rules of the suite's
// README: float64, exact key sets, |e - a| < 1e-14 entirely by absolute or by relative error.
#pragma once

#include <string>
#include <vector>

namespace mithril::conformance {

enum class Status { passed, failed, skipped };

struct CaseResult {
  std::string name;
  Status status;
  std::string reason;  // why it failed or was skipped
};

struct FileReport {
  std::string file;
  std::vector<CaseResult> cases;
  int passed = 0, failed = 0, skipped = 0;
};

// Runs every case of one file (only names containing `filter` when it is not empty).
// The kind of file is recognised from its name (models_directed_test.json, ...).
FileReport run_file(const std::string& path, const std::string& filter = "");

// The cases Mithril itself skips upstream (README §10), by file stem and case name.
bool is_upstream_skipped(const std::string& file_stem, const std::string& case_name);

}  // namespace mithril::conformance
