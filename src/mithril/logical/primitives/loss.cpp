// Loss primitives over (input, target): squared/absolute error, hinge losses, quantile loss,
// KL divergence, cross entropy and binary cross entropy, with Mithril's arguments.
#include <cmath>
#include <utility>

#include "mithril/core/error.h"
#include "mithril/logical/primitives/common.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/loss.h"
#include "mithril/ops/reduce.h"
#include "mithril/ops/shape.h"
#include "mithril/ops/unary.h"

namespace mithril::logical {
namespace {

using LossFn = Var (*)(const Var&, const Var&);

void add_plain_loss(PrimitiveRegistry& r, const char* name, LossFn fn) {
  r.add(name, {}, [=](const json&) {
    return with_shape_rule(
        single_output(name, {tensor_port("input"), tensor_port("target")},
                      [=](Graph&, const PortReader& in) { return fn(in.tensor("input"), in.tensor("target")); }),
        PrimitiveDef::ShapeRule::broadcast);
  });
}

// max(q*e, (q-1)*e) with e = target - input. A computed quantile uses the equal form
// (q - 0.5)*e + 0.5*|e|, whose gradient at e == 0 is Mithril's 0.5 - q as well.
void add_quantile_loss(PrimitiveRegistry& r) {
  r.add("QuantileLoss", {}, [](const json&) {
    return with_shape_rule(single_output("QuantileLoss", {tensor_port("input"), tensor_port("target"), tensor_port("quantile", 0.5)},
                         [](Graph&, const PortReader& in) {
                           const Var x = in.tensor("input");
                           const Var t = in.tensor("target");
                           if (const auto q = in.constant_number("quantile")) return ops::quantile_loss(x, t, *q);
                           const Var e = t - x;
                           return (in.tensor("quantile") - 0.5) * e + ops::abs(e) * 0.5;
                         }), PrimitiveDef::ShapeRule::broadcast);
  });
}

void add_kl_divergence(PrimitiveRegistry& r) {
  r.add("KLDivergence", {}, [](const json&) {
    return with_shape_rule(single_output("KLDivergence",
                         {tensor_port("input"), tensor_port("target"), tensor_port("threshold", kMinPositiveNormal)},
                         [](Graph&, const PortReader& in) {
                           return ops::kl_divergence(in.tensor("input"), in.tensor("target"),
                                                     in.require_constant("threshold"));
                         }), PrimitiveDef::ShapeRule::broadcast);
  });
}

// ---- cross entropy ----

// Inverse class frequency over class axis 1 (categorical: counts of each class index; otherwise
// the target mass of each class): w_c = total / count_c, and 0 for a class that never occurs.
std::vector<double> inverse_class_frequency(const Tensor& target, int64_t num_classes, bool categorical) {
  std::vector<double> counts(static_cast<size_t>(num_classes), 0.0);
  const std::vector<double> t = target.to_doubles();
  double total = 0.0;
  if (categorical) {
    for (double c : t) {
      MI_CHECK(c >= 0 && c < static_cast<double>(num_classes), ValueError,
               "[CrossEntropy] class index {} is out of range for {} classes", c, num_classes);
      counts[static_cast<size_t>(c)] += 1.0;
    }
    total = static_cast<double>(t.size());
  } else {
    const Shape& s = target.shape();
    int64_t inner = 1;
    for (size_t d = 2; d < s.size(); ++d) inner *= s[d];
    for (size_t i = 0; i < t.size(); ++i) counts[static_cast<size_t>((static_cast<int64_t>(i) / inner) % num_classes)] += t[i];
    for (double v : t) total += v;
  }
  for (double& c : counts) c = c == 0.0 ? 0.0 : total / c;
  return counts;
}

Var inverse_class_frequency(const Var& target, int64_t num_classes, bool categorical, DType dtype) {
  const auto [counts, total] = [&]() -> std::pair<Var, Var> {
    if (categorical) {
      const Var hot = ops::one_hot(target, num_classes, dtype);  // [..., C]
      Axes leading(static_cast<size_t>(target.ndim()));
      for (size_t i = 0; i < leading.size(); ++i) leading[i] = static_cast<int64_t>(i);
      const Var c = ops::sum(hot, leading);
      return {c, ops::scalar_like(c, static_cast<double>(numel(target.shape())))};
    }
    Axes others;
    for (int64_t d = 0; d < target.ndim(); ++d)
      if (d != 1) others.push_back(d);
    return {ops::sum(target, others), ops::sum(target)};
  }();
  const Var zero = ops::scalar_like(counts, 0.0);
  return ops::where(ops::equal(counts, zero), zero, total / counts);
}

LossInputType parse_input_type(const std::string& model, const std::string& s, bool allow_log_probs) {
  if (s == "logits") return LossInputType::logits;
  if (s == "probs") return LossInputType::probs;
  if (s == "log_probs" && allow_log_probs) return LossInputType::log_probs;
  MI_THROW(AttributeError, "[{}] input_type must be {}, got '{}'", model,
           allow_log_probs ? "'logits', 'probs' or 'log_probs'" : "'logits' or 'probs'", s);
}

// `weights`: "" or false = all ones, a list = per-class weights, "auto" or true = inverse class
// frequency of the target.
bool wants_auto_weights(const json& w) {
  if (w.is_boolean()) return w.get<bool>();
  if (w.is_string()) {
    const auto s = w.get<std::string>();
    MI_CHECK(s.empty() || s == "auto", ValueError, "[CrossEntropy] weights must be '', 'auto' or a list, got '{}'", s);
    return s == "auto";
  }
  return false;
}

Var build_cross_entropy(Graph& graph, const PortReader& in, const std::string& input_type) {
  Var x = in.tensor("input");
  Var t = in.tensor("target");
  const bool categorical = in.scalar_bool("categorical");
  ops::CrossEntropyOptions options;
  options.input_type = input_type;
  options.categorical = categorical;
  options.robust = in.scalar_bool("robust");
  if (options.robust && input_type == "probs") options.threshold = in.require_constant("threshold");
  if (categorical) t = to_integer(graph, t);
  MI_CHECK(x.ndim() >= 2, ShapeError, "[CrossEntropy] input must be [N, C, ...], got shape {}", shape_str(x.shape()));
  const int64_t num_classes = x.dim(1);

  const json& w = in.scalar("weights");
  if (w.is_array()) {
    for (const json& v : w) {
      MI_CHECK(v.is_number(), ValueError, "[CrossEntropy] weights must be numbers, got {}", w.dump());
      options.weights.push_back(v.get<double>());
    }
    MI_CHECK(static_cast<int64_t>(options.weights.size()) == num_classes, ShapeError,
             "[CrossEntropy] {} weights for {} classes", options.weights.size(), num_classes);
    return ops::cross_entropy(x, t, options);
  }
  if (!wants_auto_weights(w)) return ops::cross_entropy(x, t, options);
  if (graph.is_constant(t.id())) {
    options.weights = inverse_class_frequency(graph.constant_value(t.id()), num_classes, categorical);
    return ops::cross_entropy(x, t, options);
  }
  // A computed target: weigh the unweighted loss (categorical) or the target (distributions).
  const Var weights = inverse_class_frequency(t, num_classes, categorical, x.dtype());
  if (categorical) return ops::cross_entropy(x, t, options) * ops::gather(weights, t, 0);
  Shape s(static_cast<size_t>(x.ndim()), 1);
  s[1] = num_classes;
  return ops::cross_entropy(x, t * ops::reshape(weights, s), options);
}

void add_cross_entropy(PrimitiveRegistry& r) {
  r.add("CrossEntropy", {"input_type"}, [](const json& args) {
    const Args a("CrossEntropy", args);
    const std::string input_type = a.get_string("input_type", "logits");
    parse_input_type("CrossEntropy", input_type, true);
    PortDef target = a.get_bool("categorical", true) ? index_port("target") : tensor_port("target");
    return single_output("CrossEntropy",
                         {tensor_port("input"), target, scalar_port("weights", ""), scalar_port("categorical", true),
                          tensor_port("threshold", kMinPositiveNormal), scalar_port("robust", false)},
                         [input_type](Graph& graph, const PortReader& in) {
                           return build_cross_entropy(graph, in, input_type);
                         });
  });
}

// ---- binary cross entropy ----

// pos_weight "auto" (or true): (1 - mean(t)) / mean(t).
bool wants_auto_pos_weight(const json& pw) {
  if (pw.is_boolean()) return pw.get<bool>();
  if (pw.is_string()) {
    MI_CHECK(pw.get<std::string>() == "auto", ValueError,
             "[BinaryCrossEntropy] pos_weight must be a number or 'auto', got {}", pw.dump());
    return true;
  }
  return false;
}

// The loss written with ops, for a pos_weight known only as a graph value.
Var binary_cross_entropy_formula(const Var& x, const Var& t, const Var& pw, LossInputType type, bool robust,
                                 double threshold) {
  if (type == LossInputType::logits) {
    // (1-t)*x - ((pw-1)*t + 1) * logsigmoid(x), with logsigmoid(x) = -softplus(-x).
    return (1.0 - t) * x + ((pw - 1.0) * t + 1.0) * ops::softplus(-x);
  }
  auto log = [&](const Var& v) { return robust ? ops::robust_log(v, threshold) : ops::log(v); };
  return -(pw * t * log(x)) - (1.0 - t) * log(1.0 - x);
}

Var build_binary_cross_entropy(Graph& graph, const PortReader& in, LossInputType type) {
  const Var x = in.tensor("input");
  const Var t = in.tensor("target");
  ops::BinaryCrossEntropyOptions options;
  options.input_type = type == LossInputType::logits ? "logits" : "probs";
  options.robust = in.scalar_bool("robust");
  if (options.robust && type == LossInputType::probs) options.threshold = in.require_constant("threshold");

  const json& pw = in.scalar("pos_weight");
  if (!wants_auto_pos_weight(pw)) {
    const auto n = json_single_number(pw);
    MI_CHECK(n.has_value(), ValueError, "[BinaryCrossEntropy] pos_weight must be a number or 'auto', got {}",
             pw.dump());
    options.pos_weight = *n;
    return ops::binary_cross_entropy(x, t, options);
  }
  if (graph.is_constant(t.id())) {
    const std::vector<double> values = graph.constant_value(t.id()).to_doubles();
    double mean = 0.0;
    for (double v : values) mean += v;
    mean /= static_cast<double>(values.size());
    options.pos_weight = (1.0 - mean) / mean;
    return ops::binary_cross_entropy(x, t, options);
  }
  const Var mean = ops::mean(t);
  return binary_cross_entropy_formula(x, t, (1.0 - mean) / mean, type, options.robust, options.threshold);
}

void add_binary_cross_entropy(PrimitiveRegistry& r) {
  r.add("BinaryCrossEntropy", {"input_type"}, [](const json& args) {
    const std::string s = Args("BinaryCrossEntropy", args).get_string("input_type", "logits");
    const LossInputType type = parse_input_type("BinaryCrossEntropy", s, false);
    return with_shape_rule(single_output("BinaryCrossEntropy",
                                         {tensor_port("input"), tensor_port("target"), scalar_port("pos_weight", 1.0),
                                          tensor_port("threshold", kMinPositiveNormal), scalar_port("robust", false)},
                                         [type](Graph& graph, const PortReader& in) {
                                           return build_binary_cross_entropy(graph, in, type);
                                         }),
                           PrimitiveDef::ShapeRule::broadcast);
  });
}

}  // namespace

void register_loss_primitives(PrimitiveRegistry& r) {
  add_plain_loss(r, "SquaredError", ops::squared_error);
  add_plain_loss(r, "AbsoluteError", ops::absolute_error);
  add_plain_loss(r, "HingeLoss", ops::hinge_loss);
  add_plain_loss(r, "QuadHingeLoss", ops::quad_hinge_loss);
  add_quantile_loss(r);
  add_kl_divergence(r);
  add_cross_entropy(r);
  add_binary_cross_entropy(r);
}

}  // namespace mithril::logical
