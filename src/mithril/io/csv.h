// Numeric CSV files with a label column (optionally gzip-compressed, by a ".gz" name): one sample
// per row, fields separated by commas; a first row that is not numeric is taken as a header.
#pragma once

#include <cstdint>
#include <string>

#include "mithril/core/tensor.h"

namespace mithril::io {

struct LabeledCsvOptions {
  int64_t label_column = -1;  // negative counts from the end
  double scale = 1.0;         // applied to every feature
};

struct LabeledCsv {
  Tensor features;  // f32 [rows, columns - 1], multiplied by `scale`
  Tensor labels;    // i32 [rows]: the label column, which must hold integers
};

// ValueError naming the file and the line for a row that is not numbers, a column count that
// differs from the first row's, a label out of range or not an integer, and a file without rows.
LabeledCsv read_labeled_csv(const std::string& path, const LabeledCsvOptions& options = {});
// The same from the (inflated) text of a file; `what` names it in messages.
LabeledCsv parse_labeled_csv(const std::string& text, const std::string& what, const LabeledCsvOptions& options = {});

}  // namespace mithril::io
