// `mithril bench --train` under `mpirun -np N` with parallelism "data": every rank times training
// steps on its own batch (forward, backward, the gradient sum over the ranks, SGD), and rank 0
// prints each rank's step time, time in communication and samples/s, and the aggregate
// throughput (N batches per step of the slowest rank).
#pragma once

#include <map>
#include <string>

#include "cli/model_setup.h"
#include "cli/parallel_run.h"

namespace mithril::cli {

struct DataParallelBench {
  std::string model_file;
  int64_t batch = 0;            // per rank
  int warmup = 3, iterations = 20;
  double lr = 1e-4;
  uint64_t seed = 0;
  bool json = false;
};

// Runs on every rank; prints on rank 0. Returns the exit status.
int run_data_parallel_bench(const ModelSetup& setup, const PhysicalModel& model, std::map<std::string, Shape> shapes,
                            const std::string& batch_key, DType dtype, const DataParallelBench& options,
                            const ParallelRun& run);

}  // namespace mithril::cli
