// Reduction primitives: Sum, Mean, Max, Min, Prod and Variance over `axis` (null = all axes).
#include "mithril/core/error.h"
#include "mithril/logical/primitives/common.h"
#include "mithril/ops/reduce.h"

namespace mithril::logical {
namespace {

using ReduceFn = Var (*)(const Var&, std::optional<Axes>, bool);

std::vector<PortDef> reduce_ports() {
  return {tensor_port("input"), scalar_port("axis", nullptr), scalar_port("keepdim", false)};
}

void add_reduce(PrimitiveRegistry& r, const char* name, ReduceFn fn) {
  r.add(name, {}, [=](const json&) {
    return with_shape_rule(single_output(name, reduce_ports(),
                                         [=](Graph&, const PortReader& in) {
                                           return fn(in.tensor("input"), in.scalar_axes("axis"),
                                                     in.scalar_bool("keepdim"));
                                         }),
                           PrimitiveDef::ShapeRule::reduce);
  });
}

void add_variance(PrimitiveRegistry& r) {
  r.add("Variance", {}, [](const json&) {
    std::vector<PortDef> ports = reduce_ports();
    ports.push_back(scalar_port("correction", 0.0));
    return with_shape_rule(
        single_output("Variance", ports,
                      [](Graph&, const PortReader& in) {
                        const json& c = in.scalar("correction");
                        MI_CHECK(c.is_number(), ValueError, "[Variance] port 'correction' must be a number, got {}",
                                 c.dump());
                        return ops::variance(in.tensor("input"), in.scalar_axes("axis"), in.scalar_bool("keepdim"),
                                             c.get<double>());
                      }),
        PrimitiveDef::ShapeRule::reduce);
  });
}

}  // namespace

void register_reduction_primitives(PrimitiveRegistry& r) {
  add_reduce(r, "Sum", ops::sum);
  add_reduce(r, "Mean", ops::mean);
  add_reduce(r, "Max", ops::max);
  add_reduce(r, "Min", ops::min);
  add_reduce(r, "Prod", ops::prod);
  add_variance(r);
}

}  // namespace mithril::logical
