#include "mithril/ops/fused.h"

#include <algorithm>

#include "mithril/core/error.h"

namespace mithril {

std::optional<FusedOperand> fused_operand_kind(const Shape& operand, const Shape& output) {
  if (operand == output) return FusedOperand::full;
  if (numel(operand) == 1 && operand.size() <= output.size()) return FusedOperand::scalar;
  if (operand.size() == output.size() && operand.back() == 1 && std::equal(operand.begin(), operand.end() - 1, output.begin()))
    return FusedOperand::column;
  bool row = !output.empty() && !operand.empty() && operand.size() <= output.size() && operand.back() == output.back();
  for (size_t i = 0; row && i + 1 < operand.size(); ++i) row = operand[i] == 1;
  if (!row) return std::nullopt;
  return FusedOperand::row;
}

FusedOp::FusedOp(OpKind kind, Shape shape, DType dtype, std::vector<FusedStep> steps, std::vector<FusedProduct> products)
    : Op(kind), shape(std::move(shape)), dtype(dtype), steps(std::move(steps)), products(std::move(products)) {
  MI_CHECK(kind != OpKind::FusedLinear || !this->products.empty(), ValueError, "[fused_linear] needs at least one product");
}

namespace {

// The inner size k of product p with operands x and w giving `out`; checks their shapes.
int64_t product_inner(const FusedProduct& p, const Shape& x, const Shape& w, const Shape& out) {
  MI_CHECK(x.size() >= 2 && w.size() == 2 && (!p.transpose_left || x.size() == 2) && !out.empty(), ShapeError,
           "[fused_linear] needs x of rank >= 2 (2 when read transposed) and a 2-D weight, got x {} and weight {}",
           shape_str(x), shape_str(w));
  const int64_t k = p.transpose_left ? x[0] : x.back(), n = out.back();
  MI_CHECK((p.transpose_right ? w == Shape{n, k} : w == Shape{k, n}), ShapeError, "[fused_linear] weight {} does not fit x {} -> {}",
           shape_str(w), shape_str(x), shape_str(out));
  Shape expected;
  if (p.transpose_left) expected = {x[1]};
  else expected.assign(x.begin(), x.end() - 1);
  expected.push_back(n);
  MI_CHECK(expected == out, ShapeError, "[fused_linear] x {} gives {}, not {}", shape_str(x), shape_str(expected), shape_str(out));
  return k;
}

}  // namespace

std::vector<Shape> FusedOp::infer_shapes(std::span<const Shape> inputs) const {
  const size_t first = first_operand();
  MI_CHECK(inputs.size() >= first, ShapeError, "[{}] {} products need {} inputs, got {}", name(), products.size(), first,
           inputs.size());
  for (size_t j = 0; j < products.size(); ++j) product_inner(products[j], inputs[2 * j], inputs[2 * j + 1], shape);
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
  if (kind() == OpKind::FusedLinear) {
    s += ", products=[";
    for (size_t j = 0; j < products.size(); ++j)
      s += fmt::format("{}x{}{}", j ? "; " : "", products[j].transpose_left ? "^T @ w" : " @ w", products[j].transpose_right ? "^T" : "");
    s += "]";
  }
  return s;
}

Cost FusedOp::cost(const OpSignature& sig) const {
  Cost c = Op::cost(sig);  // every input read once, the output written once
  const double elements = static_cast<double>(numel(shape));
  c.flops = elements * static_cast<double>(steps.size());
  for (size_t j = 0; j < products.size(); ++j) {
    const Shape& x = sig.input_shapes[2 * j];
    c.flops += 2.0 * elements * static_cast<double>(products[j].transpose_left ? x[0] : x.back());
  }
  return c;
}

}  // namespace mithril
