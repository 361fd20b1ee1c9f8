// DataLoader (order per seed independent of workers, prefetch bound, worker errors, shutdown
// mid-epoch) and the dataset readers (CSV, gzip CSV, digits, NPY/NPZ, IDX, text).
#include "mithril/train/data_loader.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "mithril/core/error.h"
#include "mithril/io/idx.h"
#include "mithril/io/npy.h"
#include "mithril/train/dataset.h"
#include "support/error_of.h"

namespace mithril::train {
namespace {

std::shared_ptr<TensorDataset> counting(int64_t n) {
  std::vector<int32_t> idx(static_cast<size_t>(n));
  std::vector<double> x(static_cast<size_t>(2 * n));
  for (int64_t i = 0; i < n; ++i) {
    idx[static_cast<size_t>(i)] = static_cast<int32_t>(i);
    x[static_cast<size_t>(2 * i)] = static_cast<double>(i);
    x[static_cast<size_t>(2 * i + 1)] = -static_cast<double>(i);
  }
  return std::make_shared<TensorDataset>(std::map<std::string, Tensor>{
      {"input", Tensor::from_doubles(x, {n, 2}, DType::f32)}, {"target", Tensor::from_vector(idx, {n})}});
}

std::vector<std::vector<int64_t>> epoch_batches(DataLoader& loader, int64_t epoch) {
  std::vector<std::vector<int64_t>> out;
  loader.start_epoch(epoch);
  while (auto b = loader.next()) {
    const std::vector<double> t = b->fields.at("target").to_doubles();
    std::vector<int64_t> ids(t.begin(), t.end());
    EXPECT_EQ(ids, b->indices);  // the batch holds the samples it names
    EXPECT_EQ(b->fields.at("input").dim(0), b->size());
    out.push_back(ids);
  }
  return out;
}

TEST(DataLoader, SameBatchesForAnyNumberOfWorkers) {
  auto ds = counting(103);
  std::vector<std::vector<int64_t>> reference;
  for (int workers : {0, 1, 2, 5}) {
    DataLoaderOptions o{.batch_size = 10, .shuffle = true, .num_workers = workers, .prefetch_factor = 2, .seed = 42};
    DataLoader loader(ds, o);
    EXPECT_EQ(loader.num_batches(), 11);
    const auto batches = epoch_batches(loader, 3);
    if (reference.empty()) reference = batches;
    EXPECT_EQ(batches, reference) << workers << " workers";
    EXPECT_EQ(batches.back().size(), 3u);
  }
  std::vector<int64_t> all;
  for (const auto& b : reference) all.insert(all.end(), b.begin(), b.end());
  std::sort(all.begin(), all.end());
  for (int64_t i = 0; i < 103; ++i) EXPECT_EQ(all[static_cast<size_t>(i)], i);  // each sample once
}

TEST(DataLoader, OrderDependsOnSeedAndEpoch) {
  auto ds = counting(50);
  DataLoader a(ds, {.batch_size = 50, .shuffle = true, .seed = 1});
  DataLoader b(ds, {.batch_size = 50, .shuffle = true, .seed = 2});
  EXPECT_NE(a.epoch_order(0), a.epoch_order(1));
  EXPECT_NE(a.epoch_order(0), b.epoch_order(0));
  EXPECT_EQ(a.epoch_order(4), DataLoader(ds, {.batch_size = 7, .shuffle = true, .seed = 1}).epoch_order(4));
  DataLoader plain(ds, {.batch_size = 8});
  EXPECT_EQ(plain.epoch_order(9)[7], 7);
}

TEST(DataLoader, DropLastAndResumeFromABatch) {
  auto ds = counting(25);
  DataLoader loader(ds, {.batch_size = 10, .shuffle = true, .num_workers = 2, .drop_last = true, .seed = 5});
  const auto full = epoch_batches(loader, 0);
  ASSERT_EQ(full.size(), 2u);
  loader.start_epoch(0, 1);
  auto b = loader.next();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->indices, full[1]);
  EXPECT_FALSE(loader.next());
}

// A dataset whose samples take time and count how many are being loaded at once.
class SlowDataset : public Dataset {
 public:
  explicit SlowDataset(int64_t n, int64_t fail_at = -1) : n_(n), fail_at_(fail_at) {}
  int64_t size() const override { return n_; }
  Sample get(int64_t i) const override {
    loads_ += 1;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    MI_CHECK(i != fail_at_, ValueError, "pixel data of sample {} is corrupt", i);
    return {{"x", Tensor::scalar(static_cast<double>(i), DType::f32)}};
  }
  mutable std::atomic<int64_t> loads_{0};

 private:
  int64_t n_, fail_at_;
};

TEST(DataLoader, PrefetchIsBoundedByWorkersTimesFactor) {
  auto ds = std::make_shared<SlowDataset>(200);
  DataLoader loader(ds, {.batch_size = 2, .num_workers = 3, .prefetch_factor = 2});
  loader.start_epoch(0);
  auto first = loader.next();
  ASSERT_TRUE(first);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));  // let the workers run ahead
  EXPECT_LE(loader.max_in_flight(), 6);
  EXPECT_LE(ds->loads_.load(), 2 * (1 + 6));  // the batch taken plus at most 6 in flight
  int64_t batches = 1;
  while (loader.next()) ++batches;
  EXPECT_EQ(batches, 100);
  EXPECT_LE(loader.max_in_flight(), 6);
}

TEST(DataLoader, WorkerErrorSurfacesWithTheSampleIndex) {
  for (int workers : {0, 2}) {
    auto ds = std::make_shared<SlowDataset>(40, 17);
    DataLoader loader(ds, {.batch_size = 4, .num_workers = workers});
    loader.start_epoch(0);
    int64_t good = 0;
    try {
      while (loader.next()) ++good;
      FAIL() << "no error";
    } catch (const ValueError& e) {
      EXPECT_NE(std::string(e.what()).find("sample 17 (batch 4)"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("pixel data of sample 17 is corrupt"), std::string::npos) << e.what();
    }
    EXPECT_EQ(good, 4);  // batches 0..3 arrive before the failing one
  }
}

TEST(DataLoader, ShutdownMidEpoch) {
  auto ds = std::make_shared<SlowDataset>(1000);
  {
    DataLoader loader(ds, {.batch_size = 5, .num_workers = 4, .prefetch_factor = 3});
    loader.start_epoch(0);
    ASSERT_TRUE(loader.next());
    loader.start_epoch(1);  // abandons epoch 0
    ASSERT_TRUE(loader.next());
  }  // destroyed mid-epoch: workers stop and join
  EXPECT_LT(ds->loads_.load(), 1000);
}

TEST(DataLoader, Errors) {
  auto ds = counting(4);
  EXPECT_THROW(DataLoader(ds, {.batch_size = 0}), ValueError);
  EXPECT_THROW(DataLoader(ds, {.num_workers = -1}), ValueError);
  EXPECT_THROW(collate({{{"x", Tensor::zeros({2}, DType::f32)}}, {{"x", Tensor::zeros({3}, DType::f32)}}}, {4, 9}),
               ValueError);
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("mithril_train_" + name)).string();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string gzip(const std::string& data) {
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, data.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

TEST(Datasets, CsvPlainAndGzip) {
  const std::string text = "a,b,label\n1,2,0\n3,4.5,2\n";
  const std::string p = temp_path("x.csv"), gz = temp_path("x.csv.gz");
  write_bytes(p, text);
  write_bytes(gz, gzip(text));
  for (const std::string& path : {p, gz}) {
    auto d = load_csv(path, {.label_column = -1, .scale = 2.0});
    ASSERT_EQ(d->size(), 2);
    EXPECT_EQ(d->get(1).at("input").to_doubles(), (std::vector<double>{6, 9}));
    EXPECT_EQ(d->get(1).at("target").item(), 2);
  }
  write_bytes(p, "1,2,0\n3,x,1\n");
  EXPECT_THROW(load_csv(p), ValueError);
  write_bytes(p, "1,2,0\n3,1\n");
  EXPECT_THROW(load_csv(p), ValueError);
  write_bytes(gz, gzip(text).substr(0, 12));
  EXPECT_THROW(load_csv(gz), ValueError);  // truncated gzip
}

TEST(Datasets, DigitsFromPython3Sklearn) {
  if (!std::filesystem::exists(kDigitsPath)) GTEST_SKIP() << kDigitsPath << " missing (scripts/setup.sh installs it)";
  auto d = load_digits();
  EXPECT_EQ(d->size(), 1797);
  const Sample s = d->get(0);
  EXPECT_EQ(s.at("input").shape(), (Shape{64}));
  EXPECT_EQ(s.at("target").item(), 0);
  for (double v : d->fields().at("input").to_doubles()) ASSERT_TRUE(v >= 0 && v <= 1);
  const Split split = train_test_split(d, 0.2, 0);
  EXPECT_EQ(split.test->size(), 359);
  EXPECT_EQ(split.train->size(), 1438);
}

TEST(Datasets, NpyAndNpzFields) {
  const std::string x = temp_path("x.npy"), y = temp_path("y.npy"), z = temp_path("xy.npz");
  io::write_npy(x, Tensor::from_doubles({1, 2, 3, 4, 5, 6}, {3, 2}, DType::f32));
  io::write_npy(y, Tensor::from_doubles({0, 1, 1}, {3}, DType::i64));
  auto d = load_npy_fields({{"input", x}, {"target", y}});
  EXPECT_EQ(d->get(2).at("input").to_doubles(), (std::vector<double>{5, 6}));
  io::write_npz(z, {{"images", io::read_npy(x)}, {"labels", io::read_npy(y)}});
  auto e = load_npz_fields(z, {{"images", "input"}, {"labels", "target"}});
  EXPECT_EQ(e->get(1).at("target").item(), 1);
  io::write_npy(y, Tensor::from_doubles({0, 1}, {2}, DType::i64));
  EXPECT_THROW(load_npy_fields({{"input", x}, {"target", y}}), ShapeError);  // 3 vs 2 samples
}

TEST(Datasets, IdxImagesAndLabels) {
  std::string images("\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x02", 16);
  for (int i = 0; i < 8; ++i) images.push_back(static_cast<char>(i * 30));
  const std::string labels("\x00\x00\x08\x01\x00\x00\x00\x02\x07\x03", 10);
  const std::string ip = temp_path("images.idx"), lp = temp_path("labels.idx.gz");
  write_bytes(ip, images);
  write_bytes(lp, gzip(labels));
  auto d = load_idx(ip, lp, 1.0 / 255.0);
  ASSERT_EQ(d->size(), 2);
  EXPECT_EQ(d->get(1).at("input").shape(), (Shape{2, 2}));
  EXPECT_NEAR(d->get(1).at("input").to_doubles()[3], 210.0 / 255.0, 1e-6);
  EXPECT_EQ(d->get(0).at("target").item(), 7);
  write_bytes(ip, images.substr(0, 20));
  EXPECT_THROW(io::read_idx(ip), ValueError);  // truncated data
  write_bytes(ip, std::string("\x00\x00\x07\x01\x00\x00\x00\x01\x00", 9));
  EXPECT_THROW(io::read_idx(ip), ValueError);  // unknown type
}

TEST(Datasets, IdxDimensionsWhoseProductWrapsAreRejected) {
  // Dimensions 2^31 x 2^8 x 2^25: their product 2^64 wraps a 64-bit count to 0, which would
  // match the empty data of this 16-byte header-only file.
  const std::string ip = temp_path("wrap.idx");
  write_bytes(ip, std::string("\x00\x00\x08\x03\x80\x00\x00\x00\x00\x00\x01\x00\x02\x00\x00\x00", 16));
  const std::string msg = testing::error_of<ValueError>([&] { io::read_idx(ip); });
  EXPECT_NE(msg.find("dimensions (2147483648,256,33554432) are too large"), std::string::npos) << msg;
}

TEST(Datasets, CharacterText) {
  CharTextDataset d("abcabd", 3, 1);
  EXPECT_EQ(d.vocabulary(), "abcd");
  EXPECT_EQ(d.size(), 3);
  const Sample s = d.get(2);
  EXPECT_EQ(s.at("input").to_doubles(), (std::vector<double>{2, 0, 1}));   // "cab"
  EXPECT_EQ(s.at("target").to_doubles(), (std::vector<double>{0, 1, 3}));  // "abd"
  EXPECT_NEAR(d.unigram_entropy(), -(2 * (1.0 / 3) * std::log(1.0 / 3) + 2 * (1.0 / 6) * std::log(1.0 / 6)), 1e-12);
  EXPECT_THROW(d.get(3), KeyError);
  EXPECT_THROW(CharTextDataset("ab", 2, 1), ValueError);
}

}  // namespace
}  // namespace mithril::train
