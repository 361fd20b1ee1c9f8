#include "mithril/backends/program_inputs.h"

#include "mithril/core/error.h"

namespace mithril {

void check_program_inputs(const Graph& graph, std::span<const Tensor* const> inputs, std::string_view who) {
  const auto& ids = graph.inputs();
  MI_CHECK(inputs.size() == ids.size(), ValueError, "{} graph has {} inputs but {} tensors were given", who, ids.size(),
           inputs.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const Value& v = graph.value(ids[i]);
    const Tensor& t = *inputs[i];
    MI_CHECK(t.defined(), ValueError, "{} input '{}' is undefined", who, v.name);
    MI_CHECK(t.shape() == v.shape, ShapeError, "{} input '{}' has shape {} but the graph expects {}", who, v.name,
             shape_str(t.shape()), shape_str(v.shape));
    MI_CHECK(t.dtype() == v.dtype, DTypeError, "{} input '{}' has dtype {} but the graph expects {}", who, v.name,
             dtype_name(t.dtype()), dtype_name(v.dtype));
  }
}

}  // namespace mithril
