// `mithril quantize MODEL.json --params P.safetensors --quantize q8_0 -o model.gguf`: the model
// dict and its parameters in one GGUF file, the weights of products in a block format
// (runtime/gguf_model.h); prints each tensor's type, bytes and quantization error.
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/model_file.h"
#include "mithril/io/gguf.h"
#include "mithril/runtime/gguf_model.h"

namespace mithril::cli {

namespace {

struct QuantizeArgs {
  std::string model_file, params_file, quantize = "q8_0", output;
};

int run_quantize(const QuantizeArgs& a) {
  const ModelFile mf = load_model_file(a.model_file, a.params_file);
  std::vector<GgufTensorReport> report;
  const io::GgufFile file = gguf_model(mf.model, mf.params, a.quantize == "none" ? "" : a.quantize, &report);
  io::write_gguf(a.output, file);
  fmt::print("{:<24} {:<14} {:<6} {:>12} {:>12} {:>12}\n", "tensor", "shape", "type", "bytes", "max rel err",
             "mean rel err");
  int64_t total = 0, float_total = 0;
  for (const GgufTensorReport& r : report) {
    const Tensor& t = mf.params.at(r.name);
    float_total += t.numel() * static_cast<int64_t>(dtype_size(t.dtype()));
    total += r.bytes;
    if (r.type == "Q8_0" || r.type == "Q4_0")
      fmt::print("{:<24} {:<14} {:<6} {:>12} {:>12.3e} {:>12.3e}\n", r.name, shape_str(r.shape), r.type, r.bytes,
                 r.max_rel_error, r.mean_rel_error);
    else
      fmt::print("{:<24} {:<14} {:<6} {:>12} {:>12} {:>12}\n", r.name, shape_str(r.shape), r.type, r.bytes, "-", "-");
  }
  fmt::print("wrote {}: {} tensors, {} bytes of tensor data ({} in their float dtypes)\n", a.output, report.size(),
             total, float_total);
  return 0;
}

}  // namespace

void add_quantize_command(CLI::App& app, int& status) {
  auto args = std::make_shared<QuantizeArgs>();
  auto* cmd = app.add_subcommand("quantize", "Write a model dict and its parameters as one GGUF file, the weights of "
                                             "products quantized (q8_0, q4_0)");
  cmd->add_option("model", args->model_file, "Model dict (JSON)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--params", args->params_file, "Parameters by key name (.safetensors or .npz)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--quantize", args->quantize, "int8 (= q8_0), q8_0, q4_0, or none")->capture_default_str();
  cmd->add_option("-o,--output", args->output, "The GGUF file to write")->required();
  cmd->callback([args, &status] { status = run_quantize(*args); });
}

}  // namespace mithril::cli
