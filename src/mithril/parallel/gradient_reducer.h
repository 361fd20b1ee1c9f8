// GradientReducer: the gradient sum of data parallelism. Every rank computed gradients on its
// shard of the batch; reduce() leaves the sum over the ranks in every rank's map, so the
// optimizers step identically everywhere and the parameters stay equal without being sent.
//
// Gradients travel in buckets: consecutive tensors of one dtype (the map's key order, the same on
// every rank) packed into one buffer of about bucket_bytes, so there are a few large messages
// instead of one per parameter. Each bucket is a blocking MPI_Allreduce: Open MPI's nonblocking
// collectives progress only inside MPI calls, so with no work to overlap them with they gain
// nothing (the MLP Large step measured the same either way). Overlap with the backward pass is not done:
// evaluate() returns the gradients when the whole backward program has run.
//
// deterministic = true fixes the reduction order: each bucket is all-gathered and every rank adds
// the ranks' copies in rank order (acc = g_first; acc += g_next; ... in the gradient's dtype),
// the order in which one process accumulating the same micro-batches adds them (the Trainer's
// add_into), so n ranks give bitwise the parameters of one process with
// gradient_accumulation_steps = n. MPI's own sum (deterministic = false) is cheaper (a reduction
// tree or ring; n-1 times fewer bytes received) but its order is MPI's.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mithril/parallel/communicator.h"

namespace mithril::parallel {

struct ReducerOptions {
  int64_t bucket_bytes = int64_t{25} << 20;  // PyTorch DDP's default bucket size
  bool deterministic = false;
};

class GradientReducer {
 public:
  GradientReducer(std::shared_ptr<Communicator> comm, ReducerOptions options);

  // Sums `grads` (the same keys, shapes and dtypes, float32 or float64, on every rank) over the
  // ranks in place. `contributes[r]` is false for a rank that had no samples this step: its
  // (zero) gradients are left out of a deterministic sum, so the order stays that of the ranks
  // that had samples.
  void reduce(std::map<std::string, Tensor>& grads, const std::vector<bool>& contributes);

  Communicator& comm() const { return *comm_; }
  const ReducerOptions& options() const { return options_; }

 private:
  std::shared_ptr<Communicator> comm_;
  ReducerOptions options_;
};

}  // namespace mithril::parallel
