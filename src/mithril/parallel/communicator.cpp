#include "mithril/parallel/communicator.h"

// The C interface only: Open MPI's deprecated C++ bindings would need libmpi_cxx.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace mithril::parallel {

namespace {

// Collectives run only from the thread that initialized MPI (the caller of the Trainer), so
// MPI_THREAD_FUNNELED is enough; the DataLoader's workers never communicate.
struct MpiSession {
  MpiSession() {
    int provided = 0;
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  }
  ~MpiSession() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
  static void check(int code, const char* what) {
    if (code == MPI_SUCCESS) return;
    char reason[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(code, reason, &len);
    MI_THROW(CommunicationError, "[communicator] {} failed: {}", what, std::string(reason, static_cast<size_t>(len)));
  }
};

void check(int code, const char* what) { MpiSession::check(code, what); }

MPI_Datatype mpi_type(const Tensor& t, const char* op) {
  switch (t.dtype()) {
    case DType::f64: return MPI_DOUBLE;
    case DType::f32: return MPI_FLOAT;
    case DType::i64: return MPI_INT64_T;
    default:
      MI_THROW(DTypeError, "[{}] tensors of dtype {} cannot be communicated: float64, float32 and int64 can", op,
               dtype_name(t.dtype()));
  }
}

void* writable(Tensor& t, const char* op) {
  MI_CHECK(t.defined() && t.is_contiguous(), ValueError, "[{}] needs a contiguous tensor", op);
  mpi_type(t, op);
  return t.raw_data();
}

const void* readable(const Tensor& t, const char* op) {
  MI_CHECK(t.defined() && t.is_contiguous(), ValueError, "[{}] needs a contiguous tensor", op);
  mpi_type(t, op);
  return t.raw_data();
}

int count_of(const Tensor& t, const char* op) {
  MI_CHECK(t.numel() <= INT32_MAX, ValueError, "[{}] {} elements exceed MPI's int count", op, t.numel());
  return static_cast<int>(t.numel());
}

// Adds a collective's time and bytes to the stats on scope exit.
class Timed {
 public:
  Timed(CommStats& s, int64_t bytes) : s_(s), t0_(std::chrono::steady_clock::now()) {
    s_.bytes += bytes;
    ++s_.calls;
  }
  ~Timed() { s_.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count(); }

 private:
  CommStats& s_;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace

struct Communicator::Pending {
  MPI_Request request = MPI_REQUEST_NULL;
  int64_t bytes = 0;
};

bool launched_by_mpi() {
  // The variables Open MPI's mpirun (OMPI_*) and PMIx/PMI launchers (srun, hydra) give each rank;
  // they are the launcher's, not Mithril knobs, so they are not in core/env.h.
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"})
    if (std::getenv(v)) return true;
  return false;
}

std::shared_ptr<Communicator> Communicator::world() {
  static std::once_flag once;
  static std::shared_ptr<Communicator> world;
  std::call_once(once, [] {
    if (!launched_by_mpi()) {
      world = local();
      return;
    }
    static MpiSession session;  // finalized after main returns
    int rank = 0, size = 1;
    check(MPI_Comm_rank(MPI_COMM_WORLD, &rank), "MPI_Comm_rank");
    check(MPI_Comm_size(MPI_COMM_WORLD, &size), "MPI_Comm_size");
    world = std::shared_ptr<Communicator>(new Communicator(true, rank, size));
  });
  return world;
}

std::shared_ptr<Communicator> Communicator::local() {
  return std::shared_ptr<Communicator>(new Communicator(false, 0, 1));
}

void Communicator::all_reduce_sum(Tensor& t) {
  void* p = writable(t, "all_reduce");
  if (!mpi_ || size_ == 1) return;
  Timed timed(stats_, static_cast<int64_t>(t.nbytes()));
  check(MPI_Allreduce(MPI_IN_PLACE, p, count_of(t, "all_reduce"), mpi_type(t, "all_reduce"), MPI_SUM, MPI_COMM_WORLD),
        "MPI_Allreduce");
}

std::shared_ptr<Communicator::Pending> Communicator::start_all_reduce_sum(Tensor& t) {
  void* p = writable(t, "all_reduce");
  auto pending = std::make_shared<Pending>();
  if (!mpi_ || size_ == 1) return pending;
  Timed timed(stats_, static_cast<int64_t>(t.nbytes()));
  pending->bytes = static_cast<int64_t>(t.nbytes());
  check(MPI_Iallreduce(MPI_IN_PLACE, p, count_of(t, "all_reduce"), mpi_type(t, "all_reduce"), MPI_SUM, MPI_COMM_WORLD,
                       &pending->request),
        "MPI_Iallreduce");
  return pending;
}

void Communicator::wait(const std::shared_ptr<Pending>& pending) {
  MI_CHECK(pending != nullptr, ValueError, "[all_reduce] wait() on no pending operation");
  if (pending->request == MPI_REQUEST_NULL) return;
  Timed timed(stats_, 0);
  --stats_.calls;
  check(MPI_Wait(&pending->request, MPI_STATUS_IGNORE), "MPI_Wait");
}

Tensor Communicator::all_gather(const Tensor& t) {
  const void* p = readable(t, "all_gather");
  Shape shape = t.shape();
  shape.insert(shape.begin(), size_);
  Tensor out = Tensor::empty(shape, t.dtype());
  if (!mpi_ || size_ == 1) {
    if (t.nbytes()) std::memcpy(out.raw_data(), p, t.nbytes());
    return out;
  }
  Timed timed(stats_, static_cast<int64_t>(t.nbytes()) * (size_ - 1));
  const MPI_Datatype type = mpi_type(t, "all_gather");
  const int n = count_of(t, "all_gather");
  check(MPI_Allgather(p, n, type, out.raw_data(), n, type, MPI_COMM_WORLD), "MPI_Allgather");
  return out;
}

Tensor Communicator::reduce_scatter_sum(const Tensor& t) {
  const void* p = readable(t, "reduce_scatter");
  MI_CHECK(t.ndim() >= 1 && t.dim(0) % size_ == 0, ShapeError,
           "[reduce_scatter] dim 0 of shape {} must split evenly over {} ranks", shape_str(t.shape()), size_);
  Shape shape = t.shape();
  shape[0] /= size_;
  Tensor out = Tensor::empty(shape, t.dtype());
  if (!mpi_ || size_ == 1) {
    if (t.nbytes()) std::memcpy(out.raw_data(), p, t.nbytes());
    return out;
  }
  Timed timed(stats_, static_cast<int64_t>(t.nbytes()));
  check(MPI_Reduce_scatter_block(p, out.raw_data(), count_of(out, "reduce_scatter"), mpi_type(t, "reduce_scatter"),
                                 MPI_SUM, MPI_COMM_WORLD),
        "MPI_Reduce_scatter_block");
  return out;
}

void Communicator::broadcast(Tensor& t, int root) {
  MI_CHECK(root >= 0 && root < size_, ValueError, "[broadcast] root rank {} is out of range (world of {} ranks)", root,
           size_);
  void* p = writable(t, "broadcast");
  if (!mpi_ || size_ == 1) return;
  Timed timed(stats_, rank_ == root ? static_cast<int64_t>(t.nbytes()) : 0);
  check(MPI_Bcast(p, count_of(t, "broadcast"), mpi_type(t, "broadcast"), root, MPI_COMM_WORLD), "MPI_Bcast");
}

void Communicator::send(const Tensor& t, int dst, int tag) {
  MI_CHECK(dst >= 0 && dst < size_ && dst != rank_, ValueError,
           "[send] destination rank {} is invalid for rank {} (world of {} ranks; a rank does not send to itself)", dst,
           rank_, size_);
  const void* p = readable(t, "send");
  Timed timed(stats_, static_cast<int64_t>(t.nbytes()));
  check(MPI_Send(p, count_of(t, "send"), mpi_type(t, "send"), dst, tag, MPI_COMM_WORLD), "MPI_Send");
}

void Communicator::recv(Tensor& t, int src, int tag) {
  MI_CHECK(src >= 0 && src < size_ && src != rank_, ValueError,
           "[recv] source rank {} is invalid for rank {} (world of {} ranks; a rank does not receive from itself)", src,
           rank_, size_);
  void* p = writable(t, "recv");
  Timed timed(stats_, 0);
  MPI_Status status;
  check(MPI_Recv(p, count_of(t, "recv"), mpi_type(t, "recv"), src, tag, MPI_COMM_WORLD, &status), "MPI_Recv");
  int got = 0;
  MPI_Get_count(&status, mpi_type(t, "recv"), &got);
  MI_CHECK(got == count_of(t, "recv"), ShapeError, "[recv] rank {} sent {} elements, the receiving tensor {} holds {}",
           src, got, shape_str(t.shape()), t.numel());
}

void Communicator::barrier() {
  if (!mpi_ || size_ == 1) return;
  Timed timed(stats_, 0);
  check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

void Communicator::abort(int code) {
  if (mpi_ && size_ > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

}  // namespace mithril::parallel
