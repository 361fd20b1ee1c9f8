// Per-epoch metrics of a run: kept in memory, written as CSV and JSON after every epoch (so an
// interrupted run leaves its curves), and plotted to a PNG with gnuplot (Debian's gnuplot-nox).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mithril::train {

struct EpochRow {
  int64_t epoch = 0;  // 1-based
  int64_t step = 0;   // optimizer steps so far
  double train_loss = 0, test_loss = 0;
  double test_accuracy = -1;  // -1: not measured
  double lr = 0;
  double seconds = 0;  // training time of the epoch (without evaluation)
  double samples_per_second = 0;
};

class MetricsLog {
 public:
  void add(const EpochRow& row) { rows_.push_back(row); }
  const std::vector<EpochRow>& rows() const { return rows_; }
  void set_rows(std::vector<EpochRow> rows) { rows_ = std::move(rows); }
  void write_csv(const std::string& path) const;   // header + one line per epoch; atomic
  nlohmann::json to_json() const;                   // {"epochs": [{...}, ...]}
  static MetricsLog from_json(const nlohmann::json& j);  // to_json's inverse (resumed runs)
  // Two panels (train/test loss, test accuracy) over epochs; ValueError when gnuplot is missing
  // or fails, with its message.
  void plot(const std::string& png_path, const std::string& title) const;

 private:
  std::vector<EpochRow> rows_;
};

}  // namespace mithril::train
