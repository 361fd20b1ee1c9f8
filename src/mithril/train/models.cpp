#include "mithril/train/models.h"

#include <cmath>

#include "mithril/core/error.h"
#include "mithril/logical/library.h"
#include "mithril/logical/train_model.h"

namespace mithril::train {

using logical::Connection;
using logical::IOKey;
using logical::Model;
using logical::anonymous;
using logical::prim;

namespace {

Connection output_of(const std::string& sub) { return logical::ref(sub, "output"); }

Connection exposed(const std::string& name) {
  IOKey k;
  k.name = name;
  k.expose = true;
  return Connection(k);
}

// Adds `linear` (named `name`) from `in` with weight/bias keys name_w/name_b.
void linear(Network& net, const std::string& name, Connection in, int64_t fan_in, int64_t fan_out, Connection out,
            bool bias = true) {
  if (bias) {
    net.model.add(logical::Linear(fan_out), {{"input", std::move(in)}, {"weight", name + "_w"}, {"bias", name + "_b"},
                                             {"output", std::move(out)}},
                  name);
    add_linear_params(net, name + "_w", name + "_b", fan_in, fan_out);
  } else {
    net.model.add(logical::Linear(fan_out, false),
                  {{"input", std::move(in)}, {"weight", name + "_w"}, {"output", std::move(out)}}, name);
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    net.params[name + "_w"] = {{fan_out, fan_in}, "uniform", bound};
  }
}

void unary(Network& net, const std::string& prim_name, const std::string& name, Connection in, Connection out,
           const logical::json& args = logical::json::object()) {
  net.model.add(prim(prim_name, args), {{"input", std::move(in)}, {"output", std::move(out)}}, name);
}

void add(Network& net, const std::string& name, Connection left, Connection right, Connection out) {
  net.model.add(prim("Add"), {{"left", std::move(left)}, {"right", std::move(right)}, {"output", std::move(out)}}, name);
}

void layer_norm(Network& net, const std::string& name, Connection in, int64_t dim) {
  net.model.add(logical::LayerNorm(),
                {{"input", std::move(in)}, {"weight", name + "_g"}, {"bias", name + "_b"}, {"output", anonymous()}}, name);
  net.params[name + "_g"] = {{dim}, "constant", 1.0};
  net.params[name + "_b"] = {{dim}, "constant", 0.0};
}

}  // namespace

void add_linear_params(Network& net, const std::string& weight, const std::string& bias, int64_t in, int64_t out) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  net.params[weight] = {{out, in}, "uniform", bound};
  net.params[bias] = {{out}, "uniform", bound};
}

Network mlp_classifier(int64_t inputs, const std::vector<int64_t>& hidden, int64_t classes) {
  MI_CHECK(inputs > 0 && classes > 0, ValueError, "[mlp] inputs ({}) and classes ({}) must be positive", inputs, classes);
  Network net;
  std::vector<int64_t> dims = hidden;
  dims.push_back(classes);
  Connection in("input");
  int64_t fan_in = inputs;
  for (size_t i = 0; i < dims.size(); ++i) {
    MI_CHECK(dims[i] > 0, ValueError, "[mlp] layer sizes must be positive, got {}", dims[i]);
    const std::string n = std::to_string(i);
    const bool last = i + 1 == dims.size();
    net.model.add(logical::Linear(dims[i]), {{"input", in}, {"weight", "w" + n}, {"bias", "b" + n},
                                             {"output", last ? exposed("output") : anonymous()}},
                  "linear" + n);
    add_linear_params(net, "w" + n, "b" + n, fan_in, dims[i]);
    if (!last) {
      unary(net, "Relu", "relu" + n, output_of("linear" + n), anonymous());
      in = output_of("relu" + n);
    }
    fan_in = dims[i];
  }
  return net;
}

Network lenet(int64_t channels, int64_t size, int64_t classes, int64_t conv1, int64_t conv2, int64_t hidden) {
  MI_CHECK(size % 4 == 0 && size >= 4, ValueError, "[lenet] the image size must be a multiple of 4, got {}", size);
  Network net;
  auto conv = [&](const std::string& name, Connection in, int64_t cin, int64_t cout) {
    net.model.add(prim("Convolution2D", {{"kernel_size", 3}, {"out_channels", cout}}),
                  {{"input", std::move(in)}, {"weight", name + "_w"}, {"bias", name + "_b"},
                   {"padding", Connection::scalar(1)}, {"output", anonymous()}},
                  name);
    const double bound = 1.0 / std::sqrt(static_cast<double>(cin * 9));
    net.params[name + "_w"] = {{cout, cin, 3, 3}, "uniform", bound};
    net.params[name + "_b"] = {{cout}, "uniform", bound};
  };
  auto pool = [&](const std::string& name, Connection in) {
    net.model.add(prim("MaxPool2D"),
                  {{"input", std::move(in)}, {"kernel_size", Connection::scalar(2)}, {"output", anonymous()}}, name);
  };
  conv("conv1", Connection("input"), channels, conv1);
  unary(net, "Relu", "relu1", output_of("conv1"), anonymous());
  pool("pool1", output_of("relu1"));
  conv("conv2", output_of("pool1"), conv1, conv2);
  unary(net, "Relu", "relu2", output_of("conv2"), anonymous());
  pool("pool2", output_of("relu2"));
  net.model.add(prim("Flatten"), {{"input", output_of("pool2")}, {"start_dim", Connection::scalar(1)}, {"output", anonymous()}},
                "flatten");
  const int64_t flat = conv2 * (size / 4) * (size / 4);
  linear(net, "fc1", output_of("flatten"), flat, hidden, anonymous());
  unary(net, "Relu", "relu3", output_of("fc1"), anonymous());
  linear(net, "fc2", output_of("relu3"), hidden, classes, exposed("output"));
  return net;
}

Network char_gpt(const GptOptions& o) {
  MI_CHECK(o.vocab > 0 && o.context > 0 && o.d_model > 0 && o.heads > 0 && o.layers > 0 && o.d_model % o.heads == 0,
           ValueError, "[gpt] vocab {}, context {}, d_model {}, heads {}, layers {}: all positive, d_model divisible by heads",
           o.vocab, o.context, o.d_model, o.heads, o.layers);
  Network net;
  const int64_t c = o.d_model, hd = o.d_model / o.heads;
  net.model.add(prim("Embedding"), {{"input", "input"}, {"weight", "tok_emb"}, {"output", anonymous()}}, "tok_emb");
  net.params["tok_emb"] = {{o.vocab, c}, "normal", 0.02};
  add(net, "pos_add", output_of("tok_emb"), Connection("pos_emb"), anonymous());
  net.model.set_differentiability(std::string("pos_emb"), true);
  net.params["pos_emb"] = {{o.context, c}, "normal", 0.02};
  std::string x = "pos_add";  // the residual stream
  for (int64_t l = 0; l < o.layers; ++l) {
    const std::string b = "h" + std::to_string(l) + "_";
    layer_norm(net, b + "ln1", output_of(x), c);
    // Heads: softmax(q k^T / sqrt(hd) + causal) v projected back by its slice of the output
    // matrix; the per-head projections summed equal concat(heads) @ W_o^T.
    std::string attn;
    for (int64_t h = 0; h < o.heads; ++h) {
      const std::string p = b + "a" + std::to_string(h) + "_";
      for (const char* qkv : {"q", "k", "v"}) linear(net, p + qkv, output_of(b + "ln1"), c, hd, anonymous(), false);
      net.model.add(prim("ScaledDotProduct", {{"is_causal", true}}),
                    {{"query", output_of(p + "q")}, {"key", output_of(p + "k")}, {"value", output_of(p + "v")}, {"output", anonymous()}},
                    p + "sdp");
      linear(net, p + "o", output_of(p + "sdp"), hd, c, anonymous(), false);
      // GPT-2 scales residual projections by 1/sqrt(2 * layers).
      net.params[p + "o_w"].scale /= std::sqrt(2.0 * static_cast<double>(o.layers));
      if (attn.empty()) {
        attn = p + "o";
      } else {
        add(net, p + "sum", output_of(attn), output_of(p + "o"), anonymous());
        attn = p + "sum";
      }
    }
    add(net, b + "attn_bias", output_of(attn), Connection(b + "attn_b"), anonymous());
    net.model.set_differentiability(b + "attn_b", true);
    net.params[b + "attn_b"] = {{c}, "constant", 0.0};
    add(net, b + "res1", output_of(x), output_of(b + "attn_bias"), anonymous());
    layer_norm(net, b + "ln2", output_of(b + "res1"), c);
    linear(net, b + "fc", output_of(b + "ln2"), c, o.mlp_ratio * c, anonymous());
    unary(net, "Gelu", b + "gelu", output_of(b + "fc"), anonymous());
    linear(net, b + "proj", output_of(b + "gelu"), o.mlp_ratio * c, c, anonymous());
    net.params[b + "proj_w"].scale /= std::sqrt(2.0 * static_cast<double>(o.layers));
    add(net, b + "res2", output_of(b + "res1"), output_of(b + "proj"), anonymous());
    x = b + "res2";
  }
  layer_norm(net, "ln_f", output_of(x), c);
  linear(net, "head", output_of("ln_f"), c, o.vocab, anonymous());
  // [N, T, V] -> [N, V, T]: class scores on axis 1 as CrossEntropy expects.
  net.model.add(prim("Transpose"), {{"input", output_of("head")}, {"axes", Connection::scalar(logical::json::array({0, 2, 1}))},
                                    {"output", exposed("output")}},
                "to_scores");
  return net;
}

logical::Model classification_objective(const logical::Model& network) {
  logical::TrainModel tm(network);
  tm.add_loss({prim("CrossEntropy", {{"input_type", "logits"}}), "output", "target", {prim("Mean")}});
  return tm.build();
}

TensorMap init_params(const std::map<std::string, ParamInit>& params, Rng& rng, DType dtype) {
  TensorMap out;
  for (const auto& [key, p] : params) {
    std::vector<double> v(static_cast<size_t>(numel(p.shape)));
    for (double& x : v) {
      if (p.kind == "uniform") x = rng.uniform(-p.scale, p.scale);
      else if (p.kind == "normal") x = p.scale * rng.normal();
      else if (p.kind == "constant") x = p.scale;
      else MI_THROW(ValueError, "[init] parameter '{}': unknown initialisation '{}' (uniform, normal or constant)", key,
                    p.kind);
    }
    out[key] = Tensor::from_doubles(v, p.shape, dtype);
  }
  return out;
}

}  // namespace mithril::train
