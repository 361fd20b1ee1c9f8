// Trainer: runs epochs of a DataLoader through a compiled model's gradient evaluation, accumulates
// gradients over micro-batches, clips them, steps the optimizer with the scheduled learning rate,
// and evaluates loss and accuracy.
//
// Gradient accumulation with mean-reduced losses: a step over micro-batches of n_1..n_k samples
// (N in total) feeds micro-batch i the loss cotangent n_i / N, so the accumulated gradient is the
// gradient of the mean loss over all N samples, exactly what one batch of N samples gives (also
// when the last micro-batch of an epoch is smaller). The reported step loss is weighted the same
// way.
//
// Data parallelism (options.reducer set): every rank of an MPI run holds the same parameters and
// runs the same steps on its shard of the batches (DataLoaderOptions rank/world_size). A step
// weighs each micro-batch by its share of the samples of all ranks (their counts are
// all-gathered first), so the summed gradient is the one-process gradient of the mean over every
// rank's samples; the reducer sums the gradients over the ranks (parallel/gradient_reducer.h) and
// every rank steps its optimizer identically. At the end of an epoch a rank without a batch still
// takes part in the step (with zero gradients, left out of a deterministic sum). The epoch
// position counts global batches, so a checkpoint resumes under another world size.
//
// Mixed precision: a model compiled in bf16 (its backend precision) trained from float32 master
// weights. The compiled model casts the weights and float batch fields to its precision; the
// gradients come back in bf16 and are accumulated, clipped and applied in float32.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "mithril/core/random.h"
#include "mithril/parallel/gradient_reducer.h"
#include "mithril/runtime/compile.h"
#include "mithril/train/checkpoint.h"
#include "mithril/train/data_loader.h"
#include "mithril/train/lr_schedule.h"
#include "mithril/train/optimizer.h"

namespace mithril::train {

struct TrainerOptions {
  int64_t grad_accum_steps = 1;  // micro-batches per optimizer step
  LrSchedule schedule;           // the learning rate per step; its base_lr is the optimizer's lr
  double clip_norm = 0.0;        // > 0: clip the global gradient norm to this
  double clip_value = 0.0;       // > 0: clamp every gradient element to [-v, v]
  std::string loss_key = "final_cost";  // scalar model output that is minimised
  std::string output_key = "output";    // [N, C, ...] scores for accuracy (argmax over axis 1)
  std::string target_key = "target";    // batch field with the class indices for accuracy
  // Data parallelism over the reducer's communicator; null: one process.
  std::shared_ptr<parallel::GradientReducer> reducer;
};

struct StepStats {
  double loss = 0;       // mean loss over the step's samples (of every rank)
  int64_t samples = 0;   // of every rank
  double lr = 0;
};

struct EvalStats {
  double loss = 0;       // mean loss per sample
  double accuracy = -1;  // fraction of correct argmax predictions; -1 when not measurable
  int64_t samples = 0;
};

struct EpochStats {
  double loss = 0;  // mean training loss over the epoch's samples
  int64_t samples = 0, steps = 0;
  double seconds = 0;
};

class Trainer {
 public:
  // `model` must have been compiled with gradients and `params` hold every trainable key.
  Trainer(PhysicalModel model, TensorMap params, Optimizer optimizer, TrainerOptions options);

  // One optimizer step over the given micro-batches (this rank's; under data parallelism every
  // rank calls it, possibly with none).
  StepStats step(const std::vector<Batch>& micro_batches);

  // Runs the current epoch from the current batch (a resumed run continues mid-epoch) to its end,
  // calling on_step after every optimizer step, then advances to the next epoch.
  using StepCallback = std::function<void(const StepStats& stats, int64_t batches_done, int64_t batches_total)>;
  EpochStats train_epoch(DataLoader& loader, const StepCallback& on_step = {});

  // Forward passes over every batch of the loader (epoch 0 order); a sharded loader's totals are
  // summed over the ranks.
  EvalStats evaluate(DataLoader& loader);
  // Forward outputs of the model for one batch (parameters bound).
  DataMap forward(const Batch& batch);

  const TensorMap& params() const { return params_; }
  const Optimizer& optimizer() const { return optimizer_; }
  const PhysicalModel& model() const { return model_; }
  int64_t epoch() const { return epoch_; }
  // Global batches of the current epoch done (all ranks together).
  int64_t batch_in_epoch() const { return batch_in_epoch_; }
  int64_t global_step() const { return optimizer_.steps(); }
  Rng& rng() { return rng_; }
  void set_rng(Rng rng) { rng_ = rng; }

  Checkpoint checkpoint() const;
  void save_checkpoint(const std::string& path, const std::map<std::string, std::string>& extra = {}) const;
  // The same checkpoint to several files, serialized once.
  void save_checkpoint(const std::vector<std::string>& paths, const std::map<std::string, std::string>& extra = {}) const;
  // Restores parameters, optimizer state, position and RNG; parameter keys, shapes and the
  // optimizer must match this run (ValueError naming the difference).
  void restore(const Checkpoint& checkpoint);
  void load_checkpoint(const std::string& path) { restore(read_checkpoint(path)); }

 private:
  // The parameters as model inputs (the compiled model casts them to its precision).
  DataMap param_inputs() const;
  // `params` (param_inputs()) plus the batch's fields.
  DataMap inputs_for(const DataMap& params, const Batch& batch) const;
  int world_size() const { return options_.reducer ? options_.reducer->comm().size() : 1; }
  void check_shard(const DataLoader& loader) const;
  PhysicalModel model_;
  TensorMap params_;
  Optimizer optimizer_;
  TrainerOptions options_;
  int64_t epoch_ = 0, batch_in_epoch_ = 0;
  Rng rng_{0};
};

}  // namespace mithril::train
