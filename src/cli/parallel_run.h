// The ranks a command runs on: from the compile options (`parallelism`, `device_mesh`,
// `deterministic`) and the world this process is part of (mpirun -np N, or one rank).
#pragma once

#include <memory>

#include "mithril/parallel/device_mesh.h"
#include "mithril/parallel/gradient_reducer.h"
#include "mithril/runtime/compile.h"

namespace mithril::cli {

struct ParallelRun {
  std::shared_ptr<parallel::GradientReducer> reducer;  // null: one process
  int rank = 0, world = 1;
  parallel::DeviceMesh mesh;
  bool leader() const { return rank == 0; }  // the rank that prints and writes files
};

// parallelism "data": the world's ranks over the checked device mesh with a gradient reducer.
// A world of several ranks with parallelism "none" is a ValueError (every rank would train the
// whole model on the whole data and write the same files); `tag` names the command.
ParallelRun parallel_run(const CompileOptions& options, const char* tag);

// After an error on this rank of a run of several: ends every rank (MPI_Abort with `code`) so the
// others do not wait forever in a collective. Returns when this process is not one of several.
void end_all_ranks(int code);

}  // namespace mithril::cli
