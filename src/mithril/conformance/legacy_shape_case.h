// shape_directed_test.json (README §9): Mithril's shape-inference cases in the format of an
// older API, converted to the current one and checked against our symbolic shape inference.
//
// What the old API did differently, and how it is mapped:
// - models: `args.shapes` set shapes at construction (a submodel's become its assigned_shapes;
//   the top model's are shapes of keys of the final, possibly training, model); ports of the
//   binary primitives were `input`/`rhs` (or `input1`/`input2`), now `left`/`right`
//   (`numerator`/`denominator` for Divide); a connection `[["m1", "output"]]` merged the port
//   with another submodel's port; a bare number was a tensor; `output_specs` had `reduce`
//   where it now has `reduce_steps`.
// - key names in the results: user and top-level keys as they are; `w`, `b`, `wK`, `bK` are
//   Linear/MLP parameters (now `weight`, `bias`, ...) and the old Linear computed input·w, so a
//   legacy `w` shape is our weight's reversed; `Class_I_port` is port `port` of a submodel of
//   class `Class`: the k-th such submodel of the model tree breadth first, where k is the rank
//   of I among the indices the case uses with that class (our library models have extra
//   submodels, such as Linear's Transpose, so the old index itself does not carry over).
// - shapes: the old API had no 0-d tensors, so an expected [1] matches our []; null is a dim
//   inference must leave unknown; strings are symbols, matched one-to-one with our unknown dims.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "mithril/logical/flatten.h"
#include "mithril/logical/shape_inference.h"

namespace mithril::conformance {

using logical::json;

struct LegacyShapeCase {
  json model;                              // current-format model description
  json training;                           // {"output_specs", ...} for a training model, else null
  std::map<std::string, json> key_shapes;  // shapes the case gives for keys of the final model
  json expected;                           // legacy key name -> expected shape
};

// Throws ValueError for parts of the old format that have no current counterpart here
// (descriptions with "model"/"input_models", regularizations given as an object).
LegacyShapeCase from_legacy_shape_case(const json& legacy);

// Checks every expected shape; returns what does not match (nullopt when all do).
std::optional<std::string> compare_legacy_shapes(const logical::FlatModel& flat, const logical::SymbolicShapes& shapes,
                                                 const json& expected);

}  // namespace mithril::conformance
