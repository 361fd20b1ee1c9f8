// The parallel layer in a world of one rank (no launcher, MPI never initialized): collectives are
// identities, argument errors are typed and named, the device mesh is checked against the world
// size, and the DataLoader's shards of a world of n ranks interleave to the one-process order
// (the multi-rank runs are tests/parallel/mpi/, started by mpirun).
#include <gtest/gtest.h>

#include "mithril/parallel/communicator.h"
#include "mithril/parallel/device_mesh.h"
#include "mithril/parallel/gradient_reducer.h"
#include "mithril/train/data_loader.h"

namespace mithril::parallel {
namespace {

template <class E, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Communicator, WorldOfOneRankWithoutALauncher) {
  if (launched_by_mpi()) GTEST_SKIP() << "started by mpirun";
  const auto world = Communicator::world();
  EXPECT_EQ(world->size(), 1);
  EXPECT_EQ(world->rank(), 0);
  EXPECT_FALSE(world->uses_mpi());
}

TEST(Communicator, CollectivesOfOneRankAreIdentities) {
  const auto c = Communicator::local();
  Tensor t = Tensor::from_doubles({1, 2, 3, 4}, {2, 2}, DType::f64);
  c->all_reduce_sum(t);
  EXPECT_EQ(t.to_doubles(), (std::vector<double>{1, 2, 3, 4}));
  const Tensor g = c->all_gather(t);
  EXPECT_EQ(g.shape(), (Shape{1, 2, 2}));
  EXPECT_EQ(g.to_doubles(), t.to_doubles());
  EXPECT_EQ(c->reduce_scatter_sum(t).to_doubles(), t.to_doubles());
  c->broadcast(t, 0);
  c->barrier();
  c->wait(c->start_all_reduce_sum(t));
  EXPECT_EQ(t.to_doubles(), (std::vector<double>{1, 2, 3, 4}));
  EXPECT_EQ(c->stats().calls, 0);
}

TEST(Communicator, ArgumentErrorsNameTheOperation) {
  const auto c = Communicator::local();
  Tensor t = Tensor::zeros({3}, DType::f32);
  EXPECT_EQ(error_of<ValueError>([&] { c->send(t, 0); }),
            "[send] destination rank 0 is invalid for rank 0 (world of 1 ranks; a rank does not send to itself)");
  EXPECT_EQ(error_of<ValueError>([&] { c->recv(t, 2); }),
            "[recv] source rank 2 is invalid for rank 0 (world of 1 ranks; a rank does not receive from itself)");
  EXPECT_EQ(error_of<ValueError>([&] { c->broadcast(t, 1); }),
            "[broadcast] root rank 1 is out of range (world of 1 ranks)");
  Tensor b = Tensor::zeros({3}, DType::bf16);
  EXPECT_EQ(error_of<DTypeError>([&] { c->all_reduce_sum(b); }),
            "[all_reduce] tensors of dtype bf16 cannot be communicated: float64, float32 and int64 can");
  Tensor v = Tensor::zeros({2, 3}, DType::f64).transpose();
  EXPECT_EQ(error_of<ValueError>([&] { c->all_reduce_sum(v); }), "[all_reduce] needs a contiguous tensor");
  EXPECT_EQ(error_of<ShapeError>([&] { c->reduce_scatter_sum(Tensor::scalar(1, DType::f64)); }),
            "[reduce_scatter] dim 0 of shape () must split evenly over 1 ranks");
}

TEST(DeviceMesh, FactorsTheWorldSize) {
  EXPECT_EQ(DeviceMesh::from_dims({}, 4).str(), "(4, 1)");
  EXPECT_EQ(DeviceMesh::from_dims({4}, 4).str(), "(4, 1)");
  EXPECT_EQ(DeviceMesh::from_dims({2, 2}, 4).str(), "(2, 2)");
  EXPECT_EQ(error_of<ValueError>([] { DeviceMesh::from_dims({3}, 2); }),
            "[device_mesh] (3) has 3 devices but the world has 2 ranks (mpirun -np 2): the mesh must factor the world "
            "size");
  EXPECT_EQ(error_of<ValueError>([] { DeviceMesh::from_dims({2, 2}, 2); }),
            "[device_mesh] (2, 2) has 4 devices but the world has 2 ranks (mpirun -np 2): the mesh must factor the "
            "world size");
  EXPECT_EQ(error_of<ValueError>([] { DeviceMesh::from_dims({2, 0}, 2); }),
            "[device_mesh] (2, 0) has a dim of 0: every dim is at least 1");
  EXPECT_EQ(error_of<ValueError>([] { DeviceMesh::from_dims({1, 1, 2}, 2); }),
            "[device_mesh] (1, 1, 2) has 3 dims: a mesh is (n,) or (data, model)");
}

TEST(GradientReducer, OneRankLeavesGradientsAsTheyAre) {
  GradientReducer r(Communicator::local(), {.bucket_bytes = 8, .deterministic = true});
  std::map<std::string, Tensor> g = {{"a", Tensor::from_doubles({1, 2}, {2}, DType::f64)}};
  r.reduce(g, {true});
  EXPECT_EQ(g.at("a").to_doubles(), (std::vector<double>{1, 2}));
  EXPECT_EQ(error_of<ValueError>([&] { r.reduce(g, {true, true}); }),
            "[gradient reducer] 2 contribution flags for a world of 1 ranks");
}

}  // namespace
}  // namespace mithril::parallel

namespace mithril::train {
namespace {

std::vector<std::vector<int64_t>> batches_of(DataLoader& loader, int64_t epoch, int64_t first) {
  std::vector<std::vector<int64_t>> out;
  loader.start_epoch(epoch, first);
  while (auto b = loader.next()) out.push_back(b->indices);
  return out;
}

TEST(DataLoaderShards, RanksInterleaveToTheOneProcessOrder) {
  auto data = std::make_shared<TensorDataset>(
      std::map<std::string, Tensor>{{"x", Tensor::arange(23, DType::f64)}});
  for (const int workers : {0, 2})
    for (const int64_t first : {0, 1, 3}) {
      DataLoader one(data, {.batch_size = 4, .shuffle = true, .num_workers = workers, .seed = 5});
      const auto all = batches_of(one, 1, first);  // global batches first..5
      for (const int64_t n : {2, 3, 4}) {
        std::vector<std::vector<int64_t>> merged(all.size());
        for (int64_t r = 0; r < n; ++r) {
          DataLoader shard(data, {.batch_size = 4, .shuffle = true, .num_workers = workers, .seed = 5, .rank = r,
                                  .world_size = n});
          EXPECT_EQ(shard.num_batches(), 6);
          const auto mine = batches_of(shard, 1, first);
          for (size_t k = 0; k < mine.size(); ++k) merged.at(k * n + r) = mine[k];
        }
        EXPECT_EQ(merged, all) << "world " << n << " from batch " << first << ", " << workers << " workers";
      }
    }
}

TEST(DataLoaderShards, RankOutOfTheWorldIsAnError) {
  auto data = std::make_shared<TensorDataset>(std::map<std::string, Tensor>{{"x", Tensor::arange(4, DType::f64)}});
  try {
    DataLoader bad(data, {.rank = 2, .world_size = 2});
    FAIL() << "no error";
  } catch (const ValueError& e) {
    EXPECT_STREQ(e.what(), "[DataLoader] rank 2 is not a rank of a world of 2");
  }
}

}  // namespace
}  // namespace mithril::train
