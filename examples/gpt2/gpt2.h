// GPT-2 built with Mithril's functional API: token and position embeddings, pre-norm blocks of
// causal self-attention and a GELU (tanh) MLP, a final layer norm, and logits through the token
// embedding (tied weights). Keys: input [B, T] token ids -> output [B, T, vocab] logits; the
// parameters are named after their PyTorch state-dict names (`h0_attn_c_attn_weight` for
// `h.0.attn.c_attn.weight`), and `gpt2_weight_table` maps one onto the other.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "mithril/io/weight_import.h"
#include "mithril/logical/model.h"

namespace mithril::examples {

struct Gpt2Config {
  int64_t vocab_size = 50257;
  int64_t n_positions = 1024;
  int64_t n_embd = 768;
  int64_t n_layer = 12;
  int64_t n_head = 12;
  double layer_norm_eps = 1e-5;
};

// The 124M configuration (GPT-2 small) and a two-layer one for tests.
Gpt2Config gpt2_124m();
Gpt2Config gpt2_tiny();

logical::Model gpt2_model(const Gpt2Config& config);
// State-dict name (prefix "transformer." as in PyTorch's GPT2LMHeadModel layout) -> our key.
io::WeightTable gpt2_weight_table(const Gpt2Config& config);
// The shape of every parameter key.
std::map<std::string, Shape> gpt2_parameter_shapes(const Gpt2Config& config);

}  // namespace mithril::examples
