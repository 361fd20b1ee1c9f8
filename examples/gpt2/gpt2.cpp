#include "gpt2.h"

#include <cmath>

#include "mithril/logical/functional.h"
#include "mithril/logical/library.h"

namespace mithril::examples {

using logical::Ellipsis;
using logical::Expr;
using logical::NewAxis;
using logical::Slice;
using logical::prim;

Gpt2Config gpt2_124m() { return {}; }
Gpt2Config gpt2_tiny() { return {.vocab_size = 101, .n_positions = 32, .n_embd = 32, .n_layer = 2, .n_head = 4}; }

namespace {

Expr param(const std::string& name) { return Expr::input(name); }

Expr layer_norm(const Expr& x, const std::string& p, double eps) {
  return logical::LayerNorm(true, true, eps)({{"input", x}, {"weight", param(p + "_weight")}, {"bias", param(p + "_bias")}});
}

Expr linear(const Expr& x, int64_t out, const std::string& p) {
  return logical::Linear(out)({{"input", x}, {"weight", param(p + "_weight")}, {"bias", param(p + "_bias")}});
}

// Causal self-attention over x [B, T, C] with `causal` [T, T] (true where a position may attend).
Expr attention(const Expr& x, const Expr& causal, const Gpt2Config& c, const std::string& p) {
  const int64_t C = c.n_embd, hd = C / c.n_head;
  const Expr qkv = linear(x, 3 * C, p + "_c_attn");
  const Expr b = x.shape()[0], t = x.shape()[1];
  auto heads = [&](int64_t part) {  // [B, T, C] slice -> [B, nh, T, hd]
    return qkv.index({Ellipsis{}, Slice{part * C, (part + 1) * C, std::nullopt}})
        .reshape({b, t, c.n_head, hd})
        .transpose(std::vector<int64_t>{0, 2, 1, 3});
  };
  const Expr q = heads(0), k = heads(1), v = heads(2);
  Expr scores = q.matmul(k.transpose(std::vector<int64_t>{0, 1, 3, 2})) * (1.0 / std::sqrt(static_cast<double>(hd)));
  // exp(-1e30 - max) is 0 in float32 and float64, as exp(-inf) in PyTorch's masked_fill.
  scores = Expr::call(prim("Where"), {{"cond", causal}, {"input1", scores}, {"input2", Expr::constant(-1e30)}});
  const Expr weights = Expr::call(prim("Softmax"), {{"input", scores}}, {{"axis", -1}});
  const Expr y = weights.matmul(v).transpose(std::vector<int64_t>{0, 2, 1, 3}).reshape({b, t, C});
  return linear(y, C, p + "_c_proj");
}

Expr mlp(const Expr& x, const Gpt2Config& c, const std::string& p) {
  const Expr h = linear(x, 4 * c.n_embd, p + "_c_fc");
  const Expr g = Expr::call(prim("Gelu"), {{"input", h}}, {{"approximate", true}});
  return linear(g, c.n_embd, p + "_c_proj");
}

}  // namespace

logical::Model gpt2_model(const Gpt2Config& c) {
  const Expr tokens = Expr::input("input"), wte = param("wte_weight");
  const Expr pos = Expr::call(prim("Arange"), {{"stop", tokens.shape()[1]}});
  Expr x = Expr::call(prim("Embedding"), {{"input", tokens}, {"weight", wte}}) +
           Expr::call(prim("Embedding"), {{"input", pos}, {"weight", param("wpe_weight")}});
  const Expr causal = pos.index({Slice{}, NewAxis{}}) >= pos.index({NewAxis{}, Slice{}});
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const std::string p = "h" + std::to_string(l);
    x = x + attention(layer_norm(x, p + "_ln_1", c.layer_norm_eps), causal, c, p + "_attn");
    x = x + mlp(layer_norm(x, p + "_ln_2", c.layer_norm_eps), c, p + "_mlp");
  }
  x = layer_norm(x, "ln_f", c.layer_norm_eps);
  return logical::functional_model({{"output", x.matmul(wte.transpose())}});
}

io::WeightTable gpt2_weight_table(const Gpt2Config& c) {
  io::WeightTable t = {{"transformer.wte.weight", "wte_weight"},
                       {"transformer.wpe.weight", "wpe_weight"},
                       {"transformer.ln_f.weight", "ln_f_weight"},
                       {"transformer.ln_f.bias", "ln_f_bias"}};
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const std::string src = "transformer.h." + std::to_string(l) + ".", dst = "h" + std::to_string(l) + "_";
    for (const char* part : {"ln_1", "attn.c_attn", "attn.c_proj", "ln_2", "mlp.c_fc", "mlp.c_proj"}) {
      std::string key = part;
      for (char& ch : key)
        if (ch == '.') ch = '_';
      for (const char* w : {"weight", "bias"}) t.push_back({src + part + "." + w, dst + key + "_" + w});
    }
  }
  return t;
}

std::map<std::string, Shape> gpt2_parameter_shapes(const Gpt2Config& c) {
  const int64_t C = c.n_embd;
  std::map<std::string, Shape> s = {{"wte_weight", {c.vocab_size, C}},
                                    {"wpe_weight", {c.n_positions, C}},
                                    {"ln_f_weight", {C}},
                                    {"ln_f_bias", {C}}};
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const std::string p = "h" + std::to_string(l) + "_";
    s[p + "ln_1_weight"] = s[p + "ln_1_bias"] = s[p + "ln_2_weight"] = s[p + "ln_2_bias"] = {C};
    s[p + "attn_c_attn_weight"] = {3 * C, C};
    s[p + "attn_c_attn_bias"] = {3 * C};
    s[p + "attn_c_proj_weight"] = {C, C};
    s[p + "attn_c_proj_bias"] = {C};
    s[p + "mlp_c_fc_weight"] = {4 * C, C};
    s[p + "mlp_c_fc_bias"] = {4 * C};
    s[p + "mlp_c_proj_weight"] = {C, 4 * C};
    s[p + "mlp_c_proj_bias"] = {C};
  }
  return s;
}

}  // namespace mithril::examples
