// Matmul: forward against a triple-loop NumPy-semantics reference (batched, broadcast, 1-D,
// matrix-vector, integer), cost, gradient checks and error messages.
#include <gtest/gtest.h>

#include "mithril/core/error.h"
#include "mithril/ops/linalg.h"
#include "support/gradcheck.h"

namespace mithril {
namespace {

using testing::evaluate;
using testing::expect_close;
using testing::expect_gradients_match;
using testing::random_tensor;

// NumPy matmul by definition: promote 1-D operands, broadcast batch dims, triple loop, then
// drop the promoted axes. Returns the output shape and row-major values.
std::pair<Shape, std::vector<double>> reference_matmul(const Tensor& a, const Tensor& b) {
  Shape as = a.shape(), bs = b.shape();
  if (as.size() == 1) as.insert(as.begin(), 1);
  if (bs.size() == 1) bs.push_back(1);
  const Tensor a2 = a.reshape(as), b2 = b.reshape(bs);
  const int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  const size_t rank = std::max(as.size(), bs.size()) - 2;
  Shape batch(rank);
  auto dim = [&](const Shape& s, size_t i) {  // batch dim i of s, right-aligned, 1 if absent
    const size_t off = rank - (s.size() - 2);
    return i < off ? int64_t{1} : s[i - off];
  };
  for (size_t i = 0; i < rank; ++i) batch[i] = std::max(dim(as, i), dim(bs, i));
  std::vector<double> out;
  for (int64_t flat = 0; flat < numel(batch); ++flat) {
    std::vector<int64_t> idx(rank);
    int64_t rem = flat;
    for (size_t i = rank; i-- > 0;) {
      idx[i] = rem % batch[i];
      rem /= batch[i];
    }
    auto index_of = [&](const Shape& s, int64_t r, int64_t c) {
      std::vector<int64_t> ix;
      const size_t off = rank - (s.size() - 2);
      for (size_t i = off; i < rank; ++i) ix.push_back(s[i - off] == 1 ? 0 : idx[i]);
      ix.push_back(r);
      ix.push_back(c);
      return ix;
    };
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t p = 0; p < k; ++p) s += a2.at(index_of(as, i, p)) * b2.at(index_of(bs, p, j));
        out.push_back(s);
      }
  }
  Shape shape = batch;
  if (a.ndim() > 1) shape.push_back(m);
  if (b.ndim() > 1) shape.push_back(n);
  return {shape, out};
}

Tensor run_matmul(const Tensor& a, const Tensor& b) {
  return evaluate([](Graph&, const std::vector<Var>& x) { return std::vector{ops::matmul(x[0], x[1])}; }, {a, b})[0];
}

struct MatMulCase {
  Shape left, right;
  const char* what;
};

const MatMulCase kCases[] = {
    {{3, 4}, {4, 5}, "plain GEMM"},
    {{2, 3, 4}, {4, 5}, "batch folded into rows"},
    {{2, 1, 3, 4}, {3, 4, 2}, "broadcast batch on both sides"},
    {{3, 1, 3, 4}, {2, 4, 5}, "left broadcast, right batched"},
    {{4, 5}, {3, 5, 2}, "unbatched left, batched right"},
    {{3, 4}, {4}, "matrix-vector (gemv, n == 1)"},
    {{2, 3, 4}, {4, 1}, "folded gemv"},
    {{1, 4}, {4, 6}, "row-vector times matrix (gemv, m == 1)"},
    {{4}, {2, 4, 3}, "1-D left against a batch"},
    {{2, 3, 4}, {4}, "batch against 1-D right"},
    {{4}, {4}, "dot product"},
    {{256, 6, 7}, {256, 7, 5}, "many small GEMMs (pool-parallel batch)"},
    {{70, 80}, {80, 90}, "GEMM large enough for OpenBLAS threads"},
    {{2, 70, 80}, {1, 80, 90}, "large GEMM with the batch folded into rows"},
    {{1, 70, 80}, {2, 80, 90}, "batch of large GEMMs"},
    {{1, 300}, {300, 200}, "threaded row-vector GEMV with a partial column block"},
    {{130, 64}, {64, 40}, "threaded GEMM split by rows"},
    {{2, 0}, {0, 3}, "empty inner dim gives zeros"},
    {{0, 3}, {3, 2}, "empty output"},
};

TEST(MatMul, ForwardMatchesReferenceF64AndF32) {
  uint64_t seed = 1;
  for (DType dt : {DType::f64, DType::f32}) {
    for (const MatMulCase& c : kCases) {
      const Tensor a = random_tensor(c.left, dt, seed++), b = random_tensor(c.right, dt, seed++);
      const Tensor out = run_matmul(a, b);
      const auto [shape, expected] = reference_matmul(a, b);
      EXPECT_EQ(out.shape(), shape) << c.what;
      EXPECT_EQ(out.dtype(), dt) << c.what;
      const double tol = dt == DType::f64 ? 1e-12 : 1e-5;
      expect_close(out, expected, tol, tol);
    }
  }
}

TEST(MatMul, IntegerMatMulIsExactAndWraps) {
  for (DType dt : {DType::i32, DType::i64}) {
    const Tensor a = random_tensor({2, 1, 3, 4}, DType::f64, 5, -9, 9).astype(dt);
    const Tensor b = random_tensor({3, 4, 2}, DType::f64, 6, -9, 9).astype(dt);
    const Tensor out = run_matmul(a, b);
    const auto [shape, expected] = reference_matmul(a, b);
    EXPECT_EQ(out.shape(), shape);
    EXPECT_EQ(out.dtype(), dt);
    expect_close(out, expected, 0, 0);
  }
  // int32 products wrap modulo 2^32 as in NumPy: 65536 * 65536 = 2^32 -> 0, plus 1.
  const Tensor a = Tensor::from_vector<int32_t>({65536, 1}, {1, 2});
  const Tensor b = Tensor::from_vector<int32_t>({65536, 1}, {2, 1});
  expect_close(run_matmul(a, b), {1});
}

TEST(MatMul, PromotesMixedDTypes) {
  const Tensor a = Tensor::from_vector<int32_t>({1, 2}, {1, 2});
  const Tensor b = Tensor::from_doubles({0.5, 0.25}, {2}, DType::f32);
  const Tensor out = run_matmul(a, b);
  EXPECT_EQ(out.dtype(), DType::f32);
  expect_close(out, {1.0});
}

TEST(MatMul, CostCountsTwoFlopsPerMultiplyAdd) {
  const MatMulOp op;
  OpSignature sig{{{2, 1, 3, 4}, {5, 4, 6}}, {{2, 5, 3, 6}}, {DType::f32, DType::f32}, {DType::f32}};
  EXPECT_EQ(op.cost(sig).flops, 2.0 * 3 * 6 * 4 * 10);
  EXPECT_EQ(op.cost(sig).bytes, 4.0 * (24 + 120 + 180));
}

// ---- gradient checks (float64, central differences) ----

testing::GraphFn matmul_fn() {
  return [](Graph&, const std::vector<Var>& x) { return std::vector{ops::matmul(x[0], x[1])}; };
}

TEST(GradCheck, MatMul) {
  expect_gradients_match(matmul_fn(),
                         {random_tensor({2, 1, 3, 4}, DType::f64, 10), random_tensor({3, 4, 2}, DType::f64, 11)});
}
TEST(GradCheck, MatMulSharedRightMatrix) {
  expect_gradients_match(matmul_fn(),
                         {random_tensor({2, 3, 4}, DType::f64, 12), random_tensor({4, 5}, DType::f64, 13)});
}
TEST(GradCheck, MatMulBatchedRightUnbatchedLeft) {
  expect_gradients_match(matmul_fn(),
                         {random_tensor({3, 4}, DType::f64, 14), random_tensor({2, 1, 4, 2}, DType::f64, 15)});
}
TEST(GradCheck, MatMulVectorOperands) {
  expect_gradients_match(matmul_fn(), {random_tensor({4}, DType::f64, 16), random_tensor({2, 4, 3}, DType::f64, 17)});
  expect_gradients_match(matmul_fn(), {random_tensor({2, 3, 4}, DType::f64, 18), random_tensor({4}, DType::f64, 19)});
  expect_gradients_match(matmul_fn(), {random_tensor({4}, DType::f64, 20), random_tensor({4}, DType::f64, 21)});
  expect_gradients_match(matmul_fn(), {random_tensor({1, 4}, DType::f64, 22), random_tensor({4, 1}, DType::f64, 23)});
}

// ---- errors ----

void expect_matmul_error(const Shape& left, const Shape& right, const char* message) {
  Graph g;
  const Var a = g.input("a", left, DType::f32);
  const Var b = g.input("b", right, DType::f32);
  try {
    ops::matmul(a, b);
    FAIL() << "expected ShapeError for " << message;
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(), message);
  }
}

TEST(MatMulErrors, InnerDimsDiffer) {
  expect_matmul_error({2, 3}, {4, 5}, "[matmul] inner dims differ: left=(2,3) right=(4,5)");
  expect_matmul_error({3}, {2, 4}, "[matmul] inner dims differ: left=(3,) right=(2,4)");
}

TEST(MatMulErrors, BatchDimsDoNotBroadcast) {
  expect_matmul_error({2, 3, 4}, {3, 4, 5}, "[matmul] batch dims cannot be broadcast: left=(2,3,4) right=(3,4,5)");
}

TEST(MatMulErrors, ScalarOperand) {
  expect_matmul_error({}, {3}, "[matmul] operands must have at least 1 dim: left=() right=(3,)");
}

TEST(MatMulErrors, DTypeMismatchInsideGraph) {
  Graph g;
  const Var a = g.input("a", {2, 2}, DType::f32);
  const Var b = g.input("b", {2, 2}, DType::f64);
  try {
    g.apply1(std::make_shared<MatMulOp>(), {a, b});
    FAIL() << "expected DTypeError";
  } catch (const DTypeError& e) {
    EXPECT_STREQ(e.what(), "[matmul] dtype mismatch: left is f32 but right is f64");
  }
  const Var c = g.input("c", {2, 2}, DType::b8);
  EXPECT_THROW(ops::matmul(c, c), DTypeError);
}

}  // namespace
}  // namespace mithril
