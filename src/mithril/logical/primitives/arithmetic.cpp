// Arithmetic and elementwise primitives: binary arithmetic, shifts, power, matrix multiply,
// unary functions and activations (with Mithril's robust variants), softmax and where.
#include "mithril/core/error.h"
#include "mithril/logical/primitives/common.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/linalg.h"
#include "mithril/ops/reduce.h"
#include "mithril/ops/shape.h"
#include "mithril/ops/unary.h"

namespace mithril::logical {
namespace {

using BinaryFn = Var (*)(const Var&, const Var&);
using UnaryFn = Var (*)(const Var&);

void add_binary(PrimitiveRegistry& r, const char* name, const char* left, const char* right, BinaryFn fn) {
  r.add(name, {}, [=](const json&) {
    PrimitiveDef def = single_output(name, {tensor_port(left), tensor_port(right)},
                                     [=](Graph&, const PortReader& in) { return fn(in.tensor(left), in.tensor(right)); });
    def.shape_rule = PrimitiveDef::ShapeRule::broadcast;
    return def;
  });
}

void add_unary(PrimitiveRegistry& r, const char* name, UnaryFn fn) {
  r.add(name, {}, [=](const json&) {
    return same_shape(single_output(name, {tensor_port("input")},
                                    [=](Graph&, const PortReader& in) { return fn(in.tensor("input")); }));
  });
}

// Mithril's MatrixMultiply: left [..., m, n] @ right [..., n, p] -> [..., m, p], batch dims broadcast.
void add_matmul(PrimitiveRegistry& r) {
  r.add("MatrixMultiply", {}, [](const json&) {
    PrimitiveDef def = single_output("MatrixMultiply", {tensor_port("left"), tensor_port("right")},
                                     [](Graph&, const PortReader& in) {
                                       return ops::matmul(in.tensor("left"), in.tensor("right"));
                                     });
    def.shapes = {{"left", {"B1,...", "m", "n"}}, {"right", {"B2,...", "n", "p"}}, {"output", {"B3,...", "m", "p"}}};
    def.shape_rule = PrimitiveDef::ShapeRule::matmul;
    return def;
  });
}

// Integer operands divide as real numbers (NumPy true division).
Var true_divide(const Var& a, const Var& b) {
  if (!is_float(a.dtype()) && !is_float(b.dtype())) return ops::div(ops::cast(a, DType::f64), ops::cast(b, DType::f64));
  return ops::div(a, b);
}

// The robust ops take their threshold as an attribute, so the port must hold a constant.
void add_robust_unary(PrimitiveRegistry& r, const char* name, Var (*plain)(const Var&),
                      Var (*robust)(const Var&, double)) {
  r.add(name, {"robust"}, [=](const json& args) {
    const bool is_robust = Args(name, args).get_bool("robust", false);
    std::vector<PortDef> ports{tensor_port("input")};
    if (is_robust) ports.push_back(tensor_port("threshold", kMinPositiveNormal));
    return same_shape(single_output(name, ports, [=](Graph&, const PortReader& in) {
      if (!is_robust) return plain(in.tensor("input"));
      return robust(in.tensor("input"), in.require_constant("threshold"));
    }));
  });
}

Var robust_sqrt(const Var& x, double threshold) { return ops::robust_sqrt(x, threshold); }
Var robust_log(const Var& x, double threshold) { return ops::robust_log(x, threshold); }

void add_power(PrimitiveRegistry& r) {
  r.add("Power", {"robust"}, [](const json& args) {
    const bool robust = Args("Power", args).get_bool("robust", false);
    std::vector<PortDef> ports{tensor_port("base"), tensor_port("exponent")};
    if (robust) ports.push_back(tensor_port("threshold", kMinPositiveNormal));
    PrimitiveDef def = single_output("Power", ports, [=](Graph&, const PortReader& in) {
      if (!robust) return ops::pow(in.tensor("base"), in.tensor("exponent"));
      return ops::robust_pow(in.tensor("base"), in.tensor("exponent"), in.require_constant("threshold"));
    });
    def.shape_rule = PrimitiveDef::ShapeRule::broadcast;
    return def;
  });
}

// max(0,x) + slope*min(0,x), gradient slope at 0 (NumPy convention). A computed slope is
// applied with where(x > 0, x, slope*x), which has the same values and gradients.
void add_leaky_relu(PrimitiveRegistry& r) {
  r.add("LeakyRelu", {}, [](const json&) {
    return same_shape(single_output("LeakyRelu", {tensor_port("input"), tensor_port("slope", 0.01)},
                         [](Graph&, const PortReader& in) {
                           const Var x = in.tensor("input");
                           if (const auto slope = in.constant_number("slope")) return ops::leaky_relu(x, *slope);
                           const Var zero = ops::scalar_like(x, 0.0);
                           return ops::where(ops::greater(x, zero), x, in.tensor("slope") * x);
                         }));
  });
}

void add_gelu(PrimitiveRegistry& r) {
  r.add("Gelu", {}, [](const json&) {
    return same_shape(single_output("Gelu", {tensor_port("input"), scalar_port("approximate", false)},
                         [](Graph&, const PortReader& in) {
                           return ops::gelu(in.tensor("input"), in.scalar_bool("approximate"));
                         }));
  });
}

void add_softmax(PrimitiveRegistry& r) {
  r.add("Softmax", {}, [](const json&) {
    return same_shape(single_output("Softmax", {tensor_port("input"), scalar_port("axis", -1)},
                         [](Graph&, const PortReader& in) {
                           return ops::softmax(in.tensor("input"), in.scalar_int("axis"));
                         }));
  });
}

void add_stable_reciprocal(PrimitiveRegistry& r) {
  r.add("StableReciprocal", {}, [](const json&) {
    return same_shape(single_output("StableReciprocal", {tensor_port("input"), tensor_port("threshold", kStableReciprocalThreshold)},
                         [](Graph&, const PortReader& in) {
                           return ops::stable_reciprocal(in.tensor("input"), in.require_constant("threshold"));
                         }));
  });
}

void add_where(PrimitiveRegistry& r) {
  r.add("Where", {}, [](const json&) {
    return single_output("Where", {condition_port("cond"), tensor_port("input1"), tensor_port("input2")},
                         [](Graph&, const PortReader& in) {
                           return ops::where(in.tensor("cond"), in.tensor("input1"), in.tensor("input2"));
                         });
  });
}

void add_logical(PrimitiveRegistry& r, const char* name, BinaryFn fn) {
  r.add(name, {}, [=](const json&) {
    PrimitiveDef def = single_output(name, {condition_port("left"), condition_port("right")},
                                     [=](Graph&, const PortReader& in) { return fn(in.tensor("left"), in.tensor("right")); });
    def.shape_rule = PrimitiveDef::ShapeRule::broadcast;
    return def;
  });
}

void add_logical_not(PrimitiveRegistry& r) {
  r.add("LogicalNot", {}, [](const json&) {
    return same_shape(single_output("LogicalNot", {condition_port("input")},
                                    [](Graph&, const PortReader& in) { return ops::logical_not(in.tensor("input")); }));
  });
}

void add_shift(PrimitiveRegistry& r, const char* name, BinaryFn fn) {
  r.add(name, {}, [=](const json&) {
    return single_output(name, {index_port("input"), index_port("shift")},
                         [=](Graph&, const PortReader& in) { return fn(in.tensor("input"), in.tensor("shift")); });
  });
}

}  // namespace

void register_arithmetic_primitives(PrimitiveRegistry& r) {
  add_binary(r, "Add", "left", "right", ops::add);
  add_binary(r, "Subtract", "left", "right", ops::sub);
  add_binary(r, "Multiply", "left", "right", ops::mul);
  add_binary(r, "Divide", "numerator", "denominator", true_divide);
  add_binary(r, "FloorDivide", "numerator", "denominator", ops::floor_div);
  add_matmul(r);
  add_shift(r, "ShiftLeft", ops::shift_left);
  add_shift(r, "ShiftRight", ops::shift_right);
  add_power(r);

  add_unary(r, "Exponential", ops::exp);
  add_unary(r, "Sine", ops::sin);
  add_unary(r, "Cosine", ops::cos);
  add_unary(r, "Tanh", ops::tanh);
  add_unary(r, "Sigmoid", ops::sigmoid);
  add_unary(r, "Absolute", ops::abs);
  add_unary(r, "Sign", ops::sign);
  add_unary(r, "Square", ops::square);
  add_unary(r, "Negate", ops::neg);
  add_unary(r, "Relu", ops::relu);
  add_unary(r, "Softplus", ops::softplus);
  add_unary(r, "Buffer", ops::identity);
  add_unary(r, "StopGradient", ops::stop_gradient);
  add_robust_unary(r, "Sqrt", ops::sqrt, robust_sqrt);
  add_robust_unary(r, "Log", ops::log, robust_log);
  add_stable_reciprocal(r);
  add_leaky_relu(r);
  add_gelu(r);
  add_softmax(r);
  add_where(r);

  // Elementwise comparisons (bool results), logical ops on conditions, minimum and maximum.
  add_binary(r, "Minimum", "left", "right", ops::minimum);
  add_binary(r, "Maximum", "left", "right", ops::maximum);
  add_binary(r, "Equal", "left", "right", ops::equal);
  add_binary(r, "NotEqual", "left", "right", ops::not_equal);
  add_binary(r, "Less", "left", "right", ops::less);
  add_binary(r, "LessEqual", "left", "right", ops::less_equal);
  add_binary(r, "Greater", "left", "right", ops::greater);
  add_binary(r, "GreaterEqual", "left", "right", ops::greater_equal);
  add_logical(r, "LogicalAnd", ops::logical_and);
  add_logical(r, "LogicalOr", ops::logical_or);
  add_logical(r, "LogicalXOr", ops::logical_xor);
  add_logical_not(r);
  add_unary(r, "Floor", ops::floor);
}

}  // namespace mithril::logical
