// Multi-rank tests, run by ctest under `mpirun -np 2` and `mpirun -np 4 --oversubscribe`
// (tests/parallel/mpi/run_mpi.sh): every rank runs every test, and the run fails when a test
// fails on any rank.
//  - the collectives against their definition;
//  - data parallelism with deterministic = true gives bitwise the parameters of one process
//    with gradient_accumulation_steps = n (float64 and float32; an epoch whose last step leaves
//    ranks without a batch), and MPI's allreduce within 1e-12 relative (float64);
//  - a device mesh that does not factor the world size is an error naming both.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "mithril/parallel/communicator.h"
#include "mithril/parallel/device_mesh.h"
#include "mithril/parallel/gradient_reducer.h"
#include "mithril/train/models.h"
#include "mithril/train/trainer.h"

namespace mithril {
namespace {

using parallel::Communicator;

std::shared_ptr<Communicator> world() { return Communicator::world(); }

TEST(Collectives, MatchTheirDefinition) {
  const auto c = world();
  const int n = c->size(), r = c->rank();
  ASSERT_GT(n, 1) << "run under mpirun -np 2 or more";
  Tensor t = Tensor::from_doubles({double(r), double(r * r)}, {2}, DType::f64);
  c->all_reduce_sum(t);
  double s1 = 0, s2 = 0;
  for (int i = 0; i < n; ++i) s1 += i, s2 += i * i;
  EXPECT_EQ(t.to_doubles(), (std::vector<double>{s1, s2}));

  const Tensor g = c->all_gather(Tensor::scalar(10.0 * r, DType::i64));
  ASSERT_EQ(g.shape(), (Shape{n}));
  for (int i = 0; i < n; ++i) EXPECT_EQ(g.data<int64_t>()[i], 10 * i);

  // Row i of every rank's (n, 2) tensor is (i + r, 1); rank i gets the sum of row i over ranks.
  std::vector<double> rows;
  for (int i = 0; i < n; ++i) rows.insert(rows.end(), {double(i + r), 1.0});
  const Tensor rs = c->reduce_scatter_sum(Tensor::from_doubles(rows, {n, 2}, DType::f32));
  EXPECT_EQ(rs.shape(), (Shape{1, 2}));
  EXPECT_EQ(rs.to_doubles(), (std::vector<double>{double(n) * r + s1, double(n)}));

  Tensor b = Tensor::scalar(r == n - 1 ? 42.0 : 0.0, DType::f64);
  c->broadcast(b, n - 1);
  EXPECT_EQ(b.item(), 42.0);

  // A ring: each rank sends its rank to the next and receives from the previous.
  Tensor out = Tensor::scalar(r, DType::f64), in = Tensor::scalar(-1, DType::f64);
  if (r % 2 == 0) {
    c->send(out, (r + 1) % n, 7);
    c->recv(in, (r + n - 1) % n, 7);
  } else {
    c->recv(in, (r + n - 1) % n, 7);
    c->send(out, (r + 1) % n, 7);
  }
  EXPECT_EQ(in.item(), (r + n - 1) % n);
  c->barrier();
  EXPECT_GT(c->stats().calls, 0);
}

TEST(Collectives, MeshMustFactorTheWorld) {
  const int n = world()->size();
  EXPECT_EQ(parallel::DeviceMesh::from_dims({}, n).data, n);
  try {
    parallel::DeviceMesh::from_dims({n + 1}, n);
    FAIL() << "no error";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find(fmt::format("has {} devices but the world has {} ranks", n + 1, n)),
              std::string::npos)
        << e.what();
  }
}

// 61 samples of 6 features in 3 classes (a fixed rule), so batches of 5 make 13 global batches,
// the last of 1 sample: with 2 or 4 ranks the epoch's last step has one batch, on rank 0 only.
std::shared_ptr<train::TensorDataset> toy_data(DType dtype) {
  Rng rng(11);
  const int64_t n = 61;
  std::vector<double> x;
  std::vector<int32_t> y;
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int j = 0; j < 6; ++j) {
      x.push_back(rng.normal());
      s += x.back() * (j % 3 - 1);
    }
    y.push_back(s > 0.5 ? 2 : s < -0.5 ? 0 : 1);
  }
  return std::make_shared<train::TensorDataset>(std::map<std::string, Tensor>{
      {"input", Tensor::from_doubles(x, {n, 6}, dtype)}, {"target", Tensor::from_vector(y, {n})}});
}

// Trains two epochs (shuffled, Adam, clipping) and returns the parameters: data-parallel over
// the world when `reducer` is set, else one process accumulating `accum` micro-batches.
train::TensorMap run(DType dtype, int64_t accum, std::shared_ptr<parallel::GradientReducer> reducer) {
  const train::Network net = train::mlp_classifier(6, {9, 5}, 3);
  CompileOptions co;
  co.set_precision(dtype);
  Rng rng(3);
  train::OptimizerConfig oc;
  oc.name = "adam";
  oc.lr = 0.03;
  train::TrainerOptions to;
  to.grad_accum_steps = accum;
  to.clip_norm = 1.0;
  to.reducer = reducer;
  train::Trainer t(compile(train::classification_objective(net.model), co), train::init_params(net.params, rng, dtype),
                   train::Optimizer(oc), to);
  train::DataLoaderOptions lo{.batch_size = 5, .shuffle = true, .seed = 9};
  if (reducer) {
    lo.rank = reducer->comm().rank();
    lo.world_size = reducer->comm().size();
  }
  train::DataLoader loader(toy_data(dtype), lo);
  for (int e = 0; e < 2; ++e) t.train_epoch(loader);
  return t.params();
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

TEST(DataParallel, DeterministicEqualsAccumulationBitwise) {
  const int n = world()->size();
  for (const DType dtype : {DType::f64, DType::f32}) {
    auto reducer = std::make_shared<parallel::GradientReducer>(
        world(), parallel::ReducerOptions{.bucket_bytes = 256, .deterministic = true});  // several buckets
    const train::TensorMap dp = run(dtype, 1, reducer);
    const train::TensorMap one = run(dtype, n, nullptr);
    ASSERT_EQ(dp.size(), one.size());
    for (const auto& [key, p] : one) EXPECT_TRUE(same_bits(dp.at(key), p)) << dtype_name(dtype) << " " << key;
  }
}

TEST(DataParallel, AllreduceEqualsAccumulationToRounding) {
  const int n = world()->size();
  auto reducer = std::make_shared<parallel::GradientReducer>(world(), parallel::ReducerOptions{});
  const train::TensorMap dp = run(DType::f64, 1, reducer);
  const train::TensorMap one = run(DType::f64, n, nullptr);
  for (const auto& [key, p] : one) {
    const auto x = dp.at(key).to_doubles(), y = p.to_doubles();
    for (size_t i = 0; i < x.size(); ++i)
      EXPECT_LE(std::fabs(x[i] - y[i]), 1e-12 * std::max(1.0, std::fabs(y[i]))) << key << "[" << i << "]";
  }
}

TEST(DataParallel, AShardOfAnotherWorldIsAnError) {
  auto reducer = std::make_shared<parallel::GradientReducer>(world(), parallel::ReducerOptions{});
  const train::Network net = train::mlp_classifier(6, {4}, 3);
  Rng rng(3);
  train::TrainerOptions to;
  to.reducer = reducer;
  train::Trainer t(compile(train::classification_objective(net.model)), train::init_params(net.params, rng, DType::f64),
                   train::Optimizer(train::OptimizerConfig{}), to);
  train::DataLoader unsharded(toy_data(DType::f64), {.batch_size = 4});
  try {
    t.train_epoch(unsharded);
    FAIL() << "no error";
  } catch (const ValueError& e) {
    EXPECT_EQ(std::string(e.what()),
              fmt::format("[trainer] the DataLoader yields the shard of rank 0 of 1, but this trainer runs as rank {} "
                          "of {}",
                          world()->rank(), world()->size()));
  }
}

}  // namespace
}  // namespace mithril

int main(int argc, char** argv) {
  // Rank 0 prints every result, the other ranks only their failures (the printer is chosen by
  // InitGoogleTest); a failure on any rank fails the run (mpirun's exit code).
  if (mithril::parallel::Communicator::world()->rank() != 0) GTEST_FLAG_SET(brief, true);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
