// Symbolic shape inference over a flat model, without data.
//
// Every key gets a symbolic shape: a list of dims, where a dim is a known size or a symbol
// ("N", "d_in"), optionally with one variadic part ("V,...": any number of dims). Facts come
// from three places: shapes assigned by the user (set_shapes, IOKey shapes, given input shapes),
// the shape templates primitives declare (PrimitiveDef::shapes; a symbol is shared by the ports
// of one call), and rules applied once enough is known (PrimitiveDef::ShapeRule: broadcasting,
// transpose, batched matmul; and, for every primitive, its graph builder run on placeholder
// inputs once all its input shapes are concrete, which reuses the op shape rules). Facts are
// combined by unification (union-find over dims and variadics) until nothing changes.
// A contradiction is a ShapeError naming the key, the blocks involved and both shapes:
//   [shapes] key 'w' of 'm1' (Linear), port 'weight': [3, 4] from set_shapes of 'm1' (Linear)
//   conflicts with [5, 4] from 'm2' (MatrixMultiply), port 'right': dim 0 is 3 vs 5
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mithril/core/shape.h"
#include "mithril/logical/flatten.h"

namespace mithril::logical {

class SymbolicShapes {
 public:
  // Collects the model's assigned shapes and templates and propagates them (throws ShapeError).
  explicit SymbolicShapes(const FlatModel& flat);

  // Adds a template or a concrete shape for a key and propagates again. `origin` says who gave it.
  void constrain(EdgeId e, const json& shape_template, const std::string& origin, const std::string& scope = "");
  void constrain(EdgeId e, const Shape& shape, const std::string& origin);

  // The shape when every dim is known; nullopt otherwise (or when nothing is known).
  std::optional<Shape> concrete(EdgeId e) const;
  // "[N, 1, d_in]", "[V..., 3]", "[]" for a scalar; "?" when nothing is known.
  std::string str(EdgeId e) const;
  // The dims of a key of known rank (nullopt: no shape, or a variadic part is still open): each
  // a value when known, and an id that dims known to be equal share.
  struct DimInfo {
    std::optional<int64_t> value;
    int id = 0;
  };
  std::optional<std::vector<DimInfo>> dims(EdgeId e) const;

  // From now on a key that broadcasting leaves without any shape takes its partner's shape (no
  // broadcasting assumed), and propagates again. Used to choose shapes for random inputs (a loss
  // target next to its input), never for checks.
  void assume_equal_broadcast_partners();
  // Gives the first unknown dim of a key of known rank the size `value` and propagates; false when
  // the key has no such dim.
  bool pin_free_dim(EdgeId e, int64_t value);

 private:
  friend class ShapeCheckState;
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// Concrete shapes for the keys of `flat` that `known` (key -> shape) does not give but symbolic
// inference determines; a key left without a shape is assumed to equal its broadcasting partner
// (a loss target its input). With `free_dim`, dims that nothing determines in an input of known
// rank (an encoder's unused output size) take its values. For drawing random inputs.
std::map<std::string, Shape> infer_missing_shapes(const FlatModel& flat, const std::map<std::string, Shape>& known,
                                                  const std::function<int64_t()>& free_dim = nullptr);

// Flattens `model` and runs symbolic inference: the composition-time check of Model::add and
// set_shapes. Structural errors that flattening reports (unknown ports, ...) are left to compile.
void check_model_shapes(const Model& model);

// Model::add's check once a submodel was appended to `model`: as check_model_shapes, but
// `state` keeps the flattened submodels and their shapes from one add to the next, so an add
// costs what the new submodel brings (composing n blocks is linear, not quadratic). The state
// is rebuilt when it does not match the model (shared with a copy, or out of step), and the
// whole model is checked, as check_model_shapes does, when the model has shapes of its own
// (set_shapes) or the incremental check finds a problem: errors are those of the full check.
void check_added_submodel(const Model& model, std::shared_ptr<ShapeCheckState>& state);

}  // namespace mithril::logical
