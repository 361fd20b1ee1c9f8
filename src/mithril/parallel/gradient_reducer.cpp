#include "mithril/parallel/gradient_reducer.h"

#include <cstring>

namespace mithril::parallel {

namespace {

struct Bucket {
  std::vector<Tensor*> members;
  Tensor flat;
};

template <class T>
void sum_in_rank_order(const Tensor& gathered, const std::vector<bool>& contributes, Tensor& out) {
  const int64_t n = out.numel();
  const T* rows = gathered.data<T>();
  T* acc = static_cast<T*>(out.raw_data());
  bool first = true;
  for (size_t r = 0; r < contributes.size(); ++r) {
    if (!contributes[r]) continue;
    const T* g = rows + static_cast<int64_t>(r) * n;
    if (first) std::memcpy(acc, g, static_cast<size_t>(n) * sizeof(T));
    else
      for (int64_t i = 0; i < n; ++i) acc[i] += g[i];
    first = false;
  }
  if (first) std::memset(acc, 0, static_cast<size_t>(n) * sizeof(T));
}

}  // namespace

GradientReducer::GradientReducer(std::shared_ptr<Communicator> comm, ReducerOptions options)
    : comm_(std::move(comm)), options_(options) {
  MI_CHECK(comm_ != nullptr, ValueError, "[gradient reducer] no communicator");
  MI_CHECK(options_.bucket_bytes >= 1, ValueError, "[gradient reducer] bucket_bytes must be >= 1, got {}",
           options_.bucket_bytes);
}

void GradientReducer::reduce(std::map<std::string, Tensor>& grads, const std::vector<bool>& contributes) {
  MI_CHECK(static_cast<int>(contributes.size()) == comm_->size(), ValueError,
           "[gradient reducer] {} contribution flags for a world of {} ranks", contributes.size(), comm_->size());
  if (comm_->size() == 1) return;
  // Buckets of consecutive same-dtype gradients, in key order (the same on every rank).
  std::vector<Bucket> buckets;
  int64_t bytes = 0;
  for (auto& [key, g] : grads) {
    MI_CHECK(g.dtype() == DType::f32 || g.dtype() == DType::f64, DTypeError,
             "[gradient reducer] gradient '{}' is {}: float32 or float64 gradients are reduced", key,
             dtype_name(g.dtype()));
    if (!g.is_contiguous()) g = g.contiguous();
    const auto b = static_cast<int64_t>(g.nbytes());
    if (buckets.empty() || buckets.back().members.front()->dtype() != g.dtype() || bytes + b > options_.bucket_bytes) {
      buckets.emplace_back();
      bytes = 0;
    }
    buckets.back().members.push_back(&g);
    bytes += b;
  }
  const auto pack = [](Bucket& bucket) {
    int64_t n = 0;
    for (const Tensor* t : bucket.members) n += t->numel();
    bucket.flat = Tensor::empty({n}, bucket.members.front()->dtype());
    auto* dst = static_cast<char*>(bucket.flat.raw_data());
    for (const Tensor* t : bucket.members) {
      std::memcpy(dst, t->raw_data(), t->nbytes());
      dst += t->nbytes();
    }
  };
  const auto unpack = [](Bucket& bucket, const Tensor& summed) {
    const auto* src = static_cast<const char*>(summed.raw_data());
    for (Tensor* t : bucket.members) {
      std::memcpy(t->raw_data(), src, t->nbytes());
      src += t->nbytes();
    }
  };
  if (options_.deterministic) {
    for (Bucket& bucket : buckets) {
      pack(bucket);
      const Tensor gathered = comm_->all_gather(bucket.flat);
      if (bucket.flat.dtype() == DType::f64) sum_in_rank_order<double>(gathered, contributes, bucket.flat);
      else sum_in_rank_order<float>(gathered, contributes, bucket.flat);
      unpack(bucket, bucket.flat);
    }
    return;
  }
  for (Bucket& bucket : buckets) {
    pack(bucket);
    comm_->all_reduce_sum(bucket.flat);
    unpack(bucket, bucket.flat);
  }
}

}  // namespace mithril::parallel
