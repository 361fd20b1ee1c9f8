// Layer primitives: 1-D/2-D convolution with optional bias, max/average pooling, embedding,
// scaled dot-product attention and the recurrent cells (RNNCell, LSTMCell).
// Stride, padding and dilation are scalar ports holding Mithril's argument forms: an int, a
// pair, a pair of pairs (2-D padding) or the PaddingType names "SAME" / "VALID".
#include <array>
#include <cmath>
#include <functional>
#include <limits>

#include "mithril/core/error.h"
#include "mithril/logical/primitives/common.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/conv.h"
#include "mithril/ops/linalg.h"
#include "mithril/ops/reduce.h"
#include "mithril/ops/shape.h"
#include "mithril/ops/unary.h"

namespace mithril::logical {
namespace {

using Pair = std::array<int64_t, 2>;

int64_t to_int(const std::string& model, const std::string& port, const json& v) {
  MI_CHECK(v.is_number_integer(), ValueError, "[{}] port '{}' must hold integers, got {}", model, port, v.dump());
  return v.get<int64_t>();
}

// An int, or a one-element list of one (a 1-tuple).
int64_t to_single(const std::string& model, const std::string& port, const json& v) {
  return to_int(model, port, v.is_array() && v.size() == 1 ? v[0] : v);
}

// An int n -> (n, n); a list [a, b] -> (a, b).
Pair to_pair(const std::string& model, const std::string& port, const json& v) {
  if (v.is_array()) {
    MI_CHECK(v.size() == 2, ValueError, "[{}] port '{}' must be an int or a pair, got {}", model, port, v.dump());
    return {to_int(model, port, v[0]), to_int(model, port, v[1])};
  }
  const int64_t n = to_int(model, port, v);
  return {n, n};
}

// "SAME" pads kernel//2 on both sides (odd kernels only), "VALID" pads nothing.
std::optional<Pair> padding_type(const std::string& model, const json& v, int64_t kernel) {
  if (!v.is_string()) return std::nullopt;
  const std::string s = v.get<std::string>();
  if (s == "VALID") return Pair{0, 0};
  MI_CHECK(s == "SAME", ValueError, "[{}] padding must be 'SAME', 'VALID', an int or pairs, got '{}'", model, s);
  MI_CHECK(kernel % 2 == 1, ValueError, "[{}] padding 'SAME' needs an odd kernel size, got {}", model, kernel);
  return Pair{kernel / 2, kernel / 2};
}

// 1-D padding (left, right): p -> (p, p); [l, r] as is.
Pair padding_1d(const std::string& model, const json& v, int64_t kernel) {
  if (auto p = padding_type(model, v, kernel)) return *p;
  return to_pair(model, "padding", v);
}

// 2-D padding (top, bottom, left, right): p -> all p; [a, b] -> ((a, a), (b, b)); each entry of
// the pair may itself be a pair ((top, bottom), (left, right)).
std::array<int64_t, 4> padding_2d(const std::string& model, const json& v, Pair kernel) {
  if (v.is_string()) {
    const Pair h = *padding_type(model, v, kernel[0]);
    const Pair w = *padding_type(model, v, kernel[1]);
    return {h[0], h[1], w[0], w[1]};
  }
  if (!v.is_array()) {
    const int64_t p = to_int(model, "padding", v);
    return {p, p, p, p};
  }
  MI_CHECK(v.size() == 2, ValueError, "[{}] padding must be an int or a pair, got {}", model, v.dump());
  const Pair h = to_pair(model, "padding", v[0]);
  const Pair w = to_pair(model, "padding", v[1]);
  return {h[0], h[1], w[0], w[1]};
}

// Validates a kernel size / channel count argument against the weight's shape.
void check_weight_dim(const std::string& model, const char* arg, std::optional<int64_t> expected, int64_t actual,
                      const Shape& weight) {
  MI_CHECK(!expected || *expected == actual, ShapeError, "[{}] {} is {} but the weight has shape {}", model, arg,
           *expected, shape_str(weight));
}

std::optional<int64_t> optional_int(const Args& a, const std::string& name) {
  if (!a.has(name)) return std::nullopt;
  return a.get_int(name, 0);
}

// Mithril's bias has shape [1, C_out, 1...]; a 1-D bias of C_out entries is accepted too.
Var add_bias(const Var& out, const Var& bias) {
  if (bias.ndim() != 1 || bias.dim(0) == 1) return out + bias;
  Shape s(static_cast<size_t>(out.ndim()), 1);
  s[1] = bias.dim(0);
  return out + ops::reshape(bias, s);
}

// Mithril's convolution shapes: input [N, C_in, spatial...], weight [C_out, C_in, kernel...],
// bias [1, C_out, 1...] (a 1-D bias given as data is accepted by the builder too).
void declare_conv_shapes(PrimitiveDef& def, size_t spatial, const std::vector<int64_t>& kernel,
                         std::optional<int64_t> out_channels) {
  const json c_out = out_channels ? json(*out_channels) : json("C_out");
  json input = {"N", "C_in"}, weight = {c_out, "C_in"}, bias = {1, c_out};
  for (size_t i = 0; i < spatial; ++i) {
    input.push_back(nullptr);
    weight.push_back(kernel.empty() ? json(fmt::format("k{}", i)) : json(kernel[i]));
    bias.push_back(1);
  }
  def.shapes = {{"input", input}, {"weight", weight}};
  if (def.port("bias")) def.shapes["bias"] = bias;
}

std::vector<PortDef> conv_ports(const Args& a, json stride, json padding, json dilation) {
  std::vector<PortDef> ports{tensor_port("input"), parameter_port("weight"), scalar_port("stride", std::move(stride)),
                             scalar_port("padding", std::move(padding)), scalar_port("dilation", std::move(dilation))};
  if (a.get_bool("use_bias", true)) ports.push_back(parameter_port("bias"));
  return ports;
}

void add_convolution_1d(PrimitiveRegistry& r) {
  r.add("Convolution1D", {"kernel_size", "out_channels", "use_bias"}, [](const json& args) {
    const Args a("Convolution1D", args);
    const auto kernel = optional_int(a, "kernel_size");
    const auto out_channels = optional_int(a, "out_channels");
    const bool use_bias = a.get_bool("use_bias", true);
    PrimitiveDef def = single_output("Convolution1D", conv_ports(a, 1, 0, 1), [=](Graph&, const PortReader& in) {
      const std::string model = in.model();
      const Var w = in.tensor("weight");
      MI_CHECK(w.ndim() == 3, ShapeError, "[{}] weight must be [C_out, C_in, K], got shape {}", model,
               shape_str(w.shape()));
      check_weight_dim(model, "kernel_size", kernel, w.dim(2), w.shape());
      check_weight_dim(model, "out_channels", out_channels, w.dim(0), w.shape());
      Conv1dParams p;
      p.stride = to_single(model, "stride", in.scalar("stride"));
      p.padding = padding_1d(model, in.scalar("padding"), w.dim(2));
      p.dilation = to_single(model, "dilation", in.scalar("dilation"));
      const Var out = ops::conv1d(in.tensor("input"), w, p);
      return use_bias ? add_bias(out, in.tensor("bias")) : out;
    });
    declare_conv_shapes(def, 1, kernel ? std::vector<int64_t>{*kernel} : std::vector<int64_t>{}, out_channels);
    return def;
  });
}

void add_convolution_2d(PrimitiveRegistry& r) {
  r.add("Convolution2D", {"kernel_size", "out_channels", "use_bias", "groups"}, [](const json& args) {
    const Args a("Convolution2D", args);
    const std::optional<Pair> kernel =
        a.has("kernel_size") ? std::optional<Pair>(to_pair("Convolution2D", "kernel_size", a.get("kernel_size")))
                             : std::nullopt;
    const auto out_channels = optional_int(a, "out_channels");
    const int64_t groups = a.get_int("groups", 1);
    const bool use_bias = a.get_bool("use_bias", true);
    PrimitiveDef def = single_output(
        "Convolution2D", conv_ports(a, json::array({1, 1}), json::array({0, 0}), json::array({1, 1})),
        [=](Graph&, const PortReader& in) {
          const std::string model = in.model();
          const Var w = in.tensor("weight");
          MI_CHECK(w.ndim() == 4, ShapeError, "[{}] weight must be [C_out, C_in/groups, KH, KW], got shape {}", model,
                   shape_str(w.shape()));
          check_weight_dim(model, "kernel_size", kernel ? std::optional<int64_t>((*kernel)[0]) : std::nullopt, w.dim(2),
                           w.shape());
          check_weight_dim(model, "kernel_size", kernel ? std::optional<int64_t>((*kernel)[1]) : std::nullopt, w.dim(3),
                           w.shape());
          check_weight_dim(model, "out_channels", out_channels, w.dim(0), w.shape());
          Conv2dParams p;
          p.stride = to_pair(model, "stride", in.scalar("stride"));
          p.padding = padding_2d(model, in.scalar("padding"), {w.dim(2), w.dim(3)});
          p.dilation = to_pair(model, "dilation", in.scalar("dilation"));
          p.groups = groups;
          const Var out = ops::conv2d(in.tensor("input"), w, p);
          return use_bias ? add_bias(out, in.tensor("bias")) : out;
        });
    if (groups == 1)
      declare_conv_shapes(def, 2, kernel ? std::vector<int64_t>{(*kernel)[0], (*kernel)[1]} : std::vector<int64_t>{},
                          out_channels);
    return def;
  });
}

std::vector<PortDef> pool_ports(json padding, json dilation) {
  // kernel_size has no default: it must be given (as the constructor argument).
  PortDef kernel = scalar_port("kernel_size", nullptr);
  kernel.default_value.reset();
  return {tensor_port("input"), kernel, scalar_port("stride", nullptr), scalar_port("padding", std::move(padding)),
          scalar_port("dilation", std::move(dilation))};
}

void add_max_pool_1d(PrimitiveRegistry& r) {
  r.add("MaxPool1D", {}, [](const json&) {
    return single_output("MaxPool1D", pool_ports(json::array({0, 0}), 1), [](Graph&, const PortReader& in) {
      const std::string model = in.model();
      Pool1dParams p;
      p.kernel = to_single(model, "kernel_size", in.scalar("kernel_size"));
      p.stride = in.scalar("stride").is_null() ? p.kernel : to_single(model, "stride", in.scalar("stride"));
      p.padding = padding_1d(model, in.scalar("padding"), p.kernel);
      p.dilation = to_single(model, "dilation", in.scalar("dilation"));
      return ops::max_pool1d(in.tensor("input"), p);
    });
  });
}

Pool2dParams pool_2d_params(const PortReader& in) {
  const std::string model = in.model();
  Pool2dParams p;
  p.kernel = to_pair(model, "kernel_size", in.scalar("kernel_size"));
  p.stride = in.scalar("stride").is_null() ? p.kernel : to_pair(model, "stride", in.scalar("stride"));
  p.padding = padding_2d(model, in.scalar("padding"), p.kernel);
  p.dilation = to_pair(model, "dilation", in.scalar("dilation"));
  return p;
}

void add_pool_2d(PrimitiveRegistry& r, const char* name, Var (*fn)(const Var&, const Pool2dParams&)) {
  r.add(name, {}, [=](const json&) {
    return single_output(name, pool_ports(json::array({json::array({0, 0}), json::array({0, 0})}), json::array({1, 1})),
                         [=](Graph&, const PortReader& in) { return fn(in.tensor("input"), pool_2d_params(in)); });
  });
}

void add_embedding(PrimitiveRegistry& r) {
  r.add("Embedding", {"num_embeddings", "dim"}, [](const json& args) {
    const Args a("Embedding", args);
    const auto num_embeddings = optional_int(a, "num_embeddings");
    const auto dim = optional_int(a, "dim");
    return single_output("Embedding", {index_port("input"), parameter_port("weight")},
                         [=](Graph&, const PortReader& in) {
                           const Var w = in.tensor("weight");
                           MI_CHECK(w.ndim() == 2, ShapeError, "[Embedding] weight must be [num_embeddings, dim], got {}",
                                    shape_str(w.shape()));
                           check_weight_dim("Embedding", "num_embeddings", num_embeddings, w.dim(0), w.shape());
                           check_weight_dim("Embedding", "dim", dim, w.dim(1), w.shape());
                           return ops::embedding(in.tensor("input"), w);
                         });
  });
}

// ScaledDotProduct (args is_causal = True, scale = None -> 1/sqrt(d), dropout_p = 0.0,
// use_attn_mask = False; ports query [..., L, d], key [..., S, d], value [..., S, d_v] and, with
// use_attn_mask, attn_mask [L, S] added to the scores): the reference formula of PyTorch's
// scaled_dot_product_attention that Mithril follows,
//   softmax(query @ key^T * scale + causal bias + attn_mask, -1) @ value,
// where the causal bias is -inf above the diagonal. Dropout is not supported (p must be 0).
void add_scaled_dot_product(PrimitiveRegistry& r) {
  r.add("ScaledDotProduct", {"is_causal", "scale", "dropout_p", "use_attn_mask"}, [](const json& args) {
    const Args a("ScaledDotProduct", args);
    const bool causal = a.get_bool("is_causal", true);
    const bool use_mask = a.get_bool("use_attn_mask", false);
    const std::optional<double> scale = a.has("scale") ? std::optional<double>(a.get_double("scale", 0)) : std::nullopt;
    MI_CHECK(a.get_double("dropout_p", 0.0) == 0.0, AttributeError,
             "[ScaledDotProduct] dropout_p = {} is not supported: only 0.0", a.get_double("dropout_p", 0.0));
    std::vector<PortDef> ports = {tensor_port("query"), tensor_port("key"), tensor_port("value")};
    if (use_mask) ports.push_back(tensor_port("attn_mask"));
    return single_output("ScaledDotProduct", ports, [=](Graph& g, const PortReader& in) {
      const Var q = in.tensor("query"), k = in.tensor("key"), v = in.tensor("value");
      MI_CHECK(q.ndim() >= 2 && k.ndim() >= 2, ShapeError, "[ScaledDotProduct] query {} and key {} need 2 or more dims",
               shape_str(q.shape()), shape_str(k.shape()));
      const int64_t l = q.dim(q.ndim() - 2), s = k.dim(k.ndim() - 2);
      const double factor = scale ? *scale : 1.0 / std::sqrt(static_cast<double>(q.dim(q.ndim() - 1)));
      Var w = ops::matmul(q, ops::swap_axes(k, -2, -1)) * factor;
      if (causal) {
        std::vector<double> bias(static_cast<size_t>(l * s), 0.0);
        for (int64_t i = 0; i < l; ++i)
          for (int64_t j = i + 1; j < s; ++j)
            bias[static_cast<size_t>(i * s + j)] = -std::numeric_limits<double>::infinity();
        w = w + ops::cast(g.constant(Tensor::from_doubles(bias, {l, s}, DType::f64)), w.dtype());
      }
      if (use_mask) w = w + in.tensor("attn_mask");
      return ops::matmul(ops::softmax(w, -1), v);
    });
  });
}

// The recurrent cells of README §4.4. A cell steps a batch of N sequences whose hidden state
// holds M >= N rows (sequences sorted by length: the longer ones come first); rows N.. of the
// state pass through unchanged as `hidden_compl`.
using CellStep = std::function<std::map<std::string, Var>(const PortReader&, const std::vector<Var>& states)>;

PrimitiveDef recurrent_cell(const std::string& name, std::vector<std::string> state_ports,
                            std::vector<std::string> parameters, std::vector<std::string> outputs, CellStep step) {
  PrimitiveDef def;
  def.name = name;
  def.ports.push_back(tensor_port("input"));
  for (const std::string& p : state_ports) def.ports.push_back(tensor_port(p));
  for (const std::string& p : parameters) def.ports.push_back(parameter_port(p));
  for (const std::string& p : outputs) def.ports.push_back(output_port(p));
  // README 4.4: input [N,1,d_in], states [M,1,d_hid]; weights by the cell (set by the caller).
  def.shapes = {{"input", {"N", 1, "d_in"}}, {"hidden", {"N", 1, "d_hid"}}, {"output", {"N", 1, "d_out"}},
                {"hidden_compl", {nullptr, 1, "d_hid"}}};
  for (const std::string& p : state_ports) def.shapes[p] = {"M", 1, "d_hid"};
  if (std::find(outputs.begin(), outputs.end(), "cell") != outputs.end()) def.shapes["cell"] = {"N", 1, "d_hid"};
  def.build = [name, state_ports, step](Graph&, const PortValues& values) {
    const PortReader in(name, values);
    const Var x = in.tensor("input");
    std::vector<Var> states;  // the first N rows of each state
    Var complement = x;
    for (const std::string& p : state_ports) {
      const Var s = in.tensor(p);
      MI_CHECK(x.ndim() == 3 && s.ndim() == 3 && s.dim(0) >= x.dim(0), ShapeError,
               "[{}] input {} must be [N, 1, d] and {} {} must be [M, 1, d] with M >= N", name, shape_str(x.shape()), p,
               shape_str(s.shape()));
      states.push_back(ops::slice(s, 0, 0, x.dim(0)));
      if (p == "prev_hidden") complement = ops::slice(s, 0, x.dim(0), s.dim(0));
    }
    std::map<std::string, Var> out = step(in, states);
    out.emplace("hidden_compl", complement);
    return out;
  };
  return def;
}

Var affine(const Var& x, const Var& w, const Var& b) { return ops::matmul(x, ops::swap_axes(w, -2, -1)) + b; }

// h = tanh(prev_hidden[:N] w_hh^T + input w_ih^T + bias_h); output = h w_ho^T + bias_o.
void add_rnn_cell(PrimitiveRegistry& r) {
  r.add("RNNCell", {}, [](const json&) {
    PrimitiveDef def = recurrent_cell(
        "RNNCell", {"prev_hidden"}, {"w_ih", "w_hh", "w_ho", "bias_h", "bias_o"}, {"hidden", "hidden_compl", "output"},
        [](const PortReader& in, const std::vector<Var>& st) {
                            const Var x = in.tensor("input");
                            const Var h = ops::tanh(ops::matmul(st[0], ops::swap_axes(in.tensor("w_hh"), -2, -1)) +
                                                    affine(x, in.tensor("w_ih"), in.tensor("bias_h")));
                            return std::map<std::string, Var>{
                                {"hidden", h}, {"output", affine(h, in.tensor("w_ho"), in.tensor("bias_o"))}};
                          });
    def.shapes.insert({{"w_ih", {"d_hid", "d_in"}}, {"w_hh", {"d_hid", "d_hid"}}, {"w_ho", {"d_out", "d_hid"}},
                       {"bias_h", {"d_hid"}}, {"bias_o", {"d_out"}}});
    return def;
  });
}

// z = [input, prev_hidden[:N]]; f, i, o = sigmoid(z w^T + b), g = tanh(z w_c^T + b_c);
// cell = f prev_cell[:N] + i g; hidden = tanh(cell) o; output = hidden w_out^T + bias_out.
void add_lstm_cell(PrimitiveRegistry& r) {
  r.add("LSTMCell", {}, [](const json&) {
    PrimitiveDef def = recurrent_cell(
        "LSTMCell", {"prev_hidden", "prev_cell"},
        {"w_f", "w_i", "w_c", "w_o", "w_out", "bias_f", "bias_i", "bias_c", "bias_o", "bias_out"},
        {"hidden", "cell", "hidden_compl", "output"}, [](const PortReader& in, const std::vector<Var>& st) {
          const Var z = ops::concat({in.tensor("input"), st[0]}, -1);
          auto gate = [&](const char* w, const char* b) { return affine(z, in.tensor(w), in.tensor(b)); };
          const Var f = ops::sigmoid(gate("w_f", "bias_f")), i = ops::sigmoid(gate("w_i", "bias_i"));
          const Var g = ops::tanh(gate("w_c", "bias_c")), o = ops::sigmoid(gate("w_o", "bias_o"));
          const Var cell = f * st[1] + i * g;
          const Var hidden = ops::tanh(cell) * o;
          const Var output = affine(hidden, in.tensor("w_out"), in.tensor("bias_out"));
          return std::map<std::string, Var>{{"hidden", hidden}, {"cell", cell}, {"output", output}};
        });
    for (const char* w : {"w_f", "w_i", "w_c", "w_o"}) def.shapes[w] = {"d_hid", "d_sum"};
    for (const char* b : {"bias_f", "bias_i", "bias_c", "bias_o"}) def.shapes[b] = {"d_hid"};
    def.shapes["w_out"] = {"d_out", "d_hid"};
    def.shapes["bias_out"] = {"d_out"};
    return def;
  });
}

}  // namespace

void register_layer_primitives(PrimitiveRegistry& r) {
  add_rnn_cell(r);
  add_lstm_cell(r);
  add_scaled_dot_product(r);
  add_convolution_1d(r);
  add_convolution_2d(r);
  add_max_pool_1d(r);
  add_pool_2d(r, "MaxPool2D", ops::max_pool2d);
  add_pool_2d(r, "AvgPool2D", ops::avg_pool2d);
  add_embedding(r);
}

}  // namespace mithril::logical
