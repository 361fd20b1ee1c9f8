// TrainModel: wraps a model with losses, reduction steps, regularizers and a loss combiner
// into a model whose output `final_cost` is the training objective (Mithril's TrainModel).
//
// The built model contains the wrapped model (every named key kept under its name, every output
// still an output) plus, per loss, loss(input = model output, target = target key) followed by
// its reduce steps (default [Mean]); the per-loss values L_1..L_k give
//   loss = L_1                                   when k == 1,
//   loss = combiner(concat(atleast_1d(L_i)...))  when k > 1 (combiner default Sum),
// and final_cost = loss + sum over regularizations of coef * R / D (conformance README section 3;
// D is the size normalisation, see train_model.cpp).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mithril/logical/model.h"

namespace mithril::logical {

struct LossSpec {
  Model loss;                             // e.g. SquaredError; its `input` gets the model output
  std::string output_key;                 // the wrapped model's key fed to the loss
  std::optional<std::string> target_key;  // a new input key bound to the loss's `target`
  std::vector<Model> reduce_steps;        // applied in order; empty means [Mean]
};

struct RegularizationSpec {
  Model regularizer;    // L1, L2, QuadraticFormRegularizer, ...
  json coef;            // number or {"tensor": v}
  std::string input;    // a key of the model, or a regular expression when `regex`
  bool regex = false;   // one regularizer per input key matching (unanchored search)
  std::map<std::string, std::string> other_ports;  // regularizer port -> model key (kernel)
};

class TrainModel {
 public:
  explicit TrainModel(Model model);
  void add_loss(LossSpec spec);
  void add_regularization(RegularizationSpec spec);
  void set_loss_combiner(Model combiner);  // Sum (default) or Mean over the per-loss values
  // The training model: outputs `final_cost` plus the wrapped model's outputs. Losses attach to
  // output keys only (a user composite that exposes nothing has none). Throws KeyError for a loss
  // on a key that is not an output or a regularization of an unknown key, ValueError without losses.
  Model build() const;

 private:
  Model model_;
  std::vector<LossSpec> losses_;
  std::vector<RegularizationSpec> regularizations_;
  std::optional<Model> combiner_;
};

}  // namespace mithril::logical
