// Reference kernels for the loss family, in float64. Cross entropy on logits uses the
// log-sum-exp of each class row shifted by its maximum; the robust log is ln|x| at or above the
// threshold (as applied in the input dtype) and its tangent below.
#include <algorithm>
#include <cmath>

#include "mithril/backends/reference/kernels.h"
#include "mithril/backends/reference/loops.h"
#include "mithril/core/error.h"
#include "mithril/ops/loss.h"
#include "mithril/ops/unary.h"

namespace mithril::reference {
namespace {

double robust_log(double x, double thr) {
  const double a = std::abs(x);
  return a >= thr ? std::log(a) : std::log(thr) + a / thr - 1.0;
}

double log_of(double x, bool robust, double thr) { return robust ? robust_log(x, thr) : std::log(x); }

double elementwise_loss(const ElementwiseLossOp& op, double thr, double x, double t) {
  switch (op.kind()) {
    case OpKind::SquaredError: return (x - t) * (x - t);
    case OpKind::AbsoluteError: return std::abs(x - t);
    case OpKind::HingeLoss: return std::max(0.0, 1.0 - t * x);
    case OpKind::QuadHingeLoss: return std::max(0.0, 1.0 - t * x) * std::max(0.0, 1.0 - t * x);
    case OpKind::QuantileLoss: {
      const double e = t - x, q = op.quantile;
      return std::max(q * e, (q - 1.0) * e);
    }
    case OpKind::KLDivergence: return t * (robust_log(t, thr) - robust_log(x, thr));
    default: MI_THROW(KernelError, "[{}] is not an elementwise loss", op.name());
  }
}

// (input, target) broadcast together; target broadcast to the input for binary cross entropy.
void elementwise_loss_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const Shape& shape = out[0].shape();
  const std::vector<double> x = read(in[0]), t = read(in[1]);
  const std::vector<int64_t> sx = broadcast_sources(in[0].shape(), shape), st = broadcast_sources(in[1].shape(), shape);
  std::vector<double> y(sx.size());
  if (op.kind() == OpKind::BinaryCrossEntropy) {
    const auto& b = static_cast<const BinaryCrossEntropyOp&>(op);
    const double thr = effective_threshold(b.threshold, in[0].dtype()), pw = b.pos_weight;
    for (size_t i = 0; i < y.size(); ++i) {
      const double v = x[static_cast<size_t>(sx[i])], tv = t[static_cast<size_t>(st[i])];
      if (b.input_type == LossInputType::probs) {
        y[i] = -pw * tv * log_of(v, b.robust, thr) - (1.0 - tv) * log_of(1.0 - v, b.robust, thr);
      } else {
        // log(sigmoid(v)) = min(0, v) - log(1 + e^-|v|), through the robust log when robust.
        const double e = std::exp(-std::abs(v));
        const double log_sigmoid = std::min(0.0, v) - (b.robust ? robust_log(1.0 + e, thr) : std::log1p(e));
        y[i] = (1.0 - tv) * v - ((pw - 1.0) * tv + 1.0) * log_sigmoid;
      }
    }
  } else {
    const auto& l = static_cast<const ElementwiseLossOp&>(op);
    const double thr = effective_threshold(l.threshold, in[0].dtype());
    for (size_t i = 0; i < y.size(); ++i)
      y[i] = elementwise_loss(l, thr, x[static_cast<size_t>(sx[i])], t[static_cast<size_t>(st[i])]);
  }
  write(out[0], y);
}

// Cross entropy over the class axis 1 of input (N, C, rest...); output element r = (n, rest).
void cross_entropy_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const auto& ce = static_cast<const CrossEntropyOp&>(op);
  const Shape& shape = in[0].shape();
  const int64_t classes = shape[1];
  const int64_t inner = numel(Shape(shape.begin() + 2, shape.end()));
  const double thr = effective_threshold(ce.threshold, in[0].dtype());
  const std::vector<double> x = read(in[0]), t = read(in[1]);
  auto weight = [&](int64_t c) { return ce.weights.empty() ? 1.0 : ce.weights[static_cast<size_t>(c)]; };
  std::vector<double> y(static_cast<size_t>(out[0].numel()));
  for (size_t r = 0; r < y.size(); ++r) {
    const int64_t n = static_cast<int64_t>(r) / inner, i = static_cast<int64_t>(r) % inner;  // y has N*inner elements
    auto at = [&](int64_t c) { return static_cast<size_t>((n * classes + c) * inner + i); };
    double lse = 0;
    if (ce.input_type == LossInputType::logits) {
      double m = -kInf;
      for (int64_t c = 0; c < classes; ++c) m = std::max(m, x[at(c)]);
      double s = 0;
      for (int64_t c = 0; c < classes; ++c) s += std::exp(x[at(c)] - m);
      lse = m + std::log(s);
    }
    // -log p(class c) as the input type gives it.
    auto neg_log_p = [&](int64_t c) {
      switch (ce.input_type) {
        case LossInputType::logits: return lse - x[at(c)];
        case LossInputType::probs: return -log_of(x[at(c)], ce.robust, thr);
        case LossInputType::log_probs: return -x[at(c)];
      }
      return kNaN;
    };
    if (ce.categorical) {
      const auto k = static_cast<int64_t>(t[r]);
      MI_CHECK(k >= 0 && k < classes, ValueError, "[cross_entropy] class index {} out of range for {} classes", k,
               classes);
      y[r] = neg_log_p(k) * weight(k);
    } else {
      double s = 0;
      for (int64_t c = 0; c < classes; ++c) s += t[at(c)] * neg_log_p(c) * weight(c);
      y[r] = s;
    }
  }
  write(out[0], y);
}

}  // namespace

void register_loss_kernels(KernelTable& t) {
  const auto floating = {DType::f64, DType::f32, DType::f16, DType::bf16};
  for (OpKind k : {OpKind::SquaredError, OpKind::AbsoluteError, OpKind::HingeLoss, OpKind::QuadHingeLoss,
                   OpKind::QuantileLoss, OpKind::KLDivergence, OpKind::BinaryCrossEntropy})
    add_for_dtypes(t, k, floating, elementwise_loss_kernel, op_name(k).data());
  add_for_dtypes(t, OpKind::CrossEntropy, floating, cross_entropy_kernel, "cross_entropy");
}

}  // namespace mithril::reference
