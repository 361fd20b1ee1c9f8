#include "mithril/ir/op.h"

#include <algorithm>
#include <functional>

#include "mithril/core/error.h"
#include "mithril/ir/ir.h"

namespace mithril {

void check_op_family(std::string_view family) {
  const bool known = family.empty() || std::any_of(std::begin(kOpTable), std::end(kOpTable),
                                                   [&](const OpInfo& i) { return i.family == family; });
  MI_CHECK(known, KeyError, "unknown op family '{}': expected unary, binary, reduce, shape, linalg, conv, loss or fused",
           family);
}

std::optional<OpKind> op_kind_from_name(std::string_view name) {
  for (int i = 0; i < kNumOps; ++i)
    if (kOpTable[i].name == name) return static_cast<OpKind>(i);
  return std::nullopt;
}

std::vector<DType> Op::infer_dtypes(std::span<const DType> inputs) const {
  MI_ASSERT(!inputs.empty());
  for (size_t i = 1; i < inputs.size(); ++i)
    MI_CHECK(inputs[i] == inputs[0], DTypeError, "[{}] dtype mismatch: input 0 is {} but input {} is {}", name(),
             dtype_name(inputs[0]), i, dtype_name(inputs[i]));
  return {inputs[0]};
}

std::vector<std::optional<Var>> Op::vjp(const std::vector<Var>&, const std::vector<Var>&,
                                        const std::vector<std::optional<Var>>&) const {
  MI_THROW(ValueError, "[{}] is not differentiable", name());
}

Cost Op::cost(const OpSignature& sig) const {
  Cost c;
  for (const Shape& s : sig.output_shapes) c.flops += static_cast<double>(numel(s));
  for (size_t i = 0; i < sig.input_shapes.size(); ++i)
    c.bytes += static_cast<double>(numel(sig.input_shapes[i]) * static_cast<int64_t>(dtype_size(sig.input_dtypes[i])));
  for (size_t i = 0; i < sig.output_shapes.size(); ++i)
    c.bytes += static_cast<double>(numel(sig.output_shapes[i]) * static_cast<int64_t>(dtype_size(sig.output_dtypes[i])));
  return c;
}

size_t Op::hash() const {
  return std::hash<std::string>{}(attributes()) * 31 + static_cast<size_t>(kind_);
}

std::string Op::to_string() const {
  const std::string a = attributes();
  return a.empty() ? std::string(name()) : fmt::format("{}({})", name(), a);
}

DType Op::dispatch_dtype(std::span<const DType> inputs, std::span<const DType> outputs) const {
  return inputs.empty() ? outputs[0] : inputs[0];
}

bool in_domain(DType t, DTypeDomain d) {
  switch (d) {
    case DTypeDomain::any: return true;
    case DTypeDomain::numeric: return t != DType::b8;
    case DTypeDomain::floating: return is_float(t);
    case DTypeDomain::boolean: return t == DType::b8;
    case DTypeDomain::integer: return is_int(t);
  }
  return false;
}

void check_domain(const Op& op, DType t, DTypeDomain domain, size_t inputs) {
  if (in_domain(t, domain)) return;
  if (domain == DTypeDomain::numeric) MI_THROW(DTypeError, "[{}] is not defined for bool inputs", op.name());
  const bool one = inputs == 1;
  const char* what = domain == DTypeDomain::floating ? (one ? "a floating-point input" : "floating-point inputs")
                     : domain == DTypeDomain::boolean ? (one ? "a bool input" : "bool inputs")
                                                      : (one ? "an integer input" : "integer inputs");
  MI_THROW(DTypeError, "[{}] needs {}, got {}", op.name(), what, dtype_name(t));
}

void check_arity(const Op& op, size_t got, size_t expected) {
  MI_CHECK(got == expected, ValueError, "[{}] expects {} inputs, got {}", op.name(), expected, got);
}

std::string shapes_str(std::span<const Shape> shapes) {
  std::string s;
  for (size_t i = 0; i < shapes.size(); ++i) s.append(i ? ", " : "").append(shape_str(shapes[i]));
  return s;
}

}  // namespace mithril
