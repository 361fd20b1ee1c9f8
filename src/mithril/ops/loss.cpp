#include "mithril/ops/loss.h"

#include <cmath>

#include "mithril/core/error.h"
#include "mithril/ops/reduce.h"
#include "mithril/ops/shape.h"
#include "mithril/ops/unary.h"

namespace mithril {
namespace {

using enum DTypeDomain;

// One row per elementwise loss (the first ops of the loss family, in ops.def order). The gradient
// rules are ElementwiseLossOp::vjp below.
constexpr ElementwiseLossTraits kElementwiseLossTraits[] = {
    {OpKind::SquaredError, floating, 3},
    {OpKind::AbsoluteError, floating, 3},
    {OpKind::HingeLoss, floating, 3},
    {OpKind::QuadHingeLoss, floating, 3},
    {OpKind::QuantileLoss, floating, 3, LossAttr::quantile},
    {OpKind::KLDivergence, floating, 25, LossAttr::threshold},  // two logarithms per element
};
static_assert(declares_family(kElementwiseLossTraits, "loss", /*whole_family=*/false),
              "kElementwiseLossTraits needs one row per elementwise loss, in ops.def order");

Var zero_where_not(const Var& cond, const Var& v) { return ops::where(cond, v, ops::scalar_like(v, 0.0)); }

// d/dx of Log(robust=true): 1/|x| at or above the threshold, 1/threshold below it, negated
// where x < 0 (so 1/threshold at x == 0, as Mithril's robust log gradient).
Var robust_log_derivative(const Var& x, double threshold) {
  threshold = effective_threshold(threshold, x.dtype());
  const Var a = ops::abs(x);
  const Var slope = ops::where(ops::greater_equal(a, ops::scalar_like(x, threshold)), 1.0 / a,
                               ops::scalar_like(x, 1.0 / threshold));
  return ops::where(ops::less(x, ops::scalar_like(x, 0.0)), -slope, slope);
}

Var log_of(const Var& x, bool robust, double threshold) {
  return robust ? ops::robust_log(x, threshold) : ops::log(x);
}
Var log_derivative(const Var& x, bool robust, double threshold) {
  return robust ? robust_log_derivative(x, threshold) : 1.0 / x;
}

std::optional<LossInputType> parse_input_type(std::string_view s) {
  if (s == "logits") return LossInputType::logits;
  if (s == "probs") return LossInputType::probs;
  if (s == "log_probs") return LossInputType::log_probs;
  return std::nullopt;
}

void check_threshold(const Op& op, double threshold) {
  MI_CHECK(threshold > 0 && std::isfinite(threshold), AttributeError, "[{}] threshold must be positive and finite, got {}",
           op.name(), threshold);
}

double numel_of(const Shape& s) { return static_cast<double>(numel(s)); }

// [1, C, 1, ...] with `ndim` entries: a per-class vector laid along axis 1.
Shape class_axis_shape(int64_t ndim, int64_t classes) {
  Shape s(static_cast<size_t>(ndim), 1);
  s[1] = classes;
  return s;
}

}  // namespace

bool is_elementwise_loss(OpKind kind) { return find_row(kElementwiseLossTraits, kind) != nullptr; }

const ElementwiseLossTraits& elementwise_loss_traits(OpKind kind) {
  const ElementwiseLossTraits* t = find_row(kElementwiseLossTraits, kind);
  MI_ASSERT(t != nullptr);
  return *t;
}

std::string_view loss_input_type_name(LossInputType t) {
  switch (t) {
    case LossInputType::logits: return "logits";
    case LossInputType::probs: return "probs";
    case LossInputType::log_probs: return "log_probs";
  }
  return "?";
}

// ---- elementwise losses ----

std::vector<Shape> ElementwiseLossOp::infer_shapes(std::span<const Shape> in) const {
  check_arity(*this, in.size(), 2);
  if (elementwise_loss_traits(kind()).attribute == LossAttr::threshold) check_threshold(*this, threshold);
  return {broadcast_shapes(in[0], in[1], name().data())};
}

std::vector<DType> ElementwiseLossOp::infer_dtypes(std::span<const DType> in) const {
  check_arity(*this, in.size(), 2);
  MI_CHECK(in[0] == in[1], DTypeError, "[{}] dtype mismatch: input is {} but target is {}", name(),
           dtype_name(in[0]), dtype_name(in[1]));
  check_domain(*this, in[0], elementwise_loss_traits(kind()).domain, 2);
  return {in[0]};
}

std::string ElementwiseLossOp::attributes() const {
  switch (elementwise_loss_traits(kind()).attribute) {
    case LossAttr::none: break;
    case LossAttr::quantile: return fmt::format("quantile={}", quantile);
    case LossAttr::threshold: return fmt::format("threshold={}", threshold);
  }
  return {};
}

Cost ElementwiseLossOp::cost(const OpSignature& sig) const {
  Cost c = Op::cost(sig);
  c.flops *= elementwise_loss_traits(kind()).flops_per_element;
  return c;
}

std::vector<std::optional<Var>> ElementwiseLossOp::vjp(const std::vector<Var>& in, const std::vector<Var>&,
                                                       const std::vector<std::optional<Var>>& ct) const {
  const Var& x = in[0];
  const Var& t = in[1];
  const Var& g = *ct[0];
  switch (kind()) {
    case OpKind::SquaredError: {
      const Var gd = g * ((x - t) * 2.0);
      return {gd, -gd};
    }
    case OpKind::AbsoluteError: {
      const Var gs = g * ops::sign(x - t);  // sign(0) = 0: no gradient at equality
      return {gs, -gs};
    }
    case OpKind::HingeLoss: {
      // max(0, m) with m = 1 - t*x has slope 1 where m > 0 and 0 where m < 0; at the kink NumPy's
      // maximum splits the gradient, so Mithril's golden gradients carry half the slope there.
      const Var m = 1.0 - t * x;
      const Var zero = ops::scalar_like(m, 0.0);
      const Var share = ops::where(ops::greater(m, zero), ops::scalar_like(m, 1.0),
                                   ops::where(ops::equal(m, zero), ops::scalar_like(m, 0.5), zero));
      const Var gs = g * share;
      return {-(gs * t), -(gs * x)};
    }
    case OpKind::QuadHingeLoss: {
      const Var gh = g * ops::relu(1.0 - t * x) * -2.0;
      return {gh * t, gh * x};
    }
    case OpKind::QuantileLoss: {
      // e = t - x; d/dx = -q for e > 0, 1 - q for e < 0 and 0.5 - q at the kink (NumPy's choice).
      const Var e = t - x;
      const Var zero = ops::scalar_like(e, 0.0);
      const Var slope = ops::where(ops::greater(e, zero), ops::scalar_like(e, -quantile),
                                   ops::where(ops::less(e, zero), ops::scalar_like(e, 1.0 - quantile),
                                              ops::scalar_like(e, 0.5 - quantile)));
      const Var gs = g * slope;
      return {gs, -gs};
    }
    case OpKind::KLDivergence: {
      // t * (rlog(t) - rlog(x))
      const Var dx = -(g * t * robust_log_derivative(x, threshold));
      const Var dt = g * (ops::robust_log(t, threshold) - ops::robust_log(x, threshold) +
                          t * robust_log_derivative(t, threshold));
      return {dx, dt};
    }
    default: MI_THROW(ValueError, "[{}] is not an elementwise loss", name());
  }
}

// ---- cross entropy ----

std::vector<Shape> CrossEntropyOp::infer_shapes(std::span<const Shape> in) const {
  check_arity(*this, in.size(), 2);
  if (robust) check_threshold(*this, threshold);
  const Shape& x = in[0];
  const Shape& t = in[1];
  MI_CHECK(x.size() >= 2, ShapeError, "[cross_entropy] input must have shape (N, C, ...), got {}", shape_str(x));
  MI_CHECK(weights.empty() || static_cast<int64_t>(weights.size()) == x[1], ShapeError,
           "[cross_entropy] {} class weights given for {} classes (input shape {})", weights.size(), x[1],
           shape_str(x));
  Shape out = x;
  out.erase(out.begin() + 1);
  if (categorical) {
    MI_CHECK(t == out, ShapeError, "[cross_entropy] target shape {} does not match input shape {}: class indices need {}",
             shape_str(t), shape_str(x), shape_str(out));
  } else {
    MI_CHECK(t == x, ShapeError,
             "[cross_entropy] target shape {} does not match input shape {}: a target distribution needs {}",
             shape_str(t), shape_str(x), shape_str(x));
  }
  return {out};
}

std::vector<DType> CrossEntropyOp::infer_dtypes(std::span<const DType> in) const {
  check_arity(*this, in.size(), 2);
  MI_CHECK(is_float(in[0]), DTypeError, "[cross_entropy] input must be floating-point, got {}", dtype_name(in[0]));
  if (categorical) {
    MI_CHECK(in[1] == DType::i32 || in[1] == DType::i64, DTypeError,
             "[cross_entropy] class indices must be integers (i32 or i64), got {}", dtype_name(in[1]));
  } else {
    MI_CHECK(in[1] == in[0], DTypeError, "[cross_entropy] dtype mismatch: input is {} but target is {}",
             dtype_name(in[0]), dtype_name(in[1]));
  }
  return {in[0]};
}

std::string CrossEntropyOp::attributes() const {
  return fmt::format("input_type={}, categorical={}, robust={}, threshold={}, weights=({})",
                     loss_input_type_name(input_type), categorical, robust, threshold, fmt::join(weights, ","));
}

Cost CrossEntropyOp::cost(const OpSignature& sig) const {
  Cost c = Op::cost(sig);
  // Logits exponentiate every input element; probs take a log per picked (or every) element.
  const double per_input = input_type == LossInputType::logits ? 15.0 : (categorical ? 1.0 : 12.0);
  c.flops = numel_of(sig.input_shapes[0]) * per_input;
  return c;
}

std::vector<std::optional<Var>> CrossEntropyOp::vjp(const std::vector<Var>& in, const std::vector<Var>&,
                                                    const std::vector<std::optional<Var>>& ct) const {
  const Var& x = in[0];
  const Var& t = in[1];
  Graph& graph = x.graph();
  const Shape xs = x.shape();
  const int64_t classes = xs[1];
  const Shape per_class = class_axis_shape(x.ndim(), classes);
  const Var g = ops::unsqueeze(*ct[0], 1);  // [N, 1, ...]: broadcasts over the classes
  const std::optional<Var> w =
      weights.empty() ? std::nullopt
                      : std::optional<Var>(graph.constant(Tensor::from_doubles(weights, per_class, x.dtype())));

  if (categorical) {
    const Var classes_ids = graph.constant(Tensor::arange(classes, t.dtype()).reshape(per_class));
    const Var picked = ops::equal(ops::unsqueeze(t, 1), classes_ids);  // one-hot mask [N, C, ...]
    // The cotangent scaled by the weight of each row's target class.
    const Var gw = w ? g * ops::sum(zero_where_not(picked, ops::broadcast_to(*w, xs)), Axes{1}, true) : g;
    switch (input_type) {
      case LossInputType::logits:
        return {(ops::softmax(x, 1) - ops::cast(picked, x.dtype())) * gw, std::nullopt};
      case LossInputType::probs:
        return {zero_where_not(picked, -(gw * log_derivative(x, robust, threshold))), std::nullopt};
      case LossInputType::log_probs:
        return {zero_where_not(picked, ops::broadcast_to(-gw, xs)), std::nullopt};
    }
  }

  const Var tw = w ? t * *w : t;
  auto weighted = [&](const Var& v) { return w ? v * *w : v; };
  switch (input_type) {
    case LossInputType::logits: {
      // sum_c t_c w_c (lse - x_c): d/dx_j = softmax_j * sum_c t_c w_c - t_j w_j.
      const Var mass = ops::sum(tw, Axes{1}, true);
      return {(ops::softmax(x, 1) * mass - tw) * g, -(weighted(ops::log_softmax(x, 1)) * g)};
    }
    case LossInputType::probs:
      return {-(tw * log_derivative(x, robust, threshold) * g), -(weighted(log_of(x, robust, threshold)) * g)};
    case LossInputType::log_probs:
      return {-(tw * g), -(weighted(x) * g)};
  }
  MI_THROW(ValueError, "[cross_entropy] unknown input type");
}

// ---- binary cross entropy ----

std::vector<Shape> BinaryCrossEntropyOp::infer_shapes(std::span<const Shape> in) const {
  check_arity(*this, in.size(), 2);
  if (robust) check_threshold(*this, threshold);
  MI_CHECK(can_broadcast_to(in[1], in[0]), ShapeError,
           "[binary_cross_entropy] target shape {} does not broadcast to input shape {}", shape_str(in[1]),
           shape_str(in[0]));
  return {in[0]};
}

std::vector<DType> BinaryCrossEntropyOp::infer_dtypes(std::span<const DType> in) const {
  check_arity(*this, in.size(), 2);
  MI_CHECK(in[0] == in[1], DTypeError, "[binary_cross_entropy] dtype mismatch: input is {} but target is {}",
           dtype_name(in[0]), dtype_name(in[1]));
  MI_CHECK(is_float(in[0]), DTypeError, "[binary_cross_entropy] needs floating-point inputs, got {}",
           dtype_name(in[0]));
  return {in[0]};
}

std::string BinaryCrossEntropyOp::attributes() const {
  return fmt::format("input_type={}, pos_weight={}, robust={}, threshold={}", loss_input_type_name(input_type),
                     pos_weight, robust, threshold);
}

Cost BinaryCrossEntropyOp::cost(const OpSignature& sig) const {
  Cost c = Op::cost(sig);
  c.flops *= 25.0;  // two transcendental functions per element
  return c;
}

std::vector<std::optional<Var>> BinaryCrossEntropyOp::vjp(const std::vector<Var>& in, const std::vector<Var>&,
                                                          const std::vector<std::optional<Var>>& ct) const {
  const Var& x = in[0];
  const Var& t = in[1];
  const Var& g = *ct[0];
  if (input_type == LossInputType::logits) {
    if (pos_weight == 1.0) return {(ops::sigmoid(x) - t) * g, -(x * g)};
    // (1-t)*x - lw*logsigmoid(x), lw = (pw-1)*t + 1, logsigmoid(x) = -softplus(-x).
    const Var lw = t * (pos_weight - 1.0) + 1.0;
    const Var dx = (1.0 - t) - lw * ops::sigmoid(-x);
    const Var dt = ops::softplus(-x) * (pos_weight - 1.0) - x;
    return {dx * g, dt * g};
  }
  // -pw*t*log(p) - (1-t)*log(1-p)
  const Var q = 1.0 - x;
  const Var dx = (1.0 - t) * log_derivative(q, robust, threshold) - t * pos_weight * log_derivative(x, robust, threshold);
  const Var dt = log_of(q, robust, threshold) - log_of(x, robust, threshold) * pos_weight;
  return {dx * g, dt * g};
}

namespace ops {
namespace {

Var elementwise_loss(OpKind kind, const Var& input, const Var& target, double quantile = 0.5,
                     double threshold = kMinPositiveNormal) {
  auto [x, t] = promote_operands(input, target);
  return input.graph().apply1(std::make_shared<ElementwiseLossOp>(kind, quantile, threshold), {x, t});
}

}  // namespace

Var squared_error(const Var& input, const Var& target) { return elementwise_loss(OpKind::SquaredError, input, target); }
Var absolute_error(const Var& input, const Var& target) {
  return elementwise_loss(OpKind::AbsoluteError, input, target);
}
Var hinge_loss(const Var& input, const Var& target) { return elementwise_loss(OpKind::HingeLoss, input, target); }
Var quad_hinge_loss(const Var& input, const Var& target) {
  return elementwise_loss(OpKind::QuadHingeLoss, input, target);
}
Var quantile_loss(const Var& input, const Var& target, double quantile) {
  return elementwise_loss(OpKind::QuantileLoss, input, target, quantile);
}
Var kl_divergence(const Var& input, const Var& target, double threshold) {
  return elementwise_loss(OpKind::KLDivergence, input, target, 0.5, threshold);
}

Var cross_entropy(const Var& input, const Var& target, const CrossEntropyOptions& o) {
  const std::optional<LossInputType> type = parse_input_type(o.input_type);
  MI_CHECK(type.has_value(), AttributeError,
           "[cross_entropy] unknown input_type '{}': expected logits, probs or log_probs", o.input_type);
  auto op = std::make_shared<CrossEntropyOp>(*type, o.categorical, o.robust, o.threshold, o.weights);
  if (o.categorical) return input.graph().apply1(op, {input, target});  // integer targets stay integers
  auto [x, t] = promote_operands(input, target);
  return input.graph().apply1(op, {x, t});
}

Var binary_cross_entropy(const Var& input, const Var& target, const BinaryCrossEntropyOptions& o) {
  const std::optional<LossInputType> type = parse_input_type(o.input_type);
  MI_CHECK(type.has_value() && *type != LossInputType::log_probs, AttributeError,
           "[binary_cross_entropy] unknown input_type '{}': expected logits or probs", o.input_type);
  auto [x, t] = promote_operands(input, target);
  return input.graph().apply1(std::make_shared<BinaryCrossEntropyOp>(*type, o.pos_weight, o.robust, o.threshold),
                              {x, t});
}

}  // namespace ops
}  // namespace mithril
