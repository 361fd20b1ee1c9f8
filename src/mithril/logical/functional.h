// Mithril's functional API in C++: expressions over connections that build the same primitive
// models as the class API.
//
//   Expr x = Expr::input("input");
//   Expr h = Linear(64)({{"input", x}, {"weight", Expr::input("w1")}, {"bias", Expr::input("b1")}});
//   Expr y = (h.reshape({x.shape()[0], 8, 8}) * 2.0).sum(-1);
//   Model m = functional_model({{"output", y}});
//
// An Expr records a call of a model (a primitive such as Add for `+`, or any library model
// called on expressions) and which of its output ports it is; nothing is added to a model until
// `functional_model` turns the expressions its outputs depend on into submodels, each call
// once, in dependency order (a call used twice is one submodel whose output feeds both users).
// The result is an ordinary composite: it flattens, compiles and saves as a model dict like one
// composed with Model::add.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "mithril/logical/model.h"

namespace mithril::logical {

struct ExprCall;

// One step of an index (Python's x[...]): an integer, a slice, a new axis or the ellipsis.
struct Slice {
  std::optional<int64_t> start, stop, step;
};
struct NewAxis {};
struct Ellipsis {};
using IndexItem = std::variant<int64_t, Slice, NewAxis, Ellipsis>;

class Expr;
// A dim of a target shape: an integer or a value computed from shapes (`x.shape()[0]`).
using ShapeItem = std::variant<int64_t, Expr>;

class Expr {
 public:
  // A named input key of the model being built.
  static Expr input(std::string name);
  // A constant tensor (nested lists of numbers) or a number.
  static Expr constant(json value);
  // `port` of a call of `model` with the given inputs (tensor expressions) and non-tensor
  // values (axis, keepdim, ...) for its ports.
  static Expr call(const Model& model, std::map<std::string, Expr> inputs, std::map<std::string, json> values = {},
                   std::string port = "");
  // Another output port of the same call (multi-output models).
  Expr output(const std::string& port) const;

  // Methods, each one primitive (Mithril's names in brackets).
  Expr shape() const;                                                 // [Shape] int64 [ndim]
  Expr size(std::optional<int64_t> dim = std::nullopt) const;         // [Size]
  Expr reshape(const std::vector<ShapeItem>& shape) const;            // [Reshape], with [ToTuple]
  Expr transpose(std::optional<std::vector<int64_t>> axes = std::nullopt) const;  // [Transpose]
  Expr sum(std::optional<std::vector<int64_t>> axes = std::nullopt, bool keepdim = false) const;
  Expr mean(std::optional<std::vector<int64_t>> axes = std::nullopt, bool keepdim = false) const;
  Expr max(std::optional<std::vector<int64_t>> axes = std::nullopt, bool keepdim = false) const;
  Expr min(std::optional<std::vector<int64_t>> axes = std::nullopt, bool keepdim = false) const;
  Expr prod(std::optional<std::vector<int64_t>> axes = std::nullopt, bool keepdim = false) const;
  Expr cast(const std::string& dtype) const;                          // [Cast] "float32", "int64", ...
  Expr matmul(const Expr& right) const;                               // [MatrixMultiply], Python's @
  Expr pow(const Expr& exponent) const;                               // [Power], Python's **
  Expr index(const std::vector<IndexItem>& items) const;              // [Indexer]
  Expr operator[](int64_t i) const { return index({i}); }
  Expr operator[](Slice s) const { return index({s}); }

  // What the expression is: a key, a constant or an output port of a call.
  const std::string& key() const { return key_; }
  const std::optional<json>& value() const { return value_; }
  const std::shared_ptr<const ExprCall>& producer() const { return call_; }
  const std::string& port() const { return port_; }

 private:
  std::string key_;
  std::optional<json> value_;
  std::shared_ptr<const ExprCall> call_;
  std::string port_;
};

struct ExprCall {
  Model model;
  std::map<std::string, Expr> inputs;
  std::map<std::string, json> values;
};

// Arithmetic, comparison and logical operators: Add, Subtract, Multiply, Divide, Negate, Less,
// LessEqual, Greater, GreaterEqual, Equal, NotEqual, LogicalAnd, LogicalOr, LogicalXOr,
// LogicalNot. A number on either side is a constant.
Expr operator+(const Expr& a, const Expr& b);
Expr operator-(const Expr& a, const Expr& b);
Expr operator*(const Expr& a, const Expr& b);
Expr operator/(const Expr& a, const Expr& b);
Expr operator-(const Expr& a);
Expr operator<(const Expr& a, const Expr& b);
Expr operator<=(const Expr& a, const Expr& b);
Expr operator>(const Expr& a, const Expr& b);
Expr operator>=(const Expr& a, const Expr& b);
Expr operator==(const Expr& a, const Expr& b);
Expr operator!=(const Expr& a, const Expr& b);
Expr operator&(const Expr& a, const Expr& b);
Expr operator|(const Expr& a, const Expr& b);
Expr operator^(const Expr& a, const Expr& b);
Expr operator~(const Expr& a);
Expr operator+(const Expr& a, double b);
Expr operator-(const Expr& a, double b);
Expr operator*(const Expr& a, double b);
Expr operator/(const Expr& a, double b);
Expr operator+(double a, const Expr& b);
Expr operator-(double a, const Expr& b);
Expr operator*(double a, const Expr& b);
Expr operator/(double a, const Expr& b);

// The composite whose named outputs are the given expressions (exposed under those names).
// Every input key the expressions reach becomes an input of the model; an output that is an
// input key or a constant is a ValueError.
Model functional_model(const std::map<std::string, Expr>& outputs);

}  // namespace mithril::logical
