#include "mithril/runtime/input_checks.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "mithril/core/error.h"
#include "mithril/logical/shape_inference.h"

namespace mithril {

using logical::EdgeId;
using logical::FlatModel;

namespace {

// "port 'input' of 'm0.matmul' (MatrixMultiply)": the first call that has the edge.
std::string where_from(const FlatModel& flat, EdgeId e) {
  for (const logical::PrimCall& c : flat.calls)
    for (const auto& [port, pe] : c.ports)
      if (pe == e) return fmt::format("port '{}' of '{}' ({})", port, c.path.empty() ? c.def.name : c.path, c.def.name);
  return "no port";
}

}  // namespace

void check_data_inputs_named(const FlatModel& flat, const std::vector<EdgeId>& data_inputs) {
  std::vector<std::string> unnamed;
  for (EdgeId e : data_inputs)
    if (!flat.edges[static_cast<size_t>(e)].user_named)
      unnamed.push_back(fmt::format("'{}' ({})", flat.name(e), where_from(flat, e)));
  MI_CHECK(unnamed.empty(), KeyError,
           "[compile] runtime data keys must be named in the logical model when safe_names is true; unnamed: {}. "
           "Name them in the model, or compile with safe_names=false to use the generated names",
           fmt::join(unnamed, ", "));
}

void check_symbolic_shapes(const FlatModel& flat, const std::vector<KeyShape>& constants,
                           const std::vector<KeyShape>& inputs) {
  logical::SymbolicShapes shapes(flat);
  for (const KeyShape& c : constants) {
    try {
      shapes.constrain(c.edge, c.shape, fmt::format("constant key '{}'", c.key));
    } catch (const ShapeError& err) {
      MI_THROW(ShapeError, "[evaluate] constant key '{}' has shape {}, inconsistent with the model's symbolic shapes: {}",
               c.key, shape_str(c.shape), err.what());
    }
  }
  // The symbolic shapes of the model alone, for the messages.
  std::vector<std::string> symbolic;
  for (const KeyShape& in : inputs) symbolic.push_back(shapes.str(in.edge));
  std::vector<std::string> before;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const KeyShape& in = inputs[i];
    try {
      shapes.constrain(in.edge, in.shape, fmt::format("input '{}'", in.key));
    } catch (const ShapeError& err) {
      MI_THROW(ShapeError, "[evaluate] input '{}' has shape {}, inconsistent with its symbolic shape {}{}: {}", in.key,
               shape_str(in.shape), symbolic[i],
               before.empty() ? "" : fmt::format(" given the inputs {}", fmt::join(before, ", ")), err.what());
    }
    before.push_back(fmt::format("{} {}", in.key, shape_str(in.shape)));
  }
}

}  // namespace mithril
