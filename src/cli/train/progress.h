// Progress reporting for training runs: on a terminal, one line redrawn after every step
// (epoch, step, loss, samples/s, ETA); otherwise (logs, pipes, CI) nothing per step and one
// plain line per epoch, so log files stay readable.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "cli/train/metrics_log.h"

namespace mithril::train {

class Progress {
 public:
  // interactive: draw the per-step bar (default: whether `out` is a terminal).
  explicit Progress(int64_t epochs, std::FILE* out = stdout);
  Progress(int64_t epochs, std::FILE* out, bool interactive);
  bool interactive() const { return interactive_; }

  void start_epoch(int64_t epoch);  // 0-based
  void step(int64_t batches_done, int64_t batches_total, int64_t samples_done, double loss);
  void end_epoch(const EpochRow& row);

 private:
  std::FILE* out_;
  bool interactive_;
  int64_t epochs_, epoch_ = 0;
  std::chrono::steady_clock::time_point epoch_start_;
};

std::string format_epoch_line(const EpochRow& row, int64_t epochs);

}  // namespace mithril::train
