// Optimizers: SGD (momentum, dampening, Nesterov, weight decay), Adam, AdamW and RMSProp with the
// update equations PyTorch documents (torch.optim, 1.13), applied in the parameter's dtype with
// float64 arithmetic per element. Parameters and gradients are maps from trainable key to tensor;
// the per-parameter state ("slots": momentum buffers, moment estimates) is created at the first
// step, in the parameter's dtype, and is part of a checkpoint.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mithril/core/tensor.h"

namespace mithril::train {

using TensorMap = std::map<std::string, Tensor>;

struct OptimizerConfig {
  std::string name = "sgd";  // sgd, adam, adamw, rmsprop
  double lr = 1e-3;
  double weight_decay = 0.0;  // L2 added to the gradient (sgd, adam, rmsprop); decoupled for adamw
  double momentum = 0.0;      // sgd, rmsprop
  double dampening = 0.0;     // sgd
  bool nesterov = false;      // sgd (needs momentum > 0 and dampening 0)
  double beta1 = 0.9, beta2 = 0.999;  // adam, adamw
  double alpha = 0.99;                // rmsprop smoothing
  double eps = 1e-8;                  // adam, adamw, rmsprop

  // {"name": "adam", "lr": 1e-3, "betas": [0.9, 0.999], ...}; unknown fields are a ValueError.
  static OptimizerConfig from_json(const nlohmann::json& j);
};

class Optimizer {
 public:
  explicit Optimizer(OptimizerConfig config);

  // One update of every parameter with learning rate `lr`; every parameter needs a gradient of
  // its shape (KeyError / ShapeError otherwise). The gradient is converted to the parameter's
  // dtype first.
  void step(TensorMap& params, const TensorMap& grads, double lr);

  const OptimizerConfig& config() const { return config_; }
  int64_t steps() const { return steps_; }  // updates applied so far (t in the equations)

  // The state for a checkpoint: "<slot>/<key>" -> tensor (slot names as PyTorch's state dict:
  // momentum_buffer, exp_avg, exp_avg_sq, square_avg).
  TensorMap state() const;
  // Restores state() and the step count; slots must match the optimizer (ValueError otherwise).
  void load_state(const TensorMap& state, int64_t steps);

 private:
  std::vector<std::string> slot_names() const;
  OptimizerConfig config_;
  int64_t steps_ = 0;
  std::map<std::string, std::vector<Tensor>> slots_;  // per key, in slot_names() order
};

}  // namespace mithril::train
