#include <gtest/gtest.h>

#include <cstdint>

#include "mithril/core/allocator.h"
#include "mithril/core/error.h"
#include "mithril/core/tensor.h"

namespace mithril {
namespace {

Tensor iota(const Shape& shape, DType dtype = DType::f64) {
  std::vector<double> v(static_cast<size_t>(numel(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i);
  return Tensor::from_doubles(v, shape, dtype);
}

TEST(Tensor, FactoriesAndAlignment) {
  const Tensor t = Tensor::full({3, 5}, 2.5, DType::f32);
  EXPECT_EQ(t.numel(), 15);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw_data()) % kAlignment, 0u);
  for (double v : t.to_doubles()) EXPECT_EQ(v, 2.5);
  EXPECT_EQ(Tensor::scalar(3, DType::i64).ndim(), 0);
  EXPECT_EQ(Tensor::zeros({0, 4}, DType::f64).numel(), 0);
  EXPECT_THROW(Tensor::from_doubles({1, 2, 3}, {2, 2}, DType::f64), ShapeError);
}

TEST(Tensor, ReshapeOfContiguousIsAView) {
  const Tensor t = iota({2, 6});
  const Tensor r = t.reshape({3, -1});
  EXPECT_EQ(r.shape(), (Shape{3, 4}));
  EXPECT_TRUE(r.shares_storage(t));
  EXPECT_EQ(r.at({2, 1}), 9.0);
  try {
    t.reshape({5, 2});
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(), "[reshape] cannot reshape (2,6) (12 elements) into (5,2) (10 elements)");
  }
}

TEST(Tensor, TransposeSliceBroadcastAreViews) {
  const Tensor t = iota({2, 3, 4});
  const Tensor p = t.permute({2, 0, 1});
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_TRUE(p.shares_storage(t));
  EXPECT_FALSE(p.is_contiguous());
  EXPECT_EQ(p.at({3, 1, 2}), t.at({1, 2, 3}));

  const Tensor s = t.slice(2, 1, 4, 2);  // elements 1 and 3 of the last axis
  EXPECT_EQ(s.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(s.at({1, 2, 1}), t.at({1, 2, 3}));
  EXPECT_EQ(t.slice(0, -1, 100).shape(), (Shape{1, 3, 4}));  // NumPy clamping

  const Tensor b = iota({3, 1}).broadcast_to({2, 3, 4});
  EXPECT_EQ(b.strides(), (Strides{0, 1, 0}));
  EXPECT_EQ(b.at({1, 2, 3}), 2.0);
  EXPECT_THROW(iota({3}).broadcast_to({2, 4}), ShapeError);

  const Tensor c = p.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_EQ(c.to_doubles(), p.to_doubles());
}

TEST(Tensor, SqueezeUnsqueezeTranspose) {
  const Tensor t = iota({2, 1, 3});
  EXPECT_EQ(t.squeeze(1).shape(), (Shape{2, 3}));
  EXPECT_EQ(t.unsqueeze(-1).shape(), (Shape{2, 1, 3, 1}));
  EXPECT_EQ(t.transpose().shape(), (Shape{3, 1, 2}));
  EXPECT_THROW(t.squeeze(0), ShapeError);
  EXPECT_THROW(t.permute({0, 0, 1}), AttributeError);
}

TEST(Tensor, AsTypeConvertsEveryPair) {
  const Tensor src = Tensor::from_doubles({-2, 0, 1, 3}, {4}, DType::f64);
  for (DType d : {DType::f64, DType::f32, DType::f16, DType::bf16, DType::i8, DType::i32, DType::i64}) {
    const Tensor c = src.astype(d);
    EXPECT_EQ(c.dtype(), d);
    EXPECT_EQ(c.to_doubles(), src.to_doubles()) << dtype_name(d);
    EXPECT_EQ(c.astype(DType::f64).to_doubles(), src.to_doubles()) << dtype_name(d);
  }
  EXPECT_EQ(src.astype(DType::b8).to_doubles(), (std::vector<double>{1, 0, 1, 1}));
}

TEST(Tensor, DataAccessChecksDType) {
  Tensor t = Tensor::zeros({2}, DType::f32);
  EXPECT_NO_THROW(t.data<float>());
  try {
    t.data<double>();
    FAIL();
  } catch (const DTypeError& e) {
    EXPECT_STREQ(e.what(), "[tensor] data<f64>() called on a f32 tensor");
  }
  EXPECT_THROW(Tensor().raw_data(), ValueError);
}

TEST(Tensor, PrintsReadably) {
  EXPECT_EQ(Tensor::from_doubles({1, 2.5, 3, 4}, {2, 2}, DType::f32).to_string(),
            "tensor([[1, 2.5],\n        [3, 4]], shape=(2,2), dtype=f32)");
  EXPECT_EQ(Tensor::scalar(7, DType::i64).to_string(), "tensor(7, shape=(), dtype=i64)");
  EXPECT_EQ(Tensor::from_vector<bool>({true, false}, {2}).to_string(), "tensor([True, False], shape=(2,), dtype=bool)");
  const std::string long_row = iota({10}).to_string();
  EXPECT_EQ(long_row, "tensor([0, 1, 2, ..., 7, 8, 9], shape=(10,), dtype=f64)");
}

TEST(Allocator, TracksCurrentAndPeakBytes) {
  reset_peak_bytes();
  const int64_t before = allocator_stats().current_bytes;
  {
    Tensor t = Tensor::empty({1024}, DType::f64);
    EXPECT_EQ(allocator_stats().current_bytes, before + 8192);
  }
  EXPECT_EQ(allocator_stats().current_bytes, before);
  EXPECT_GE(allocator_stats().peak_bytes, before + 8192);
}

TEST(Allocator, ReusesFreedLargeBlocksUpToTheCap) {
  clear_allocator_cache();
  const void* first;
  {
    Tensor t = Tensor::empty({1 << 16}, DType::f32);  // 256 KiB: cacheable
    first = t.raw_data();
  }
  const AllocatorStats after_free = allocator_stats();
  EXPECT_GE(after_free.cached_bytes, 256 << 10);
  {
    Tensor t = Tensor::empty({1 << 16}, DType::f32);
    EXPECT_EQ(t.raw_data(), first);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw_data()) % kAlignment, 0u);
  }
  EXPECT_EQ(allocator_stats().cache_hits, after_free.cache_hits + 1);
  clear_allocator_cache();
  EXPECT_EQ(allocator_stats().cached_bytes, 0);
  set_allocator_cache_limit(0);  // caching off: freed blocks go back to the system
  { Tensor t = Tensor::empty({1 << 16}, DType::f32); }
  EXPECT_EQ(allocator_stats().cached_bytes, 0);
  set_allocator_cache_limit(size_t{1024} << 20);
}

}  // namespace
}  // namespace mithril
