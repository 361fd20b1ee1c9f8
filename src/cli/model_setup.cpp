#include "cli/model_setup.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/run_io.h"
#include "mithril/core/error.h"
#include "mithril/logical/model_dict.h"
#include "mithril/logical/shape_inference.h"
#include "mithril/logical/train_model.h"
#include "mithril/runtime/compile_options.h"
#include "mithril/runtime/summary.h"

namespace mithril::cli {
namespace {

logical::Model loss_model(const std::string& loss, const char* tag) {
  if (loss == "l1") return logical::Model::primitive("AbsoluteError");
  if (loss == "mse") return logical::Model::primitive("SquaredError");
  if (loss == "ce") return logical::Model::primitive("CrossEntropy");
  MI_THROW(ValueError, "[{}] unknown --loss '{}': expected l1, mse or ce", tag, loss);
}

}  // namespace

void add_model_options(CLI::App* cmd, ModelArgs& args, const char* train_help) {
  cmd->add_option("model", args.model_file, "Model dict (JSON) or GGUF model")->required()->check(CLI::ExistingFile);
  cmd->add_option("--shapes", args.shape_specs, "Input shape, e.g. --shapes input=32x128 (repeatable)")
      ->allow_extra_args(false);
  cmd->add_flag("--train", args.train, train_help);
  cmd->add_option("--loss", args.loss, "Loss for --train: l1, mse or ce")->capture_default_str();
  cmd->add_option("--dtype", args.dtype, "f32, f64, bf16 or f16 (default: the --options precision, else f32)");
  add_compile_options_flag(cmd, args.options);
  cmd->add_option("--params", args.params, "Parameters as constant keys (.safetensors or .npz, by key name)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--warmup", args.warmup, "Untimed calls first")->capture_default_str();
  cmd->add_option("--iterations", args.iterations, "Timed calls")->capture_default_str();
  cmd->add_option("--seed", args.seed, "Seed of the random inputs")->capture_default_str();
}

void add_compile_options_flag(CLI::App* cmd, std::string& options) {
  cmd->add_option("--options", options,
                  "Compile options by name (ml.compile keywords): a JSON file or inline '{...}'; "
                  "--dtype and --shapes override it");
}

CompileOptions command_compile_options(const std::string& options_arg, CompileOptions base,
                                       const std::string& dtype_flag, const std::vector<std::string>& shape_specs,
                                       std::map<std::string, Shape>& shapes, const char* tag) {
  CompileOptions opts = options_arg.empty() ? std::move(base) : load_compile_options(options_arg, std::move(base));
  if (!dtype_flag.empty()) opts.set_precision(parse_float_dtype(dtype_flag, tag));
  for (const auto& [key, shape] : parse_shape_specs(shape_specs)) opts.shapes[key] = shape;  // --shapes wins
  shapes = opts.shapes;
  return opts;
}

ModelSetup load_model_setup(const std::string& model_file, bool train, const std::string& loss, const char* tag,
                            const std::string& params_file) {
  ModelFile file = load_model_file(model_file, params_file);
  logical::Model model = file.model;
  CompileOptions probe;  // for the output keys only; the command compiles with its own options
  probe.safe_names = false;
  bind_params(file, probe);
  ModelSetup s{model, compile(model, probe), train, loss, "", std::move(file)};
  if (!train) return s;
  const logical::Model loss_fn = loss_model(loss, tag);
  MI_CHECK(!s.base.output_keys().empty(), ValueError, "[{}] the model has no output to attach a loss to", tag);
  s.output_key = s.base.output_keys().front();
  logical::TrainModel tm(model);
  tm.add_loss({loss_fn, s.output_key, std::string("target"), {}});
  s.model = tm.build();
  return s;
}

CompileOptions setup_compile_options(const ModelSetup& setup, const ModelArgs& args, CompileOptions base,
                                     std::map<std::string, Shape>& shapes, const char* tag) {
  CompileOptions opts = command_compile_options(args.options, model_file_defaults(setup.file, std::move(base)), args.dtype,
                                                args.shape_specs, shapes, tag);
  bind_params(setup.file, opts);
  return opts;
}

DType parse_float_dtype(const std::string& name, const char* tag) {
  const DType dtype = parse_dtype(name);
  MI_CHECK(is_float(dtype), DTypeError, "[{}] --dtype must be a float type (f64, f32, bf16, f16), got {}", tag, name);
  return dtype;
}

DataMap make_setup_inputs(const ModelSetup& setup, const PhysicalModel& compiled, std::map<std::string, Shape> shapes,
                          uint64_t seed, DType dtype, const char* tag) {
  // Inputs without a given shape take the one symbolic inference determines from the given
  // ones (a Linear's weight and bias from its input and dimension).
  const std::vector<std::string>& input_keys = compiled.input_keys();
  for (const auto& [key, shape] : logical::infer_missing_shapes(compiled.flat_model(), shapes))
    if (std::find(input_keys.begin(), input_keys.end(), key) != input_keys.end() && !(setup.train && key == "target"))
      shapes.emplace(key, shape);
  std::vector<std::string> missing;
  for (const std::string& key : input_keys)
    if (!shapes.count(key) && !(setup.train && key == "target")) missing.push_back(key);
  MI_CHECK(missing.empty(), KeyError, "[{}] missing input shapes: {} (give them with --shapes KEY=AxB)", tag,
           fmt::join(missing, ", "));
  Tensor target;
  if (setup.train && !shapes.count("target")) {
    const auto info = setup.base.infer_shapes(shapes);
    const auto it = info.find(setup.output_key);
    MI_CHECK(it != info.end(), ValueError, "[{}] cannot infer the shape of output '{}' from --shapes", tag,
             setup.output_key);
    const Shape out_shape = it->second.shape;
    if (setup.loss == "ce") {
      MI_CHECK(out_shape.size() == 2, ShapeError, "[{}] --loss ce needs a (batch, classes) output, got {}", tag,
               shape_str(out_shape));
      std::vector<double> labels(static_cast<size_t>(out_shape[0]));
      for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<double>(i % static_cast<size_t>(out_shape[1]));
      target = Tensor::from_doubles(labels, {out_shape[0]}, DType::i64);
    } else {
      target = Tensor::zeros(out_shape, dtype);
    }
    shapes["target"] = target.shape();  // drawn, then replaced by the target below
  }
  DataMap inputs = make_run_inputs(compiled, "", shapes, seed, dtype);
  if (target.defined()) inputs["target"] = target;
  return inputs;
}

}  // namespace mithril::cli
