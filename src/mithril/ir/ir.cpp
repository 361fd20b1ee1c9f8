#include "mithril/ir/ir.h"

#include "mithril/core/checked.h"
#include "mithril/core/error.h"

namespace mithril {

Shape Var::shape() const { return graph_->value(id_).shape; }
DType Var::dtype() const { return graph_->value(id_).dtype; }
int64_t Var::dim(int64_t axis) const { return shape()[static_cast<size_t>(normalize_axis(axis, ndim(), "var.dim"))]; }

ValueId Graph::add_value(Value v) {
  // Every shape of a program passes here: one whose bytes wrap would be planned as a tiny buffer.
  if (v.name.empty()) checked_bytes(v.shape, dtype_size(v.dtype), "[graph] a computed value");
  else checked_bytes(v.shape, dtype_size(v.dtype), fmt::format("[graph] input '{}'", v.name));
  values_.push_back(std::move(v));
  constants_.emplace_back();
  return static_cast<ValueId>(values_.size() - 1);
}

Var Graph::input(std::string name, Shape shape, DType dtype) {
  MI_CHECK(input_names_.insert(name).second, KeyError, "[graph] input '{}' declared twice", name);
  const ValueId id = add_value({std::move(shape), dtype, -1, 0, std::move(name)});
  inputs_.push_back(id);
  return Var(this, id);
}

Var Graph::constant(Tensor t) {
  MI_CHECK(t.defined(), ValueError, "[graph] constant from an undefined tensor");
  const ValueId id = add_value({t.shape(), t.dtype(), -1, 0, {}});
  constants_[static_cast<size_t>(id)] = t.contiguous();
  return Var(this, id);
}

bool Graph::is_constant(ValueId id) const { return constants_.at(static_cast<size_t>(id)).has_value(); }

const Tensor& Graph::constant_value(ValueId id) const {
  MI_ASSERT(is_constant(id));
  return *constants_[static_cast<size_t>(id)];
}

std::vector<Var> Graph::apply(OpPtr op, const std::vector<Var>& inputs) {
  MI_ASSERT(op != nullptr);
  std::vector<Shape> shapes;
  std::vector<DType> dtypes;
  std::vector<ValueId> ids;
  for (const Var& v : inputs) {
    MI_CHECK(&v.graph() == this, ValueError, "[{}] an input belongs to another graph", op->name());
    shapes.push_back(v.shape());
    dtypes.push_back(v.dtype());
    ids.push_back(v.id());
  }
  std::vector<Shape> out_shapes = op->infer_shapes(shapes);
  std::vector<DType> out_dtypes = op->infer_dtypes(dtypes);
  MI_ASSERT(out_shapes.size() == out_dtypes.size());
  MI_ASSERT(static_cast<int>(out_shapes.size()) == op->num_outputs());
  const auto node_id = static_cast<NodeId>(nodes_.size());
  Node node{op, ids, {}};
  std::vector<Var> outs;
  for (size_t i = 0; i < out_shapes.size(); ++i) {
    const ValueId id = add_value({std::move(out_shapes[i]), out_dtypes[i], node_id, static_cast<int>(i), {}});
    node.outputs.push_back(id);
    outs.emplace_back(this, id);
  }
  nodes_.push_back(std::move(node));
  return outs;
}

Var Graph::apply1(OpPtr op, const std::vector<Var>& inputs) {
  MI_CHECK(op->num_outputs() == 1, ValueError, "[{}] has {} outputs; use apply()", op->name(), op->num_outputs());
  return apply(std::move(op), inputs)[0];
}

std::string Graph::to_string() const {
  std::string s;
  auto val = [&](ValueId id) {
    const Value& v = values_[static_cast<size_t>(id)];
    return fmt::format("%{}{}:{}{}", id, v.name.empty() ? "" : "'" + v.name + "'", dtype_name(v.dtype), shape_str(v.shape));
  };
  for (ValueId id : inputs_) s += fmt::format("input {}\n", val(id));
  for (size_t i = 0; i < values_.size(); ++i)
    if (constants_[i]) s += fmt::format("const {}\n", val(static_cast<ValueId>(i)));
  for (const Node& n : nodes_) {
    std::vector<std::string> outs, ins;
    for (ValueId o : n.outputs) outs.push_back(val(o));
    for (ValueId in : n.inputs) ins.push_back(fmt::format("%{}", in));
    s += fmt::format("{} = {}({})\n", fmt::join(outs, ", "), n.op->to_string(), fmt::join(ins, ", "));
  }
  return s;
}

}  // namespace mithril
