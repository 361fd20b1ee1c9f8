// Input checks of compile() and evaluate() behind Mithril's safe_names and jit/safe_shapes
// switches (CompileOptions in compile.h).
#pragma once

#include <string>
#include <vector>

#include "mithril/core/shape.h"
#include "mithril/logical/flatten.h"

namespace mithril {

// safe_names: the runtime data inputs (inputs without a gradient, `data_inputs`) must be keys the
// model names. A KeyError lists those that only have a generated name, each with the port it
// comes from, and says how to name them or that safe_names=false accepts the generated names.
void check_data_inputs_named(const logical::FlatModel& flat, const std::vector<logical::EdgeId>& data_inputs);

// A key of the flat model with a concrete shape.
struct KeyShape {
  logical::EdgeId edge;
  std::string key;
  Shape shape;
};

// jit=false (with safe_shapes): the inputs' shapes against the model's symbolic shapes (its
// assigned shapes, shape templates and rules, and the shapes of the constant tensors), once a
// program could not be built for them. The first input that cannot be given its shape (in the order of
// `inputs`, each one on top of those before it) is a ShapeError naming the key, its shape, its
// symbolic shape in the model and the conflict. Nothing is checked for list-valued inputs.
void check_symbolic_shapes(const logical::FlatModel& flat, const std::vector<KeyShape>& constants,
                           const std::vector<KeyShape>& inputs);

}  // namespace mithril
