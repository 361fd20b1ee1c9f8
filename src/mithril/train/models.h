// Built-in networks for `mithril train` and the examples, composed from the model library with
// explicitly named parameter keys, each with its initialisation:
//   mlp_classifier  Linear + ReLU layers ("w0", "b0", ...);
//   lenet           two 3x3 convolutions with ReLU and 2x2 max pooling, then two Linear layers;
//   char_gpt        a GPT-style character model: token and position embeddings, pre-norm blocks
//                   of causal multi-head self-attention and a GELU MLP with residual connections,
//                   a final LayerNorm and a linear head.
// Every network reads `input` and exposes `output` as class scores [N, C, ...] (logits), the
// layout CrossEntropy and the trainer's accuracy expect.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "mithril/core/random.h"
#include "mithril/logical/model.h"
#include "mithril/train/optimizer.h"

namespace mithril::train {

// uniform: U(-scale, scale); normal: N(0, scale^2); constant: every element = scale.
struct ParamInit {
  Shape shape;
  std::string kind = "uniform";
  double scale = 0.0;
};

struct Network {
  logical::Model model;
  std::map<std::string, ParamInit> params;
};

// PyTorch's nn.Linear initialisation: weight [out, in] and bias [out] ~ U(-1/sqrt(in), 1/sqrt(in)).
void add_linear_params(Network& net, const std::string& weight, const std::string& bias, int64_t in, int64_t out);

Network mlp_classifier(int64_t inputs, const std::vector<int64_t>& hidden, int64_t classes);
// Input [N, channels, size, size] with size divisible by 4.
Network lenet(int64_t channels, int64_t size, int64_t classes, int64_t conv1 = 8, int64_t conv2 = 16,
              int64_t hidden = 64);
struct GptOptions {
  int64_t vocab = 0, context = 64, d_model = 64, heads = 4, layers = 2, mlp_ratio = 4;
};
Network char_gpt(const GptOptions& options);

// The network wrapped as a classification objective: final_cost = mean CrossEntropy(output
// logits, target class indices); `output` stays an output.
logical::Model classification_objective(const logical::Model& network);

// Initial values drawn in key order from `rng`.
TensorMap init_params(const std::map<std::string, ParamInit>& params, Rng& rng, DType dtype);

}  // namespace mithril::train
