#include "mithril/ops/reduce.h"

#include <numeric>

#include "mithril/core/error.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/shape.h"
#include "mithril/ops/unary.h"

namespace mithril {
namespace {

using enum DTypeDomain;

// One row per op of the reduce family, in ops.def order. The gradient rules are ReduceOp::vjp and
// AxisOp::vjp below.
constexpr ReduceTraits kReduceTraits[] = {
    {.kind = OpKind::Sum, .along_axis = false, .domain = any, .flops_per_input_element = 1},
    {.kind = OpKind::Mean, .along_axis = false, .domain = floating, .flops_per_input_element = 1},
    {.kind = OpKind::Max, .along_axis = false, .domain = any, .flops_per_input_element = 1, .needs_nonempty = true},
    {.kind = OpKind::Min, .along_axis = false, .domain = any, .flops_per_input_element = 1, .needs_nonempty = true},
    {.kind = OpKind::Prod, .along_axis = false, .domain = any, .flops_per_input_element = 1},
    // subtract the mean, square, accumulate
    {.kind = OpKind::Variance, .along_axis = false, .domain = floating, .flops_per_input_element = 3,
     .correction = true},
    // max, shift, exp, accumulate
    {.kind = OpKind::LogSumExp, .along_axis = false, .domain = floating, .flops_per_input_element = 12},
    {.kind = OpKind::ArgMax, .along_axis = false, .domain = any, .flops_per_input_element = 1, .index_result = true,
     .needs_nonempty = true},
    {.kind = OpKind::ArgMin, .along_axis = false, .domain = any, .flops_per_input_element = 1, .index_result = true,
     .needs_nonempty = true},
    {.kind = OpKind::CumSum, .along_axis = true, .domain = any, .flops_per_input_element = 1},
    // max, shift, exp, sum, normalise
    {.kind = OpKind::Softmax, .along_axis = true, .domain = floating, .flops_per_input_element = 13},
    {.kind = OpKind::LogSoftmax, .along_axis = true, .domain = floating, .flops_per_input_element = 13},
};
static_assert(declares_family(kReduceTraits, "reduce"), "kReduceTraits needs one row per reduce op, in ops.def order");

Cost input_proportional_cost(const Op& op, const OpSignature& sig) {
  Cost c = op.Op::cost(sig);
  c.flops = static_cast<double>(numel(sig.input_shapes[0])) * reduce_traits(op.kind()).flops_per_input_element;
  return c;
}

}  // namespace

const ReduceTraits& reduce_traits(OpKind kind) {
  const ReduceTraits* t = find_row(kReduceTraits, kind);
  MI_ASSERT(t != nullptr);
  return *t;
}

std::vector<Shape> ReduceOp::infer_shapes(std::span<const Shape> in) const {
  check_arity(*this, in.size(), 1);
  const auto nd = static_cast<int64_t>(in[0].size());
  Shape out;
  size_t k = 0;
  for (int64_t d = 0; d < nd; ++d) {
    const bool reduced = k < axes.size() && axes[k] == d;
    if (reduced) {
      ++k;
      MI_CHECK(in[0][static_cast<size_t>(d)] > 0 || !reduce_traits(kind()).needs_nonempty, ShapeError,
               "[{}] cannot reduce an empty axis {} of shape {}", name(), d, shape_str(in[0]));
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
  const ReduceTraits& traits = reduce_traits(kind());
  if (traits.index_result) return {DType::i64};
  check_domain(*this, in[0], traits.domain);
  return {in[0]};
}

std::string ReduceOp::attributes() const {
  std::string s = fmt::format("axes=({}), keepdim={}", fmt::join(axes, ","), keepdim);
  if (reduce_traits(kind()).correction) s += fmt::format(", correction={}", correction);
  return s;
}

int64_t ReduceOp::reduced_count(const Shape& input) const {
  int64_t n = 1;
  for (int64_t a : axes) n *= input[static_cast<size_t>(a)];
  return n;
}

Cost ReduceOp::cost(const OpSignature& sig) const { return input_proportional_cost(*this, sig); }

std::vector<std::optional<Var>> ReduceOp::vjp(const std::vector<Var>& in, const std::vector<Var>& out,
                                              const std::vector<std::optional<Var>>& ct) const {
  const Var& x = in[0];
  if (!is_float(x.dtype())) return {std::nullopt};  // integer inputs receive no gradient
  const Shape shape = x.shape();
  const Var g = ops::expand_reduced(*ct[0], *this, shape);
  const auto n = static_cast<double>(reduced_count(shape));
  switch (kind()) {
    case OpKind::Sum:
      return {ops::broadcast_to(g, shape)};
    case OpKind::Mean:
      return {ops::broadcast_to(g * (1.0 / n), shape)};
    case OpKind::Max:
    case OpKind::Min: {
      // Every element equal to the extremum shares the gradient equally (NumPy/Mithril convention).
      const Var mask = ops::cast(ops::equal(x, ops::expand_reduced(out[0], *this, shape)), x.dtype());
      return {mask * (g / ops::sum(mask, axes, /*keepdim=*/true))};
    }
    case OpKind::Prod: {
      // d/dx_i = product of the other elements, computed without dividing by zero: with no zero in
      // the block it is prod/x_i; with exactly one zero only that element gets the product of the
      // non-zeros; with two or more zeros every derivative is zero.
      const Var zero = ops::equal(x, ops::scalar_like(x, 0.0));
      const Var zeros = ops::sum(ops::cast(zero, x.dtype()), axes, /*keepdim=*/true);
      const Var safe = ops::where(zero, ops::scalar_like(x, 1.0), x);
      const Var nonzero_prod = ops::prod(safe, axes, /*keepdim=*/true);
      const Var single_zero = ops::logical_and(zero, ops::equal(zeros, ops::scalar_like(zeros, 1.0)));
      const Var with_zero = ops::where(single_zero, nonzero_prod, ops::scalar_like(x, 0.0));
      const Var d = ops::where(ops::equal(zeros, ops::scalar_like(zeros, 0.0)), nonzero_prod / safe, with_zero);
      return {g * d};
    }
    case OpKind::Variance:
      return {(x - ops::mean(x, axes, /*keepdim=*/true)) * (g * (2.0 / (n - correction)))};
    case OpKind::LogSumExp:
      return {g * ops::exp(x - ops::expand_reduced(out[0], *this, shape))};
    default:
      MI_THROW(ValueError, "[{}] is not differentiable", name());
  }
}

std::vector<Shape> AxisOp::infer_shapes(std::span<const Shape> in) const {
  check_arity(*this, in.size(), 1);
  MI_CHECK(axis >= 0 && axis < static_cast<int64_t>(in[0].size()), AttributeError,
           "[{}] axis {} out of range for input of shape {}", name(), axis, shape_str(in[0]));
  return {in[0]};
}

std::vector<DType> AxisOp::infer_dtypes(std::span<const DType> in) const {
  check_arity(*this, in.size(), 1);
  check_domain(*this, in[0], reduce_traits(kind()).domain);
  return {in[0]};
}

std::string AxisOp::attributes() const { return fmt::format("axis={}", axis); }

Cost AxisOp::cost(const OpSignature& sig) const { return input_proportional_cost(*this, sig); }

std::vector<std::optional<Var>> AxisOp::vjp(const std::vector<Var>& in, const std::vector<Var>& out,
                                            const std::vector<std::optional<Var>>& ct) const {
  if (!is_float(in[0].dtype())) return {std::nullopt};
  const Var& g = *ct[0];
  const Var& y = out[0];
  const Axes line{axis};
  switch (kind()) {
    case OpKind::CumSum:
      // Reverse cumulative sum: element k receives g[k] + g[k+1] + ... = total - cumsum(g)[k] + g[k].
      return {ops::sum(g, line, /*keepdim=*/true) - ops::cumsum(g, axis) + g};
    case OpKind::Softmax:
      return {y * (g - ops::sum(g * y, line, /*keepdim=*/true))};
    case OpKind::LogSoftmax:
      return {g - ops::exp(y) * ops::sum(g, line, /*keepdim=*/true)};
    default:
      MI_THROW(ValueError, "[{}] is not differentiable", name());
  }
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

Var along(OpKind kind, const Var& x, int64_t axis) {
  const int64_t a = normalize_axis(axis, x.ndim(), op_name(kind).data());
  return x.graph().apply1(std::make_shared<AxisOp>(kind, a), {x});
}

Var arg_reduce(OpKind kind, const Var& x, int64_t axis, bool keepdim) {
  const int64_t a = normalize_axis(axis, x.ndim(), op_name(kind).data());
  return x.graph().apply1(std::make_shared<ReduceOp>(kind, Axes{a}, keepdim), {x});
}
}  // namespace

Var sum(const Var& x, std::optional<Axes> axes, bool keepdim) { return reduce(OpKind::Sum, x, axes, keepdim); }
Var mean(const Var& x, std::optional<Axes> axes, bool keepdim) { return reduce(OpKind::Mean, x, axes, keepdim); }
Var max(const Var& x, std::optional<Axes> axes, bool keepdim) { return reduce(OpKind::Max, x, axes, keepdim); }
Var min(const Var& x, std::optional<Axes> axes, bool keepdim) { return reduce(OpKind::Min, x, axes, keepdim); }
Var prod(const Var& x, std::optional<Axes> axes, bool keepdim) { return reduce(OpKind::Prod, x, axes, keepdim); }
Var variance(const Var& x, std::optional<Axes> axes, bool keepdim, double correction) {
  return reduce(OpKind::Variance, x, axes, keepdim, correction);
}
Var logsumexp(const Var& x, std::optional<Axes> axes, bool keepdim) {
  return reduce(OpKind::LogSumExp, x, axes, keepdim);
}
Var argmax(const Var& x, int64_t axis, bool keepdim) { return arg_reduce(OpKind::ArgMax, x, axis, keepdim); }
Var argmin(const Var& x, int64_t axis, bool keepdim) { return arg_reduce(OpKind::ArgMin, x, axis, keepdim); }
Var cumsum(const Var& x, int64_t axis) { return along(OpKind::CumSum, x, axis); }
Var softmax(const Var& x, int64_t axis) { return along(OpKind::Softmax, x, axis); }
Var log_softmax(const Var& x, int64_t axis) { return along(OpKind::LogSoftmax, x, axis); }

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
