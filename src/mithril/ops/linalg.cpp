#include "mithril/ops/linalg.h"

#include "mithril/core/error.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/reduce.h"
#include "mithril/ops/shape.h"

namespace mithril {

MatMulDims matmul_dims(const Shape& left, const Shape& right) {
  MI_CHECK(!left.empty() && !right.empty(), ShapeError, "[matmul] operands must have at least 1 dim: left={} right={}",
           shape_str(left), shape_str(right));
  MatMulDims d;
  const bool left_vec = left.size() == 1, right_vec = right.size() == 1;
  d.m = left_vec ? 1 : left[left.size() - 2];
  d.k = left.back();
  const int64_t right_k = right_vec ? right[0] : right[right.size() - 2];
  d.n = right_vec ? 1 : right.back();
  MI_CHECK(d.k == right_k, ShapeError, "[matmul] inner dims differ: left={} right={}", shape_str(left),
           shape_str(right));

  const Shape lb(left.begin(), left.end() - (left_vec ? 1 : 2));
  const Shape rb(right.begin(), right.end() - (right_vec ? 1 : 2));
  const size_t rank = std::max(lb.size(), rb.size());
  d.left_batch = Shape(rank - lb.size(), 1);
  d.left_batch.insert(d.left_batch.end(), lb.begin(), lb.end());
  d.right_batch = Shape(rank - rb.size(), 1);
  d.right_batch.insert(d.right_batch.end(), rb.begin(), rb.end());
  for (size_t i = 0; i < rank; ++i) {
    const int64_t l = d.left_batch[i], r = d.right_batch[i];
    MI_CHECK(l == r || l == 1 || r == 1, ShapeError, "[matmul] batch dims cannot be broadcast: left={} right={}",
             shape_str(left), shape_str(right));
    d.batch.push_back(l == 1 ? r : l);
  }
  d.output = d.batch;
  if (!left_vec) d.output.push_back(d.m);
  if (!right_vec) d.output.push_back(d.n);
  return d;
}

std::vector<Shape> MatMulOp::infer_shapes(std::span<const Shape> in) const {
  check_arity(*this, in.size(), 2);
  return {matmul_dims(in[0], in[1]).output};
}

std::vector<DType> MatMulOp::infer_dtypes(std::span<const DType> in) const {
  check_arity(*this, in.size(), 2);
  MI_CHECK(in[0] == in[1], DTypeError, "[matmul] dtype mismatch: left is {} but right is {}", dtype_name(in[0]),
           dtype_name(in[1]));
  MI_CHECK(in[0] != DType::b8, DTypeError, "[matmul] is not defined for bool inputs");
  return {in[0]};
}

std::vector<std::optional<Var>> MatMulOp::vjp(const std::vector<Var>& in, const std::vector<Var>&,
                                              const std::vector<std::optional<Var>>& ct) const {
  const Var& a = in[0];
  const Var& b = in[1];
  const MatMulDims d = matmul_dims(a.shape(), b.shape());
  // Work on the promoted matrices: a2 (..., m, k), b2 (..., k, n), g2 (batch..., m, n).
  const Var a2 = a.ndim() == 1 ? ops::reshape(a, {1, d.k}) : a;
  const Var b2 = b.ndim() == 1 ? ops::reshape(b, {d.k, 1}) : b;
  Shape g_shape = d.batch;
  g_shape.push_back(d.m);
  g_shape.push_back(d.n);
  const Var g2 = ops::reshape(*ct[0], g_shape);

  // d(left) = g @ right^T, summed over the batch dims left was broadcast along.
  const Var da = ops::sum_to(ops::matmul(g2, ops::swap_axes(b2, -1, -2)), a2.shape());
  const Var db = [&] {
    if (b2.ndim() == 2 && a2.ndim() > 2) {
      // One right matrix shared by the whole batch (a linear layer): folding the batch into the
      // rows gives the batch-summed gradient as a single GEMM, without a batched intermediate.
      const int64_t rows = numel(d.batch) * d.m;
      return ops::matmul(ops::swap_axes(ops::reshape(a2, {rows, d.k}), 0, 1), ops::reshape(g2, {rows, d.n}));
    }
    return ops::sum_to(ops::matmul(ops::swap_axes(a2, -1, -2), g2), b2.shape());
  }();
  return {ops::reshape(da, a.shape()), ops::reshape(db, b.shape())};
}

Cost MatMulOp::cost(const OpSignature& sig) const {
  Cost c = Op::cost(sig);
  c.flops = 2.0 * static_cast<double>(numel(sig.output_shapes[0])) * static_cast<double>(sig.input_shapes[0].back());
  return c;
}

namespace ops {

Var matmul(const Var& left, const Var& right) {
  auto [l, r] = promote_operands(left, right);
  return left.graph().apply1(std::make_shared<MatMulOp>(), {l, r});
}

}  // namespace ops
}  // namespace mithril
