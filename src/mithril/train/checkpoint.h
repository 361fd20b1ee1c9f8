// Training checkpoints as safetensors files: parameters ("param/<key>"), optimizer state
// ("optim/<slot>/<key>") and, in the string metadata, the format tag, optimizer name, optimizer
// step, epoch, batch within the epoch and the run's RNG state. Files are written atomically
// (temporary file, fsync, rename); a truncated or corrupt file, or one that is not a Mithril
// checkpoint, is a ValueError naming the file and the reason.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "mithril/train/optimizer.h"

namespace mithril::train {

struct Checkpoint {
  TensorMap params;
  TensorMap optimizer_state;  // Optimizer::state()
  std::string optimizer;      // OptimizerConfig::name, checked on resume
  int64_t step = 0;           // optimizer steps taken
  int64_t epoch = 0;          // epoch in progress (or the next one when batch == 0)
  int64_t batch = 0;          // batches of that epoch already used
  std::string rng_state;      // Rng::state_string()
  std::map<std::string, std::string> extra;  // other metadata (data seed, config name, ...)
};

void write_checkpoint(const std::string& path, const Checkpoint& checkpoint);
// Serializes once and writes the same bytes atomically to each path in turn.
void write_checkpoint(const std::vector<std::string>& paths, const Checkpoint& checkpoint);
Checkpoint read_checkpoint(const std::string& path);

}  // namespace mithril::train
