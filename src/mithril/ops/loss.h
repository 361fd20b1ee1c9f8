// Loss ops with Mithril's semantics: elementwise losses over (input, target) with NumPy
// broadcasting (squared/absolute error, hinge, squared hinge, quantile, KL divergence with the
// robust log), categorical or distributional cross entropy over the class axis 1, and binary
// cross entropy. Gradients follow Mithril's NumPy conventions at non-differentiable points.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mithril/ir/ir.h"
#include "mithril/ops/binary.h"
#include "mithril/ir/op.h"

namespace mithril {

// The attribute an elementwise loss reads; attributes() prints (and so hashes and compares) it.
enum class LossAttr : uint8_t { none, quantile, threshold };

// An elementwise loss's declaration besides its ops.def entry: its row of the table in loss.cpp.
// CrossEntropy and BinaryCrossEntropy have structs of their own (below).
struct ElementwiseLossTraits {
  OpKind kind;
  DTypeDomain domain;        // input and target share one dtype (builders promote)
  double flops_per_element;  // cost per output element
  LossAttr attribute = LossAttr::none;
};
const ElementwiseLossTraits& elementwise_loss_traits(OpKind kind);  // for kinds where is_elementwise_loss
bool is_elementwise_loss(OpKind kind);

// SquaredError, AbsoluteError, HingeLoss, QuadHingeLoss, QuantileLoss and KLDivergence: the
// output has the broadcast shape of (input, target). `quantile` is used by QuantileLoss only,
// `threshold` (the robust log's cut-off) by KLDivergence only.
struct ElementwiseLossOp : Op {
  explicit ElementwiseLossOp(OpKind kind, double quantile = 0.5, double threshold = kMinPositiveNormal)
      : Op(kind), quantile(quantile), threshold(threshold) {}
  double quantile;
  double threshold;
  std::vector<Shape> infer_shapes(std::span<const Shape> inputs) const override;
  std::vector<DType> infer_dtypes(std::span<const DType> inputs) const override;
  std::vector<std::optional<Var>> vjp(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                                      const std::vector<std::optional<Var>>& cotangents) const override;
  std::string attributes() const override;
  Cost cost(const OpSignature& sig) const override;
};

// What the input of a cross entropy holds. BinaryCrossEntropy accepts logits and probs only.
enum class LossInputType { logits, probs, log_probs };
std::string_view loss_input_type_name(LossInputType t);

// Cross entropy over the class axis 1 of input [N, C, ...]. categorical: target holds integer
// class indices [N, ...] (i32 or i64) and the output is [N, ...]; otherwise target is a
// distribution of the input's shape and the output is -sum_c target * log(...) * w over axis 1.
// `weights` holds one weight per class (empty: all ones). `robust` selects the robust log for
// probs (logits and log_probs never take a log of an input).
struct CrossEntropyOp : Op {
  CrossEntropyOp(LossInputType input_type, bool categorical, bool robust, double threshold, std::vector<double> weights)
      : Op(OpKind::CrossEntropy),
        input_type(input_type),
        categorical(categorical),
        robust(robust),
        threshold(threshold),
        weights(std::move(weights)) {}
  LossInputType input_type;
  bool categorical;
  bool robust;
  double threshold;
  std::vector<double> weights;
  std::vector<Shape> infer_shapes(std::span<const Shape> inputs) const override;
  std::vector<DType> infer_dtypes(std::span<const DType> inputs) const override;
  std::vector<std::optional<Var>> vjp(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                                      const std::vector<std::optional<Var>>& cotangents) const override;
  std::string attributes() const override;
  Cost cost(const OpSignature& sig) const override;
};

// Binary cross entropy; target broadcasts to the input's shape, which is the output's shape.
// probs: -pw*t*log(p) - (1-t)*log(1-p) (robust log if `robust`);
// logits: (1-t)*x - ((pw-1)*t + 1) * logsigmoid(x).
struct BinaryCrossEntropyOp : Op {
  BinaryCrossEntropyOp(LossInputType input_type, double pos_weight, bool robust, double threshold)
      : Op(OpKind::BinaryCrossEntropy),
        input_type(input_type),
        pos_weight(pos_weight),
        robust(robust),
        threshold(threshold) {}
  LossInputType input_type;
  double pos_weight;
  bool robust;
  double threshold;
  std::vector<Shape> infer_shapes(std::span<const Shape> inputs) const override;
  std::vector<DType> infer_dtypes(std::span<const DType> inputs) const override;
  std::vector<std::optional<Var>> vjp(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                                      const std::vector<std::optional<Var>>& cotangents) const override;
  std::string attributes() const override;
  Cost cost(const OpSignature& sig) const override;
};

namespace ops {

struct CrossEntropyOptions {
  std::string input_type = "logits";  // "logits" | "probs" | "log_probs"
  bool categorical = true;
  bool robust = false;
  double threshold = kMinPositiveNormal;
  std::vector<double> weights;  // per class; empty = all ones
};

struct BinaryCrossEntropyOptions {
  std::string input_type = "logits";  // "logits" | "probs"
  double pos_weight = 1.0;
  bool robust = false;
  double threshold = kMinPositiveNormal;
};

// Float operands of different dtypes are promoted, as in the binary builders.
Var squared_error(const Var& input, const Var& target);
Var absolute_error(const Var& input, const Var& target);
Var hinge_loss(const Var& input, const Var& target);
Var quad_hinge_loss(const Var& input, const Var& target);
Var quantile_loss(const Var& input, const Var& target, double quantile = 0.5);
Var kl_divergence(const Var& input, const Var& target, double threshold = kMinPositiveNormal);
// Throws AttributeError for an unknown input_type string.
Var cross_entropy(const Var& input, const Var& target, const CrossEntropyOptions& options = {});
Var binary_cross_entropy(const Var& input, const Var& target, const BinaryCrossEntropyOptions& options = {});

}  // namespace ops
}  // namespace mithril
