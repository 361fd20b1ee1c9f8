#include "mithril/ops/reduce.h"

#include <numeric>

#include "mithril/core/error.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/shape.h"

namespace mithril {

std::vector<Shape> ReduceOp::infer_shapes(std::span<const Shape> in) const {
  check_arity(*this, in.size(), 1);
  const auto nd = static_cast<int64_t>(in[0].size());
  Shape out;
  size_t k = 0;
  for (int64_t d = 0; d < nd; ++d) {
    const bool reduced = k < axes.size() && axes[k] == d;
    if (reduced) {
      ++k;
      MI_CHECK(in[0][static_cast<size_t>(d)] > 0 || (kind() != OpKind::Max && kind() != OpKind::Min &&
                                                      kind() != OpKind::ArgMax && kind() != OpKind::ArgMin),
               ShapeError, "[{}] cannot reduce an empty axis {} of shape {}", name(), d, shape_str(in[0]));
      if (keepdim) out.push_back(1);
    } else {
      out.push_back(in[0][static_cast<size_t>(d)]);
    }
  }
  MI_CHECK(k == axes.size(), AttributeError, "[{}] axes ({}) out of range for input of shape {}", name(),
           fmt::join(axes, ","), shape_str(in[0]));
  return {out};
}

std::vector<DType> ReduceOp::infer_dtypes(std::span<const DType> in) const {
  if (kind() == OpKind::ArgMax || kind() == OpKind::ArgMin) return {DType::i64};
  if (kind() == OpKind::Mean || kind() == OpKind::Variance || kind() == OpKind::LogSumExp)
    MI_CHECK(is_float(in[0]), DTypeError, "[{}] needs a floating-point input, got {}", name(), dtype_name(in[0]));
  return {in[0]};
}

std::string ReduceOp::attributes() const {
  std::string s = fmt::format("axes=({}), keepdim={}", fmt::join(axes, ","), keepdim);
  if (kind() == OpKind::Variance) s += fmt::format(", correction={}", correction);
  return s;
}

int64_t ReduceOp::reduced_count(const Shape& input) const {
  int64_t n = 1;
  for (int64_t a : axes) n *= input[static_cast<size_t>(a)];
  return n;
}

std::vector<std::optional<Var>> ReduceOp::vjp(const std::vector<Var>& in, const std::vector<Var>& out,
                                              const std::vector<std::optional<Var>>& ct) const {
  const Var& x = in[0];
  const Var g = ops::expand_reduced(*ct[0], *this, x.shape());
  switch (kind()) {
    case OpKind::Sum:
      return {ops::broadcast_to(g, x.shape())};
    default:
      MI_THROW(ValueError, "[{}] gradient not implemented", name());
  }
  (void)out;
}

std::vector<Shape> AxisOp::infer_shapes(std::span<const Shape> in) const {
  check_arity(*this, in.size(), 1);
  MI_CHECK(axis >= 0 && axis < static_cast<int64_t>(in[0].size()), AttributeError,
           "[{}] axis {} out of range for input of shape {}", name(), axis, shape_str(in[0]));
  return {in[0]};
}

std::string AxisOp::attributes() const { return fmt::format("axis={}", axis); }

std::vector<std::optional<Var>> AxisOp::vjp(const std::vector<Var>&, const std::vector<Var>&,
                                            const std::vector<std::optional<Var>>&) const {
  MI_THROW(ValueError, "[{}] gradient not implemented", name());
}

namespace ops {
namespace {
Var reduce(OpKind kind, const Var& x, const std::optional<Axes>& axes, bool keepdim, double correction = 0.0) {
  Axes norm;
  if (axes) {
    norm = normalize_axes(*axes, x.ndim(), op_name(kind).data());
  } else {
    norm.resize(static_cast<size_t>(x.ndim()));
    std::iota(norm.begin(), norm.end(), 0);
  }
  return x.graph().apply1(std::make_shared<ReduceOp>(kind, std::move(norm), keepdim, correction), {x});
}
}  // namespace

Var sum(const Var& x, std::optional<Axes> axes, bool keepdim) { return reduce(OpKind::Sum, x, axes, keepdim); }

Var sum_to(const Var& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  MI_CHECK(can_broadcast_to(shape, x.shape()), ShapeError, "[sum_to] shape {} does not broadcast to {}",
           shape_str(shape), shape_str(x.shape()));
  const size_t lead = x.shape().size() - shape.size();
  Axes axes;
  for (size_t i = 0; i < x.shape().size(); ++i)
    if (i < lead || (shape[i - lead] == 1 && x.shape()[i] != 1)) axes.push_back(static_cast<int64_t>(i));
  Var s = axes.empty() ? x : sum(x, axes, /*keepdim=*/true);
  return reshape(s, shape);
}

Var expand_reduced(const Var& reduced, const ReduceOp& op, const Shape& input_shape) {
  if (op.keepdim) return reduced;
  Shape kept = input_shape;
  for (int64_t a : op.axes) kept[static_cast<size_t>(a)] = 1;
  return reshape(reduced, kept);
}

}  // namespace ops
}  // namespace mithril
