#include "mithril/ops/fused.h"

#include "mithril/core/error.h"

namespace mithril {

std::optional<FusedOperand> fused_operand_kind(const Shape& operand, const Shape& output) {
  if (operand == output) return FusedOperand::full;
  if (numel(operand) == 1 && operand.size() <= output.size()) return FusedOperand::scalar;
  bool row = !output.empty() && !operand.empty() && operand.size() <= output.size() && operand.back() == output.back();
  for (size_t i = 0; row && i + 1 < operand.size(); ++i) row = operand[i] == 1;
  if (!row) return std::nullopt;
  return FusedOperand::row;
}

FusedOp::FusedOp(OpKind kind, Shape shape, DType dtype, std::vector<FusedStep> steps, bool transpose_right)
    : Op(kind), shape(std::move(shape)), dtype(dtype), steps(std::move(steps)), transpose_right(transpose_right) {}

std::vector<Shape> FusedOp::infer_shapes(std::span<const Shape> inputs) const {
  size_t first = 0;
  if (kind() == OpKind::FusedLinear) {
    MI_CHECK(inputs.size() >= 2 && inputs[0].size() >= 2 && inputs[1].size() == 2, ShapeError,
             "[fused_linear] needs x of rank >= 2 and a 2-D weight, got {}", shapes_str(inputs));
    const int64_t k = inputs[0].back(), n = shape.back();
    const Shape& w = inputs[1];
    MI_CHECK((transpose_right ? w == Shape{n, k} : w == Shape{k, n}), ShapeError, "[fused_linear] weight {} does not fit x {} -> {}",
             shape_str(w), shape_str(inputs[0]), shape_str(shape));
    Shape expected(inputs[0].begin(), inputs[0].end() - 1);
    expected.push_back(n);
    MI_CHECK(expected == shape, ShapeError, "[fused_linear] x {} gives {}, not {}", shape_str(inputs[0]), shape_str(expected),
             shape_str(shape));
    first = 2;
  }
  for (size_t i = first; i < inputs.size(); ++i)
    MI_CHECK(fused_operand_kind(inputs[i], shape).has_value(), ShapeError,
             "[{}] operand shape {} is neither {}, one element, nor one row of it", name(), shape_str(inputs[i]), shape_str(shape));
  for (const FusedStep& s : steps)
    for (int a : s.args) MI_CHECK(a < static_cast<int>(inputs.size()), ValueError, "[{}] step reads input {} of {}", name(), a, inputs.size());
  return {shape};
}

std::vector<DType> FusedOp::infer_dtypes(std::span<const DType>) const { return {dtype}; }

std::string FusedOp::attributes() const {
  std::string s = "steps=[";
  for (size_t i = 0; i < steps.size(); ++i) {
    s += i ? "; " : "";
    s += steps[i].op->to_string() + " <-";
    for (int a : steps[i].args) s += a == FusedStep::kRunning ? std::string(" @") : " $" + std::to_string(a);
  }
  s += "]";
  if (kind() == OpKind::FusedLinear) s += transpose_right ? ", transpose_right=true" : ", transpose_right=false";
  return s;
}

Cost FusedOp::cost(const OpSignature& sig) const {
  Cost c = Op::cost(sig);  // every input read once, the output written once
  const double elements = static_cast<double>(numel(shape));
  c.flops = elements * static_cast<double>(steps.size());
  if (kind() == OpKind::FusedLinear) c.flops += 2.0 * elements * static_cast<double>(sig.input_shapes[0].back());
  return c;
}

}  // namespace mithril
