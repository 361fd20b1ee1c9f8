// Unary elementwise ops: arithmetic, transcendental functions, activations and Mithril's
// robust variants (sqrt/log continued linearly below a threshold, stable reciprocal).
#pragma once

#include "mithril/ir/ir.h"
#include "mithril/ops/binary.h"  // kMinPositiveNormal
#include "mithril/ir/op.h"

namespace mithril {

struct UnaryAttrs {
  double slope = 0.01;       // LeakyRelu: max(0,x) + slope*min(0,x)
  bool approximate = false;  // Gelu: tanh approximation instead of erf
  bool robust = false;       // Sqrt/Log: Mithril's robust form below `threshold`
  double threshold = 0.0;    // robust Sqrt/Log and StableReciprocal; must be positive there
};

// The UnaryAttrs field an op reads; attributes() prints (and so hashes and compares) exactly it.
enum class UnaryAttr : uint8_t {
  none,
  slope,        // "slope=0.01"
  approximate,  // "approximate=false"
  robust,       // "robust=true, threshold=..." when robust, nothing otherwise
  threshold,    // "threshold=..."
};

// A unary op's declaration besides its ops.def entry: its row of the table in unary.cpp.
struct UnaryTraits {
  OpKind kind;
  DTypeDomain domain;
  double flops_per_element;  // cost: transcendental functions 10, the rest 1
  UnaryAttr attribute = UnaryAttr::none;
};
const UnaryTraits& unary_traits(OpKind kind);  // every op of the unary family has a row

struct UnaryOp : Op {
  explicit UnaryOp(OpKind kind, UnaryAttrs attrs = {}) : Op(kind), attrs(attrs) {}
  UnaryAttrs attrs;
  std::vector<Shape> infer_shapes(std::span<const Shape> inputs) const override;
  std::vector<DType> infer_dtypes(std::span<const DType> inputs) const override;
  std::vector<std::optional<Var>> vjp(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                                      const std::vector<std::optional<Var>>& cotangents) const override;
  std::string attributes() const override;
  Cost cost(const OpSignature& sig) const override;
};

inline constexpr double kStableReciprocalThreshold = 1.4916681462400413e-153;

// The threshold of a robust op as applied in `dtype`: never below the dtype's smallest positive
// normal, so the float64 defaults (kMinPositiveNormal, kStableReciprocalThreshold) do not flush to
// zero in float32 and silently disable the robust branch. Kernels and gradient rules both use it.
double effective_threshold(double threshold, DType dtype);

namespace ops {

Var unary(OpKind kind, const Var& x, UnaryAttrs attrs = {});
Var neg(const Var& x);
Var abs(const Var& x);
Var sign(const Var& x);
Var square(const Var& x);
Var sqrt(const Var& x);
Var robust_sqrt(const Var& x, double threshold = kMinPositiveNormal);
Var exp(const Var& x);
Var log(const Var& x);
Var robust_log(const Var& x, double threshold = kMinPositiveNormal);
Var log1p(const Var& x);
Var sin(const Var& x);
Var cos(const Var& x);
Var tanh(const Var& x);
Var sigmoid(const Var& x);
Var relu(const Var& x);
Var leaky_relu(const Var& x, double slope = 0.01);
Var softplus(const Var& x);
Var gelu(const Var& x, bool approximate = false);
Var erf(const Var& x);
Var reciprocal(const Var& x);
Var stable_reciprocal(const Var& x, double threshold = kStableReciprocalThreshold);
Var floor(const Var& x);
Var logical_not(const Var& x);
Var stop_gradient(const Var& x);
Var identity(const Var& x);

}  // namespace ops
}  // namespace mithril
