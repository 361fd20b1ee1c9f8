// Shared machinery of the primitive families: the registry the family files fill, helpers that
// declare ports, read constructor arguments, and read the values reaching ports at build time.
// Internal to src/mithril/logical; users go through primitive.h.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mithril/core/shape.h"
#include "mithril/logical/primitive.h"

namespace mithril::logical {

// One registered primitive: its factory and the constructor arguments it accepts besides its
// input port names (any input port may also be given as a constructor argument; its value
// becomes the port's default, as in Mithril where ports are constructor keywords).
struct PrimitiveEntry {
  std::string name;
  std::vector<std::string> args;
  PrimitiveFactory factory;
};

class PrimitiveRegistry {
 public:
  void add(std::string name, std::vector<std::string> args, PrimitiveFactory factory);
  const PrimitiveEntry* find(const std::string& name) const;  // case-insensitive; nullptr if unknown
  std::vector<std::string> names() const;                      // Mithril class names, sorted

 private:
  std::map<std::string, PrimitiveEntry> entries_;  // keyed by lower-case name
};

// One function per family file, called once when the registry is first used.
void register_arithmetic_primitives(PrimitiveRegistry& registry);
void register_shape_primitives(PrimitiveRegistry& registry);
void register_reduction_primitives(PrimitiveRegistry& registry);
void register_loss_primitives(PrimitiveRegistry& registry);
void register_layer_primitives(PrimitiveRegistry& registry);
void register_kernel_primitives(PrimitiveRegistry& registry);
void register_tensor_primitives(PrimitiveRegistry& registry);

// Port declarations.
PortDef tensor_port(std::string name, std::optional<json> default_value = std::nullopt);
PortDef index_port(std::string name);      // integer tensor (class indices, gather indices)
PortDef condition_port(std::string name);  // boolean tensor
PortDef parameter_port(std::string name);  // differentiable tensor (weight, bias)
PortDef scalar_port(std::string name, json default_value);
PortDef list_port(std::string name);
PortDef output_port(std::string name = "output");

// Constructor arguments of one primitive, with messages naming the model:
// "[Softmax] argument 'axis' must be an integer, got "a"".
class Args {
 public:
  Args(std::string model, const json& args) : model_(std::move(model)), args_(args) {}
  bool has(const std::string& name) const;  // present and not null
  const json& get(const std::string& name) const;  // null when absent
  bool get_bool(const std::string& name, bool fallback) const;
  int64_t get_int(const std::string& name, int64_t fallback) const;
  double get_double(const std::string& name, double fallback) const;
  std::string get_string(const std::string& name, const std::string& fallback) const;

 private:
  std::string model_;
  const json& args_;
};

// Reads what reached the ports of one primitive while it is built.
class PortReader {
 public:
  PortReader(std::string model, const PortValues& values) : model_(std::move(model)), values_(values) {}
  const std::string& model() const { return model_; }
  Var tensor(const std::string& port) const;
  const std::vector<Var>& tensors(const std::string& port) const;
  const json& scalar(const std::string& port) const;  // null when nothing reached it
  // The number held by a tensor port when it is a compile-time constant (from its JSON value or
  // a one-element graph constant); nullopt for a computed value.
  std::optional<double> constant_number(const std::string& port) const;
  // constant_number or ValueError "[LeakyRelu] port 'slope' must be a constant".
  double require_constant(const std::string& port) const;
  // Scalar-port readers; each throws ValueError naming the model and port on a wrong JSON type.
  bool scalar_bool(const std::string& port) const;
  int64_t scalar_int(const std::string& port) const;
  std::vector<int64_t> scalar_ints(const std::string& port) const;  // a list of integers
  // axis = null -> nullopt (all axes); an integer -> {axis}; a list -> the list.
  std::optional<Axes> scalar_axes(const std::string& port) const;

 private:
  const PortValue& value(const std::string& port) const;
  std::string model_;
  const PortValues& values_;
};

// The single number in a JSON value: a number, a bool, or nested one-element lists of one.
std::optional<double> json_single_number(const json& value);

// A primitive with one output port `output` after `inputs`, built by `rule`.
using SingleOutputRule = std::function<Var(Graph& graph, const PortReader& in)>;
PrimitiveDef single_output(std::string name, std::vector<PortDef> inputs, SingleOutputRule rule);

// Declares `output` to have the shape of `input` (elementwise functions).
PrimitiveDef same_shape(PrimitiveDef def);
// Sets the shape rule (broadcasting of the first two tensor inputs, ...).
PrimitiveDef with_shape_rule(PrimitiveDef def, PrimitiveDef::ShapeRule rule);

// Element-type conversions applied to integer and boolean ports: float indices are rounded
// (constants at build time), conditions become value != 0.
Var to_integer(Graph& graph, const Var& v);
Var to_boolean(const Var& v);

// Formulas shared by several primitives.
// Mithril's NormModifier: 4 * (1 - 2 * |((n - 1) mod 8) / 8 - 0.5|) + 1 (floored modulo).
Var norm_modifier(const Var& n);
// D_ij = sum_k |left_ik - right_jk|^p for left [N,d], right [M,d] (robust power).
Var distance_matrix(const Var& left, const Var& right, const Var& p);

}  // namespace mithril::logical
