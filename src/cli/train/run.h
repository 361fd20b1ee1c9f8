// One training run from a TrainConfig, as `mithril train` performs it: builds the data and the
// model, initialises or resumes, trains with progress output, evaluates after every epoch, writes
// metrics (CSV/JSON) and checkpoints, and returns the final metrics.
#pragma once

#include <cstdio>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/train/config.h"

namespace mithril::train {

struct RunOptions {
  std::optional<int64_t> epochs;  // overrides the config
  std::optional<bool> resume;     // overrides the config
  std::string metrics_out;        // final metrics as one JSON object
  std::string plot;               // PNG of the loss and accuracy curves
  std::FILE* out = stdout;        // progress and log lines
  // Compile options (JSON file or inline JSON, runtime/compile_options.h) the run's model is
  // compiled with; the config's precision wins over theirs. `parallelism: "data"` under
  // `mpirun -np N` trains over N ranks: each takes its shard of every step's batches, rank 0
  // alone prints, logs and writes checkpoints, and a checkpoint resumes under any world size.
  std::string compile_options;
};

// The final metrics: epochs, steps, train_loss, test_loss, test_accuracy (null when not
// measured), seconds (whole run), train_seconds, seconds_per_epoch, samples_per_second (training
// samples per training second, of all ranks), parameters, precision, world_size and
// communication_seconds (rank 0's time in collectives); text models add unigram_entropy and sample.
nlohmann::json run_training(const TrainConfig& config, const RunOptions& options = {});

}  // namespace mithril::train
