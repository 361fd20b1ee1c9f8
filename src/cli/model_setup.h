// What `mithril bench` and `mithril profile` share: loading a model dict (with --train, wrapped
// in a TrainModel with a loss against a "target" key) and drawing its inputs for given shapes.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "mithril/logical/model.h"
#include "mithril/runtime/compile.h"

namespace mithril::cli {

struct ModelSetup {
  logical::Model model;    // what to compile: the dict, or with train the TrainModel around it
  PhysicalModel base;      // the dict compiled as is: key names and shape inference
  bool train = false;
  std::string loss;        // l1, mse or ce
  std::string output_key;  // with train: the output the loss is attached to
};

// `tag` names the command in error messages ("bench"). Unknown losses are a ValueError.
ModelSetup load_model_setup(const std::string& model_file, bool train, const std::string& loss, const char* tag);

// A float dtype from its name; integer dtypes are a DTypeError.
DType parse_float_dtype(const std::string& name, const char* tag);

// Seeded standard-normal inputs for `shapes` (run_io.h); with train, also the loss target:
// zeros of the output's shape, or for ce one class label per row.
DataMap make_setup_inputs(const ModelSetup& setup, const PhysicalModel& compiled, std::map<std::string, Shape> shapes,
                          uint64_t seed, DType dtype, const char* tag);

}  // namespace mithril::cli
