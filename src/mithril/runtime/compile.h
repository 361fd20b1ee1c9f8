// compile(): the physical phase. A logical model is flattened, pruned to what the requested
// outputs need, and specialised per input signature into a graph (forward plus, unless
// inference-only, the autodiff gradient graph) that the CPU backend runs.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mithril/core/tensor.h"
#include "mithril/logical/flatten.h"
#include "mithril/logical/model.h"

namespace mithril {

// A value bound to a key: a tensor, or a list of tensors for list-valued keys (Concat's input).
struct Data {
  Data() = default;
  Data(Tensor t) : tensor(std::move(t)) {}  // NOLINT: tensors convert implicitly
  Data(std::vector<Tensor> l) : list(std::move(l)), is_list(true) {}  // NOLINT
  Tensor tensor;
  std::vector<Tensor> list;
  bool is_list = false;
};
using DataMap = std::map<std::string, Data>;

// A tensor (or, with `is_list`, a list of tensors) from JSON nested lists.
Data data_from_json(const logical::json& value, bool is_list, DType dtype);

struct CompileOptions {
  // Keys fixed at compile time (Mithril's constant/static keys). JSON values are converted by
  // the kind of key they bind: tensor keys become tensors of `dtype`, other keys stay values.
  std::map<std::string, logical::json> constant_keys;
  DataMap constant_tensors;
  std::vector<std::string> discard_keys;  // outputs not to return; their sub-graph is pruned
  std::vector<std::string> trainable_keys;  // extra keys to differentiate
  bool inference = false;                 // no gradient graph
  DType dtype = DType::f64;               // dtype of parameters, inputs and constants
};

class PhysicalModel {
 public:
  struct Result {
    DataMap outputs;
    DataMap gradients;
  };

  const std::vector<std::string>& input_keys() const;      // keys evaluate() needs
  const std::vector<std::string>& trainable_keys() const;  // inputs that get gradients
  const std::vector<std::string>& output_keys() const;
  const std::vector<std::string>& discarded_keys() const;  // discarded outputs and what only fed them
  const logical::FlatModel& flat_model() const;

  // Shape and dtype of a key's value in the graph built for some input shapes.
  struct KeyInfo {
    Shape shape;
    DType dtype;
  };
  // Builds the forward graph for the given input shapes without running kernels (inputs take
  // the compile dtype) and returns the shape and dtype of every tensor key it computes. Inputs
  // without a shape leave the calls that depend on them, and their keys, out of the result.
  // A key that is not an input of the model is a KeyError naming it.
  std::map<std::string, KeyInfo> infer_shapes(const std::map<std::string, Shape>& input_shapes) const;

  // Forward outputs.
  DataMap evaluate(const DataMap& inputs) const;
  // Outputs and the vector-Jacobian product with the given output cotangents (outputs not
  // listed get none) for every trainable input.
  Result evaluate(const DataMap& inputs, const DataMap& output_gradients) const;

  struct Impl;
  explicit PhysicalModel(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

 private:
  std::shared_ptr<Impl> impl_;
};

PhysicalModel compile(const logical::Model& model, const CompileOptions& options = {});

}  // namespace mithril
