// The flat graph IR: values (with concrete shape and dtype), nodes (an op applied to values),
// graph inputs and constants. Op builder functions (ops/*.h) append nodes through Var handles,
// running the op's shape and dtype rules as each node is added, so a graph is always
// well-typed. Autodiff and the graph passes extend or rewrite graphs of this form.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "mithril/core/tensor.h"
#include "mithril/ir/op.h"

namespace mithril {

using ValueId = int32_t;
using NodeId = int32_t;

struct Value {
  Shape shape;
  DType dtype;
  NodeId producer = -1;  // -1 for graph inputs and constants
  int output_index = 0;
  std::string name;  // graph inputs are named; others may be empty
};

struct Node {
  OpPtr op;
  std::vector<ValueId> inputs;
  std::vector<ValueId> outputs;
};

class Graph;

// A handle to a value of a graph under construction. Cheap to copy; valid while its graph lives.
class Var {
 public:
  Var(Graph* graph, ValueId id) : graph_(graph), id_(id) {}
  Graph& graph() const { return *graph_; }
  ValueId id() const { return id_; }
  Shape shape() const;  // by value: adding nodes may move the value table
  DType dtype() const;
  int64_t ndim() const { return static_cast<int64_t>(shape().size()); }
  int64_t dim(int64_t axis) const;

 private:
  Graph* graph_;
  ValueId id_;
};

class Graph {
 public:
  Graph() = default;
  Graph(const Graph&) = delete;  // Vars point at their graph: keep its address stable
  Graph& operator=(const Graph&) = delete;

  Var input(std::string name, Shape shape, DType dtype);
  Var constant(Tensor value);
  // Applies `op` to `inputs`: checks they belong to this graph, infers output shapes and dtypes
  // through the op's rules, and appends the node.
  std::vector<Var> apply(OpPtr op, const std::vector<Var>& inputs);
  Var apply1(OpPtr op, const std::vector<Var>& inputs);

  const Value& value(ValueId id) const { return values_.at(static_cast<size_t>(id)); }
  const std::vector<Value>& values() const { return values_; }
  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<ValueId>& inputs() const { return inputs_; }
  bool is_constant(ValueId id) const;
  const Tensor& constant_value(ValueId id) const;
  Var var(ValueId id) { return Var(this, id); }

  std::string to_string() const;  // one line per node, for debugging and summaries

 private:
  ValueId add_value(Value v);

  std::vector<Value> values_;
  std::vector<Node> nodes_;
  std::vector<ValueId> inputs_;
  std::unordered_set<std::string> input_names_;  // declaring an input checks its name in O(1)
  std::vector<std::optional<Tensor>> constants_;  // indexed by ValueId
};

}  // namespace mithril
