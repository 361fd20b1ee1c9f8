// The GPT-2 example: builds the model with the library (gpt2.h), optionally saves it as a model
// dict, loads PyTorch weights from safetensors through the name-mapping table (or draws them),
// and prints or writes logits and greedily generated tokens; `--bench` times generation.
//
//   gpt2 --config tiny --weights w.safetensors --tokens t.npy --logits l.npy --generate 8 --generated g.npy
//   gpt2 --config 124m --bench --batch 8 --prompt-len 16 --generate 16
//
// Without a KV cache every step runs the whole sequence so far (one compiled program per length).
#include <fmt/core.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <string>

#include "gpt2.h"
#include "mithril/backends/cpu/cpu_backend.h"
#include "mithril/core/error.h"
#include "mithril/core/random.h"
#include "mithril/io/npy.h"
#include "mithril/logical/model_dict.h"
#include "mithril/runtime/compile.h"

using namespace mithril;

namespace {

struct Options {
  std::string config = "tiny", weights, tokens, logits, generated, save_dict, dtype = "f32";
  int64_t generate = 0, batch = 1, prompt_len = 8, layers = -1, seed = 1;
  bool bench = false;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      MI_CHECK(i + 1 < argc, ValueError, "[gpt2] option {} needs a value", a);
      return argv[++i];
    };
    if (a == "--config") o.config = value();
    else if (a == "--weights") o.weights = value();
    else if (a == "--tokens") o.tokens = value();
    else if (a == "--logits") o.logits = value();
    else if (a == "--generated") o.generated = value();
    else if (a == "--save-dict") o.save_dict = value();
    else if (a == "--dtype") o.dtype = value();
    else if (a == "--generate") o.generate = std::stoll(value());
    else if (a == "--batch") o.batch = std::stoll(value());
    else if (a == "--prompt-len") o.prompt_len = std::stoll(value());
    else if (a == "--layers") o.layers = std::stoll(value());
    else if (a == "--seed") o.seed = std::stoll(value());
    else if (a == "--bench") o.bench = true;
    else MI_THROW(ValueError, "[gpt2] unknown option '{}'", a);
  }
  return o;
}

// GPT-2's initialisation: normal(0, 0.02) weights, zero biases, unit layer-norm scales.
std::map<std::string, Tensor> random_weights(const examples::Gpt2Config& c, DType dtype, uint64_t seed) {
  Rng rng(seed);
  std::map<std::string, Tensor> w;
  for (const auto& [key, shape] : examples::gpt2_parameter_shapes(c)) {
    const bool norm = key.find("ln_") != std::string::npos;
    const bool bias = key.size() > 5 && key.substr(key.size() - 5) == "_bias";
    std::vector<double> v(static_cast<size_t>(numel(shape)), norm && !bias ? 1.0 : 0.0);
    if (!norm && !bias)
      for (double& x : v) x = 0.02 * rng.normal();
    w.emplace(key, Tensor::from_doubles(v, shape, dtype));
  }
  return w;
}

// The argmax over the vocabulary of the last position of each sequence.
std::vector<int64_t> next_tokens(const Tensor& logits) {
  const Shape s = logits.shape();
  const int64_t b = s[0], t = s[1], v = s[2];
  const std::vector<double> x = logits.to_doubles();
  std::vector<int64_t> out(static_cast<size_t>(b));
  for (int64_t i = 0; i < b; ++i) {
    const size_t base = static_cast<size_t>((i * t + t - 1) * v);
    int64_t best = 0;
    for (int64_t j = 1; j < v; ++j)
      if (x[base + static_cast<size_t>(j)] > x[base + static_cast<size_t>(best)]) best = j;
    out[static_cast<size_t>(i)] = best;
  }
  return out;
}

Tensor append(const Tensor& tokens, const std::vector<int64_t>& next) {
  const int64_t b = tokens.shape()[0], t = tokens.shape()[1];
  const std::vector<double> x = tokens.to_doubles();
  std::vector<double> y;
  for (int64_t i = 0; i < b; ++i) {
    for (int64_t j = 0; j < t; ++j) y.push_back(x[static_cast<size_t>(i * t + j)]);
    y.push_back(static_cast<double>(next[static_cast<size_t>(i)]));
  }
  return Tensor::from_doubles(y, {b, t + 1}, DType::i64);
}

int run(const Options& o) {
  examples::Gpt2Config c = o.config == "124m" ? examples::gpt2_124m() : examples::gpt2_tiny();
  MI_CHECK(o.config == "124m" || o.config == "tiny", ValueError, "[gpt2] --config is tiny or 124m, got '{}'", o.config);
  if (o.layers > 0) c.n_layer = o.layers;
  const DType dtype = parse_dtype(o.dtype);
  const logical::Model model = examples::gpt2_model(c);
  if (!o.save_dict.empty()) logical::save_model_dict(model, o.save_dict);

  const std::map<std::string, Tensor> weights =
      o.weights.empty() ? random_weights(c, dtype, static_cast<uint64_t>(o.seed))
                        : io::import_weights(o.weights, examples::gpt2_weight_table(c), dtype,
                                             examples::gpt2_parameter_shapes(c));
  CompileOptions opt;
  opt.inference = true;
  const PhysicalModel pm = compile(model, CpuBackend({.precision = dtype}), opt);
  DataMap inputs;
  for (const auto& [k, t] : weights) inputs[k] = Data(t);

  Tensor tokens;
  if (!o.tokens.empty()) {
    tokens = io::read_npy(o.tokens).astype(DType::i64);
  } else {
    Rng rng(static_cast<uint64_t>(o.seed) + 1);
    std::vector<double> v(static_cast<size_t>(o.batch * o.prompt_len));
    for (double& x : v) x = static_cast<double>(static_cast<int64_t>(rng.uniform() * static_cast<double>(c.vocab_size)));
    tokens = Tensor::from_doubles(v, {o.batch, o.prompt_len}, DType::i64);
  }
  MI_CHECK(tokens.ndim() == 2, ShapeError, "[gpt2] tokens must be [batch, length], got {}", shape_str(tokens.shape()));
  MI_CHECK(tokens.shape()[1] + o.generate <= c.n_positions, ValueError,
           "[gpt2] {} prompt tokens + {} generated exceed the {} positions", tokens.shape()[1], o.generate,
           c.n_positions);

  inputs["input"] = Data(tokens);
  const Tensor logits = pm.evaluate(inputs).at("output").tensor;
  if (!o.logits.empty()) io::write_npy(o.logits, logits.astype(DType::f32));
  fmt::print("logits {} {}\n", shape_str(logits.shape()), dtype_name(logits.dtype()));

  if (o.generate > 0) {
    // Greedy decoding; each length is its own program, so --bench generates once to build them
    // and times a second run.
    auto generate = [&] {
      Tensor seq = append(tokens, next_tokens(logits));
      for (int64_t step = 1; step < o.generate; ++step) {
        inputs["input"] = Data(seq);
        seq = append(seq, next_tokens(pm.evaluate(inputs).at("output").tensor));
      }
      return seq;
    };
    if (o.bench) generate();
    const auto start = std::chrono::steady_clock::now();
    const Tensor seq = generate();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!o.generated.empty()) io::write_npy(o.generated, seq);
    if (o.bench && o.generate > 1)
      fmt::print("batch {}, prompt {}, {} generated: {:.1f} tokens/s ({} full-sequence steps, no KV cache)\n",
                 tokens.shape()[0], tokens.shape()[1], o.generate,
                 static_cast<double>((o.generate - 1) * tokens.shape()[0]) / seconds, o.generate - 1);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
