// The tiled (and, for 4-byte elements on AVX2, 8x8-block) transpose behind permute and
// swap_axes of the last two axes: every element lands where the index arithmetic says, for
// each element width, full tiles and ragged edges, with and without leading batch axes.
#include <gtest/gtest.h>

#include "mithril/ops/shape.h"
#include "support/gradcheck.h"

namespace mithril {
namespace {

TEST(TransposeKernel, LastTwoAxesForEveryWidthAndRaggedEdges) {
  for (DType t : {DType::f64, DType::f32, DType::i32, DType::bf16, DType::i8}) {
    for (const Shape& shape : {Shape{64, 96}, Shape{70, 100}, Shape{3, 33, 65}, Shape{2, 2, 40, 8}, Shape{1, 5}}) {
      const Tensor x = testing::random_tensor(shape, DType::f64, 3, -100, 100).astype(t);
      const Tensor y = testing::evaluate(
          [](Graph&, const std::vector<Var>& v) { return std::vector{ops::swap_axes(v[0], -2, -1)}; }, {x})[0];
      const size_t nd = shape.size();
      Shape expect = shape;
      std::swap(expect[nd - 1], expect[nd - 2]);
      ASSERT_EQ(y.shape(), expect);
      const std::vector<double> xv = x.to_doubles(), yv = y.to_doubles();
      const int64_t rows = shape[nd - 2], cols = shape[nd - 1], outer = x.numel() / (rows * cols);
      for (int64_t b = 0; b < outer; ++b)
        for (int64_t i = 0; i < rows; ++i)
          for (int64_t j = 0; j < cols; ++j)
            ASSERT_EQ(yv[static_cast<size_t>(b * rows * cols + j * rows + i)], xv[static_cast<size_t>(b * rows * cols + i * cols + j)])
                << dtype_name(t) << " " << shape_str(shape) << " at " << b << "," << i << "," << j;
    }
  }
}

}  // namespace
}  // namespace mithril
