#include "cli/parallel_run.h"

#include "mithril/core/error.h"

namespace mithril::cli {

ParallelRun parallel_run(const CompileOptions& options, const char* tag) {
  ParallelRun run;
  const bool launched = parallel::launched_by_mpi();
  if (options.parallelism == Parallelism::none) {
    const int world = launched ? parallel::Communicator::world()->size() : 1;
    MI_CHECK(world == 1, ValueError,
             "[{}] this process is one of {} ranks (mpirun) but parallelism is \"none\": pass --options "
             "'{{\"parallelism\": \"data\"}}' to train one model over the ranks",
             tag, world);
    run.mesh = parallel::DeviceMesh::from_dims(options.device_mesh, 1);
    return run;
  }
  const auto comm = parallel::Communicator::world();
  run.rank = comm->rank();
  run.world = comm->size();
  run.mesh = parallel::DeviceMesh::from_dims(options.device_mesh, run.world);
  run.reducer = std::make_shared<parallel::GradientReducer>(
      comm, parallel::ReducerOptions{.deterministic = options.deterministic});
  return run;
}

void end_all_ranks(int code) {
  if (parallel::launched_by_mpi()) parallel::Communicator::world()->abort(code);
}

}  // namespace mithril::cli
