// What `mithril bench` and `mithril profile` share: loading a model dict (with --train, wrapped
// in a TrainModel with a loss against a "target" key) and drawing its inputs for given shapes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/model_file.h"
#include "mithril/logical/model.h"
#include "mithril/runtime/compile.h"

namespace mithril::cli {

// The options both commands take: the model, input shapes, --train with its loss, the dtype, the
// compile options by name, the warm-up and timed calls and the seed of the random inputs.
struct ModelArgs {
  std::string model_file;
  std::vector<std::string> shape_specs;
  bool train = false;
  std::string loss = "mse";
  std::string dtype;  // empty: the --options precision, else f32
  std::string options;
  std::string params;  // parameters as constant keys (model_file.h)
  int warmup = 3;
  int iterations = 20;
  uint64_t seed = 0;
};
// Adds them to `cmd`; `train_help` says what --train measures.
void add_model_options(CLI::App* cmd, ModelArgs& args, const char* train_help);

struct ModelSetup {
  logical::Model model;    // what to compile: the dict, or with train the TrainModel around it
  PhysicalModel base;      // the dict compiled as is: key names and shape inference
  bool train = false;
  std::string loss;        // l1, mse or ce
  std::string output_key;  // with train: the output the loss is attached to
  ModelFile file;          // the model file and its parameters
};

// Adds `--options FILE.json|'{...}'` (compile options by name, runtime/compile_options.h) to `cmd`.
void add_compile_options_flag(CLI::App* cmd, std::string& options);

// A command's compile options: its defaults (`base`), then the --options file or inline JSON over
// them, then the explicit flags over that: --dtype when given (`dtype_flag` not empty), and
// --shapes, merged key by key over the file's `shapes` into `shapes` (the shapes of the inputs
// the command draws).
CompileOptions command_compile_options(const std::string& options_arg, CompileOptions base,
                                       const std::string& dtype_flag, const std::vector<std::string>& shape_specs,
                                       std::map<std::string, Shape>& shapes, const char* tag);

// `tag` names the command in error messages ("bench"). Unknown losses are a ValueError.
// `params_file` (may be empty) and a GGUF model's tensors become constant keys of the compiled
// model (bind_params); the dict itself is compiled as is for the key names.
ModelSetup load_model_setup(const std::string& model_file, bool train, const std::string& loss, const char* tag,
                            const std::string& params_file = "");
// The command's compile options for `setup`: the model file's defaults over `base`, then the
// --options, --dtype and --shapes (command_compile_options), and its parameters bound.
CompileOptions setup_compile_options(const ModelSetup& setup, const ModelArgs& args, CompileOptions base,
                                     std::map<std::string, Shape>& shapes, const char* tag);

// A float dtype from its name; integer dtypes are a DTypeError.
DType parse_float_dtype(const std::string& name, const char* tag);

// Seeded standard-normal inputs for `shapes` (run_io.h); with train, also the loss target:
// zeros of the output's shape, or for ce one class label per row.
DataMap make_setup_inputs(const ModelSetup& setup, const PhysicalModel& compiled, std::map<std::string, Shape> shapes,
                          uint64_t seed, DType dtype, const char* tag);

}  // namespace mithril::cli
