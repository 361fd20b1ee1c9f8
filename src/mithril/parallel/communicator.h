// Communicator: the ranks of one parallel run and the collectives between them, over MPI.
//
// A process started by mpirun (one rank per device, the launcher's environment says so) joins
// MPI_COMM_WORLD; any other process is a world of one rank in which every collective is the
// identity and MPI is never initialized, so single-process use costs nothing and needs no
// launcher. Collectives work on contiguous float32, float64 and int64 tensors; every rank must
// call them in the same order with the same shapes (MPI's rule). A failed MPI call is a
// CommunicationError naming the operation and MPI's reason; bad arguments (a rank out of range,
// a shape that does not split over the ranks, a dtype MPI is not given) are ValueError,
// ShapeError and DTypeError naming the operation.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "mithril/core/error.h"
#include "mithril/core/tensor.h"

namespace mithril::parallel {

class CommunicationError : public Error {
 public:
  using Error::Error;
};

// Seconds spent inside collectives since the last reset (the time a rank waits for the others
// included), and the bytes this rank sent.
struct CommStats {
  double seconds = 0;
  int64_t bytes = 0;
  int64_t calls = 0;
};

class Communicator {
 public:
  // The world of this process: MPI_COMM_WORLD under a launcher (MPI initialized on first use and
  // finalized at exit), else one rank.
  static std::shared_ptr<Communicator> world();
  // A world of one rank without MPI (tests of the single-process paths).
  static std::shared_ptr<Communicator> local();

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool uses_mpi() const { return mpi_; }

  // Sums `t` over the ranks, in place (every rank gets the sum). The reduction order is MPI's.
  void all_reduce_sum(Tensor& t);
  // Rank r's `t` becomes row r of the result, of shape (size, *t.shape) on every rank.
  Tensor all_gather(const Tensor& t);
  // Sums `t` (dim 0 divisible by size) over the ranks; rank r gets rows [r*d/size, (r+1)*d/size).
  Tensor reduce_scatter_sum(const Tensor& t);
  // Root's `t` is copied into every rank's `t` (same shape and dtype everywhere).
  void broadcast(Tensor& t, int root);
  void send(const Tensor& t, int dst, int tag = 0);
  // Receives into `t`, whose shape and dtype must be those sent.
  void recv(Tensor& t, int src, int tag = 0);
  void barrier();

  // Nonblocking sum in place: start() returns a handle, wait() completes it. For gradient
  // buckets packed while earlier ones travel.
  struct Pending;
  std::shared_ptr<Pending> start_all_reduce_sum(Tensor& t);
  void wait(const std::shared_ptr<Pending>& pending);

  const CommStats& stats() const { return stats_; }
  void reset_stats() { stats_ = {}; }

  // Ends every rank of the run after an error on this one (MPI_Abort), so the others do not wait
  // forever in a collective; returns only in a world of one rank.
  void abort(int code);

 private:
  Communicator(bool mpi, int rank, int size) : mpi_(mpi), rank_(rank), size_(size) {}
  bool mpi_;
  int rank_, size_;
  CommStats stats_;
};

// Whether this process was started by an MPI launcher (mpirun / mpiexec).
bool launched_by_mpi();

}  // namespace mithril::parallel
