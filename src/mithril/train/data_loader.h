// DataLoader: batches of a Dataset in a seeded order, loaded by worker threads ahead of use.
//
// The order of an epoch is a function of (seed, epoch) alone (a Fisher-Yates shuffle with our own
// generator, or 0..n-1 without shuffle), and batch k always holds the same samples, so the batches
// are identical for any num_workers. Workers take batch numbers in order and load them; at most
// num_workers * prefetch_factor batches are loaded or loading but not yet taken by the caller (a
// bounded prefetch queue). An exception while loading sample i is re-thrown in the caller, by
// next(), when that batch is reached, as a ValueError naming the sample index and the reason.
// Destroying the loader (or starting another epoch) mid-epoch stops and joins the workers.
// pin_memory is accepted for API parity with PyTorch and does nothing: there is no GPU to copy to.
//
// Sharding for data parallelism: with world_size n, the loader of rank r yields the global
// batches first + r, first + r + n, first + r + 2n, ... of the epoch started at batch `first`, so
// the n ranks together see every batch once, and the j-th batch of every rank belongs to the
// j-th group of n consecutive batches: an optimizer step over one batch per rank covers the
// batches one process would accumulate over n micro-batches. Counting from `first` rather than
// from 0 lets a run resume at any batch under another world size.
#pragma once

#include <condition_variable>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "mithril/train/dataset.h"

namespace mithril::train {

struct Batch {
  std::map<std::string, Tensor> fields;  // each sample field stacked along a new axis 0
  std::vector<int64_t> indices;          // dataset indices of the samples, in batch order
  int64_t size() const { return static_cast<int64_t>(indices.size()); }
};

// Stacks samples (the same fields, shapes and dtypes; ValueError naming the sample otherwise).
Batch collate(const std::vector<Sample>& samples, std::vector<int64_t> indices);

struct DataLoaderOptions {
  int64_t batch_size = 32;
  bool shuffle = false;
  int num_workers = 0;  // 0: batches are loaded by the caller inside next()
  bool pin_memory = false;  // no-op on the CPU backend
  int prefetch_factor = 2;  // batches in flight per worker
  bool drop_last = false;   // drop a last batch smaller than batch_size
  uint64_t seed = 0;
  int64_t rank = 0;        // this process's shard (data parallelism) ...
  int64_t world_size = 1;  // ... of this many
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Batches of an epoch over all ranks (the global batches); this rank gets about 1/world_size.
  int64_t num_batches() const;
  int64_t num_samples() const { return dataset_->size(); }
  const DataLoaderOptions& options() const { return options_; }
  // The sample order of an epoch (a function of seed and epoch only).
  std::vector<int64_t> epoch_order(int64_t epoch) const;

  // Begins an epoch at global batch `first_batch` (a resumed run skips the batches it has done);
  // stops the previous epoch's workers first.
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  // The next batch of the epoch, or nullopt at its end.
  std::optional<Batch> next();
  // Stops the workers (pending batches are dropped); next() then returns nullopt.
  void stop();

  // The largest number of batches that were loaded or loading but not yet taken (for tests of
  // the prefetch bound).
  int64_t max_in_flight() const;

 private:
  Batch load(int64_t batch) const;
  void worker();

  std::shared_ptr<const Dataset> dataset_;
  DataLoaderOptions options_;
  std::vector<int64_t> order_;
  // This rank's batches of the epoch are slots 0..end_-1; slot k is global batch first_ + k * n + rank.
  int64_t first_ = 0, end_ = 0;
  int64_t global_batch(int64_t slot) const { return first_ + slot * options_.world_size + options_.rank; }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  int64_t next_to_load_ = 0, next_to_take_ = 0, max_in_flight_ = 0;
  bool stopping_ = false;
  std::map<int64_t, Batch> ready_;
  std::map<int64_t, std::exception_ptr> failed_;
  std::vector<std::thread> workers_;
};

}  // namespace mithril::train
