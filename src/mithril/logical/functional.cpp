#include "mithril/logical/functional.h"

#include <functional>
#include <set>

#include "mithril/core/error.h"

namespace mithril::logical {

Expr Expr::input(std::string name) {
  MI_CHECK(!name.empty(), ValueError, "[functional] an input key needs a name");
  Expr e;
  e.key_ = std::move(name);
  return e;
}

Expr Expr::constant(json value) {
  Expr e;
  e.value_ = std::move(value);
  return e;
}

Expr Expr::call(const Model& model, std::map<std::string, Expr> inputs, std::map<std::string, json> values,
                std::string port) {
  auto c = std::make_shared<ExprCall>();
  c->model = model;
  c->inputs = std::move(inputs);
  c->values = std::move(values);
  Expr e;
  e.port_ = port.empty() ? canonical_port(model, false) : std::move(port);
  e.call_ = std::move(c);
  return e;
}

Expr Expr::output(const std::string& port) const {
  MI_CHECK(call_ != nullptr, ValueError, "[functional] output '{}' of an expression that is not a model call", port);
  Expr e = *this;
  e.port_ = port;
  return e;
}

Expr Model::operator()(const Expr& input) const {
  return Expr::call(*this, {{canonical_port(*this, true), input}});
}

Expr Model::operator()(const std::map<std::string, Expr>& inputs) const { return Expr::call(*this, inputs); }

namespace {

Expr unary(const char* name, const Expr& x, std::map<std::string, json> values = {}) {
  return Expr::call(prim(name), {{"input", x}}, std::move(values));
}

Expr binary(const char* name, const char* left, const char* right, const Expr& a, const Expr& b) {
  return Expr::call(prim(name), {{left, a}, {right, b}});
}

json axes_json(const std::optional<std::vector<int64_t>>& axes) {
  if (!axes) return nullptr;
  if (axes->size() == 1) return (*axes)[0];
  return json(*axes);
}

Expr reduce(const char* name, const Expr& x, const std::optional<std::vector<int64_t>>& axes, bool keepdim) {
  return unary(name, x, {{"axis", axes_json(axes)}, {"keepdim", keepdim}});
}

}  // namespace

Expr Expr::shape() const { return unary("Shape", *this); }
Expr Expr::size(std::optional<int64_t> dim) const { return unary("Size", *this, {{"dim", dim ? json(*dim) : json()}}); }

Expr Expr::reshape(const std::vector<ShapeItem>& shape) const {
  json ints = json::array();
  for (const ShapeItem& d : shape)
    if (const auto* i = std::get_if<int64_t>(&d)) ints.push_back(*i);
  if (ints.size() == shape.size()) return unary("Reshape", *this, {{"shape", ints}});
  // Some dims are computed from shapes: ToTuple packs them, folded to a constant when built.
  std::map<std::string, Expr> parts;
  for (size_t i = 0; i < shape.size(); ++i) {
    const std::string port = "input" + std::to_string(i + 1);
    if (const auto* n = std::get_if<int64_t>(&shape[i])) parts.emplace(port, Expr::constant(*n));
    else parts.emplace(port, std::get<Expr>(shape[i]));
  }
  const Expr tuple = Expr::call(prim("ToTuple", {{"n", shape.size()}}), std::move(parts));
  return Expr::call(prim("Reshape"), {{"input", *this}, {"shape", tuple}});
}

Expr Expr::transpose(std::optional<std::vector<int64_t>> axes) const {
  return unary("Transpose", *this, {{"axes", axes ? json(*axes) : json()}});
}
Expr Expr::sum(std::optional<std::vector<int64_t>> axes, bool keepdim) const { return reduce("Sum", *this, axes, keepdim); }
Expr Expr::mean(std::optional<std::vector<int64_t>> axes, bool keepdim) const {
  return reduce("Mean", *this, axes, keepdim);
}
Expr Expr::max(std::optional<std::vector<int64_t>> axes, bool keepdim) const { return reduce("Max", *this, axes, keepdim); }
Expr Expr::min(std::optional<std::vector<int64_t>> axes, bool keepdim) const { return reduce("Min", *this, axes, keepdim); }
Expr Expr::prod(std::optional<std::vector<int64_t>> axes, bool keepdim) const {
  return reduce("Prod", *this, axes, keepdim);
}
Expr Expr::cast(const std::string& dtype) const { return unary("Cast", *this, {{"dtype", dtype}}); }
Expr Expr::matmul(const Expr& right) const { return binary("MatrixMultiply", "left", "right", *this, right); }
Expr Expr::pow(const Expr& exponent) const { return binary("Power", "base", "exponent", *this, exponent); }

Expr Expr::index(const std::vector<IndexItem>& items) const {
  json index = json::array();
  for (const IndexItem& item : items) {
    if (const auto* i = std::get_if<int64_t>(&item)) {
      index.push_back(*i);
    } else if (const auto* s = std::get_if<Slice>(&item)) {
      auto opt = [](const std::optional<int64_t>& v) { return v ? json(*v) : json(); };
      index.push_back({{"start", opt(s->start)}, {"stop", opt(s->stop)}, {"step", opt(s->step)}});
    } else if (std::holds_alternative<NewAxis>(item)) {
      index.push_back(nullptr);
    } else {
      index.push_back("...");
    }
  }
  return unary("Indexer", *this, {{"index", index.size() == 1 && index[0].is_number_integer() ? index[0] : index}});
}

Expr operator+(const Expr& a, const Expr& b) { return binary("Add", "left", "right", a, b); }
Expr operator-(const Expr& a, const Expr& b) { return binary("Subtract", "left", "right", a, b); }
Expr operator*(const Expr& a, const Expr& b) { return binary("Multiply", "left", "right", a, b); }
Expr operator/(const Expr& a, const Expr& b) { return binary("Divide", "numerator", "denominator", a, b); }
Expr operator-(const Expr& a) { return unary("Negate", a); }
Expr operator<(const Expr& a, const Expr& b) { return binary("Less", "left", "right", a, b); }
Expr operator<=(const Expr& a, const Expr& b) { return binary("LessEqual", "left", "right", a, b); }
Expr operator>(const Expr& a, const Expr& b) { return binary("Greater", "left", "right", a, b); }
Expr operator>=(const Expr& a, const Expr& b) { return binary("GreaterEqual", "left", "right", a, b); }
Expr operator==(const Expr& a, const Expr& b) { return binary("Equal", "left", "right", a, b); }
Expr operator!=(const Expr& a, const Expr& b) { return binary("NotEqual", "left", "right", a, b); }
Expr operator&(const Expr& a, const Expr& b) { return binary("LogicalAnd", "left", "right", a, b); }
Expr operator|(const Expr& a, const Expr& b) { return binary("LogicalOr", "left", "right", a, b); }
Expr operator^(const Expr& a, const Expr& b) { return binary("LogicalXOr", "left", "right", a, b); }
Expr operator~(const Expr& a) { return unary("LogicalNot", a); }
Expr operator+(const Expr& a, double b) { return a + Expr::constant(b); }
Expr operator-(const Expr& a, double b) { return a - Expr::constant(b); }
Expr operator*(const Expr& a, double b) { return a * Expr::constant(b); }
Expr operator/(const Expr& a, double b) { return a / Expr::constant(b); }
Expr operator+(double a, const Expr& b) { return Expr::constant(a) + b; }
Expr operator-(double a, const Expr& b) { return Expr::constant(a) - b; }
Expr operator*(double a, const Expr& b) { return Expr::constant(a) * b; }
Expr operator/(double a, const Expr& b) { return Expr::constant(a) / b; }

Model functional_model(const std::map<std::string, Expr>& outputs) {
  // The output name of each exposed (call, port).
  std::map<std::pair<const ExprCall*, std::string>, std::string> exposed;
  for (const auto& [name, e] : outputs) {
    MI_CHECK(e.producer() != nullptr, ValueError,
             "[functional] output '{}' must be computed by a model call, not be {}", name,
             e.value() ? "a constant" : "the input key '" + e.key() + "'");
    const auto [it, fresh] = exposed.emplace(std::make_pair(e.producer().get(), e.port()), name);
    MI_CHECK(fresh, ValueError, "[functional] outputs '{}' and '{}' are the same value", it->second, name);
  }
  Model m;
  std::map<const ExprCall*, std::string> added;  // call -> local name
  std::set<const ExprCall*> visiting;
  std::function<Connection(const Expr&)> connection_of;
  std::function<const std::string&(const ExprCall&)> add_call = [&](const ExprCall& c) -> const std::string& {
    if (const auto it = added.find(&c); it != added.end()) return it->second;
    MI_ASSERT(visiting.insert(&c).second);  // expressions are immutable, so there is no cycle
    std::map<std::string, Connection> conns;
    for (const auto& [port, e] : c.inputs) conns.emplace(port, connection_of(e));
    for (const auto& [port, v] : c.values) conns.emplace(port, Connection::scalar(v));
    for (const auto& [key, name] : exposed)
      if (key.first == &c) {
        IOKey k;
        k.name = name;
        k.expose = true;
        conns.emplace(key.second, Connection(k));
      }
    const std::string local = lowercase(c.model.name()) + "_" + std::to_string(added.size());
    m.add(c.model, std::move(conns), local);
    visiting.erase(&c);
    return added.emplace(&c, local).first->second;
  };
  connection_of = [&](const Expr& e) -> Connection {
    if (e.value()) return Connection::tensor(*e.value());
    if (!e.producer()) return Connection(e.key());
    const std::string& local = add_call(*e.producer());
    return ref(local, e.port());
  };
  for (const auto& [name, e] : outputs) add_call(*e.producer());
  return m;
}

}  // namespace mithril::logical
