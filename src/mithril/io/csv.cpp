#include "mithril/io/csv.h"

#include <cmath>
#include <cstdlib>
#include <vector>

#include "mithril/core/error.h"
#include "mithril/io/file.h"

namespace mithril::io {

namespace {

// Numbers of one CSV row; false when a field is not a number.
bool parse_row(const std::string& line, std::vector<double>& out) {
  out.clear();
  const char* p = line.c_str();
  while (true) {
    char* end = nullptr;
    const double v = std::strtod(p, &end);
    if (end == p) return false;
    out.push_back(v);
    while (*end == ' ' || *end == '\r' || *end == '\t') ++end;
    if (*end == '\0') return true;
    if (*end != ',') return false;
    p = end + 1;
  }
}

}  // namespace

LabeledCsv read_labeled_csv(const std::string& path, const LabeledCsvOptions& options) {
  return parse_labeled_csv(io::read_file_maybe_gz(path, "csv"), path, options);
}

LabeledCsv parse_labeled_csv(const std::string& text, const std::string& path, const LabeledCsvOptions& options) {
  std::vector<float> features;
  std::vector<int32_t> labels;
  std::vector<double> row;
  int64_t columns = -1, line_no = 0, label_col = 0;
  size_t at = 0;
  while (at < text.size()) {
    size_t nl = text.find('\n', at);
    if (nl == std::string::npos) nl = text.size();
    const std::string line = text.substr(at, nl - at);
    at = nl + 1;
    ++line_no;
    if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
    if (!parse_row(line, row)) {
      MI_CHECK(line_no == 1, ValueError, "[csv] {}: line {} is not a row of numbers: '{}'", path, line_no,
               line.substr(0, 80));
      continue;  // a header
    }
    if (columns < 0) {
      columns = static_cast<int64_t>(row.size());
      MI_CHECK(columns >= 2, ValueError, "[csv] {}: rows need a label and at least one feature, line {} has {} column",
               path, line_no, columns);
      label_col = options.label_column < 0 ? columns + options.label_column : options.label_column;
      MI_CHECK(label_col >= 0 && label_col < columns, ValueError, "[csv] {}: label column {} is out of range ({} columns)",
               path, options.label_column, columns);
    }
    MI_CHECK(static_cast<int64_t>(row.size()) == columns, ValueError, "[csv] {}: line {} has {} columns, expected {}",
             path, line_no, row.size(), columns);
    for (int64_t c = 0; c < columns; ++c) {
      const double v = row[static_cast<size_t>(c)];
      if (c != label_col) {
        features.push_back(static_cast<float>(v * options.scale));
        continue;
      }
      MI_CHECK(v == std::floor(v) && std::fabs(v) < 2e9, ValueError, "[csv] {}: line {} label {} is not an integer",
               path, line_no, v);
      labels.push_back(static_cast<int32_t>(v));
    }
  }
  MI_CHECK(!labels.empty(), ValueError, "[csv] {}: no data rows", path);
  const auto n = static_cast<int64_t>(labels.size());
  return {Tensor::from_vector(features, {n, columns - 1}), Tensor::from_vector(labels, {n})};
}

}  // namespace mithril::io
