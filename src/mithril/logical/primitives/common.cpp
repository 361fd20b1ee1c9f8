#include "mithril/logical/primitives/common.h"

#include <cmath>

#include "mithril/core/error.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/reduce.h"
#include "mithril/ops/shape.h"
#include "mithril/ops/unary.h"

namespace mithril::logical {

PortDef tensor_port(std::string name, std::optional<json> default_value) {
  PortDef p;
  p.name = std::move(name);
  p.default_value = std::move(default_value);
  return p;
}

PortDef index_port(std::string name) {
  PortDef p = tensor_port(std::move(name));
  p.elem = PortDef::Elem::integer;
  return p;
}

PortDef condition_port(std::string name) {
  PortDef p = tensor_port(std::move(name));
  p.elem = PortDef::Elem::boolean;
  return p;
}

PortDef parameter_port(std::string name) {
  PortDef p = tensor_port(std::move(name));
  p.differentiable = true;
  return p;
}

PortDef scalar_port(std::string name, json default_value) {
  PortDef p;
  p.name = std::move(name);
  p.kind = PortKind::scalar_input;
  p.default_value = std::move(default_value);
  return p;
}

PortDef list_port(std::string name) {
  PortDef p;
  p.name = std::move(name);
  p.kind = PortKind::tensor_list_input;
  return p;
}

PortDef output_port(std::string name) {
  PortDef p;
  p.name = std::move(name);
  p.kind = PortKind::output;
  return p;
}

// ---- constructor arguments ----

bool Args::has(const std::string& name) const { return args_.contains(name) && !args_.at(name).is_null(); }

const json& Args::get(const std::string& name) const {
  static const json null_value;
  return args_.contains(name) ? args_.at(name) : null_value;
}

bool Args::get_bool(const std::string& name, bool fallback) const {
  if (!has(name)) return fallback;
  const json& v = get(name);
  MI_CHECK(v.is_boolean(), AttributeError, "[{}] argument '{}' must be a bool, got {}", model_, name, v.dump());
  return v.get<bool>();
}

int64_t Args::get_int(const std::string& name, int64_t fallback) const {
  if (!has(name)) return fallback;
  const json& v = get(name);
  MI_CHECK(v.is_number_integer(), AttributeError, "[{}] argument '{}' must be an integer, got {}", model_, name,
           v.dump());
  return v.get<int64_t>();
}

double Args::get_double(const std::string& name, double fallback) const {
  if (!has(name)) return fallback;
  const json& v = get(name);
  MI_CHECK(v.is_number(), AttributeError, "[{}] argument '{}' must be a number, got {}", model_, name, v.dump());
  return v.get<double>();
}

std::string Args::get_string(const std::string& name, const std::string& fallback) const {
  if (!has(name)) return fallback;
  const json& v = get(name);
  MI_CHECK(v.is_string(), AttributeError, "[{}] argument '{}' must be a string, got {}", model_, name, v.dump());
  return v.get<std::string>();
}

// ---- port values ----

std::optional<double> json_single_number(const json& value) {
  const json* v = &value;
  while (v->is_array() && v->size() == 1) v = &v->at(0);
  if (v->is_boolean()) return v->get<bool>() ? 1.0 : 0.0;
  if (v->is_number()) return v->get<double>();
  return std::nullopt;
}

const PortValue& PortReader::value(const std::string& port) const {
  const auto it = values_.find(port);
  MI_CHECK(it != values_.end(), KeyError, "[{}] port '{}' is not connected", model_, port);
  return it->second;
}

Var PortReader::tensor(const std::string& port) const {
  const PortValue& v = value(port);
  MI_CHECK(v.tensor.has_value(), KeyError, "[{}] port '{}' is not connected to a tensor", model_, port);
  return *v.tensor;
}

const std::vector<Var>& PortReader::tensors(const std::string& port) const {
  const PortValue& v = value(port);
  MI_CHECK(!v.tensors.empty(), KeyError, "[{}] port '{}' is not connected to a list of tensors", model_, port);
  return v.tensors;
}

const json& PortReader::scalar(const std::string& port) const {
  static const json null_value;
  const auto it = values_.find(port);
  return it == values_.end() ? null_value : it->second.scalar;
}

std::optional<double> PortReader::constant_number(const std::string& port) const {
  if (auto n = json_single_number(scalar(port))) return n;
  const auto it = values_.find(port);
  if (it == values_.end() || !it->second.tensor) return std::nullopt;
  const Var& v = *it->second.tensor;
  const Graph& g = v.graph();
  if (g.is_constant(v.id()) && g.constant_value(v.id()).numel() == 1) return g.constant_value(v.id()).item();
  return std::nullopt;
}

double PortReader::require_constant(const std::string& port) const {
  const auto n = constant_number(port);
  MI_CHECK(n.has_value(), ValueError, "[{}] port '{}' must be a constant", model_, port);
  return *n;
}

bool PortReader::scalar_bool(const std::string& port) const {
  const json& v = scalar(port);
  MI_CHECK(v.is_boolean(), ValueError, "[{}] port '{}' must be a bool, got {}", model_, port, v.dump());
  return v.get<bool>();
}

int64_t PortReader::scalar_int(const std::string& port) const {
  const json& v = scalar(port);
  MI_CHECK(v.is_number_integer(), ValueError, "[{}] port '{}' must be an integer, got {}", model_, port, v.dump());
  return v.get<int64_t>();
}

std::vector<int64_t> PortReader::scalar_ints(const std::string& port) const {
  const json& v = scalar(port);
  MI_CHECK(v.is_array(), ValueError, "[{}] port '{}' must be a list of integers, got {}", model_, port, v.dump());
  std::vector<int64_t> out;
  for (const json& item : v) {
    MI_CHECK(item.is_number_integer(), ValueError, "[{}] port '{}' must be a list of integers, got {}", model_, port,
             v.dump());
    out.push_back(item.get<int64_t>());
  }
  return out;
}

std::optional<Axes> PortReader::scalar_axes(const std::string& port) const {
  const json& v = scalar(port);
  if (v.is_null()) return std::nullopt;
  if (v.is_number_integer()) return Axes{v.get<int64_t>()};
  return scalar_ints(port);
}

// ---- element types ----

Var to_integer(Graph& graph, const Var& v) {
  if (is_int(v.dtype())) return v;
  if (graph.is_constant(v.id()) && is_float(v.dtype())) {
    std::vector<double> values = graph.constant_value(v.id()).to_doubles();
    for (double& x : values) x = std::floor(x + 0.5);  // as floor(v + 0.5) below
    return graph.constant(Tensor::from_doubles(values, v.shape(), DType::i64));
  }
  if (is_float(v.dtype())) return ops::cast(ops::floor(v + 0.5), DType::i64);
  return ops::cast(v, DType::i64);
}

Var to_boolean(const Var& v) {
  if (v.dtype() == DType::b8) return v;
  return ops::not_equal(v, ops::scalar_like(v, 0.0));
}

// ---- composite formulas ----

PrimitiveDef single_output(std::string name, std::vector<PortDef> inputs, SingleOutputRule rule) {
  PrimitiveDef def;
  def.name = std::move(name);
  def.ports = std::move(inputs);
  def.ports.push_back(output_port());
  def.build = [model = def.name, rule = std::move(rule)](Graph& graph, const PortValues& in) {
    return std::map<std::string, Var>{{"output", rule(graph, PortReader(model, in))}};
  };
  return def;
}

PrimitiveDef same_shape(PrimitiveDef def) {
  def.shapes = {{"input", {"V,..."}}, {"output", {"V,..."}}};
  return def;
}

PrimitiveDef with_shape_rule(PrimitiveDef def, PrimitiveDef::ShapeRule rule) {
  def.shape_rule = rule;
  return def;
}

Var norm_modifier(const Var& n) {
  const Var shifted = n - 1.0;
  // Floored modulo; floor has no gradient, so d(mod)/dn = 1 as in NumPy's remainder.
  const Var mod = shifted - ops::floor(shifted / 8.0) * 8.0;
  return (1.0 - ops::abs(mod / 8.0 - 0.5) * 2.0) * 4.0 + 1.0;
}

Var distance_matrix(const Var& left, const Var& right, const Var& p) {
  MI_CHECK(left.ndim() == 2 && right.ndim() == 2 && left.dim(1) == right.dim(1), ShapeError,
           "[DistanceMatrix] expects left [N,d] and right [M,d], got {} and {}", shape_str(left.shape()),
           shape_str(right.shape()));
  const Var diff = ops::unsqueeze(left, 1) - ops::unsqueeze(right, 0);  // [N, M, d]
  return ops::sum(ops::robust_pow(ops::abs(diff), p, kMinPositiveNormal), Axes{2});
}

}  // namespace mithril::logical
