// Model summaries: the flat primitive calls of a model and a table of its keys (role,
// trainability, fixed value, symbolic shape and, given input shapes, the concrete shape and dtype).
// `mithril summary` prints format_summary(summarize(...)).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mithril/core/dtype.h"
#include "mithril/core/shape.h"
#include "mithril/logical/model.h"
#include "mithril/runtime/compile.h"

namespace mithril {

struct ModelSummary {
  struct Call {
    std::string path;                                        // position in the model tree ("lin.m1")
    std::string model;                                       // primitive name
    std::vector<std::pair<std::string, std::string>> ports;  // port -> key, in port order
  };
  struct Key {
    std::string name;
    std::string role;  // "input", "output", "internal" or "constant"
    bool trainable = false;
    std::optional<std::string> value;  // fixed value as short JSON
    std::optional<Shape> shape;        // known when input shapes were given and reach the key
    std::optional<DType> dtype;
    std::string symbolic;  // symbolic shape ("[N..., m, 4]"; "?" when nothing is known)
    bool is_tensor = true;  // non-tensor keys (axis, ...) have no shape
  };
  std::vector<Call> calls;
  std::vector<Key> keys;  // in order of first use by the calls
  bool with_shapes = false;
  // Given a shape for every input: the program compile() builds for them (forward, or with
  // gradients the forward plus gradient graph) — node counts around each pass and the memory plan.
  std::optional<ProgramReport> program;
  bool program_gradients = false;
  std::vector<std::string> inputs_without_shape;  // why there is no program, when shapes were given
};

// Compiles `model` (float64) to learn its inputs and trainable keys, and infers every key's
// symbolic shape (shape_inference.h); with `input_shapes`, also every key's concrete shape and
// dtype without running kernels, and, when every input has a shape, the program (`gradients`:
// with the gradient graph, cotangents on every output). Unknown keys in `input_shapes` are a
// KeyError naming the key. `base` gives the backend and the constants (parameters bound as
// constant keys: the ggml backend's report of its quantized layers needs their values).
ModelSummary summarize(const logical::Model& model, const std::map<std::string, Shape>& input_shapes = {},
                       bool gradients = false, const CompileOptions& base = {});
std::string format_summary(const ModelSummary& summary);
// Node counts before/after each pass and the memory plan, as `mithril summary` prints them.
std::string format_program_report(const ProgramReport& report, bool gradients);

}  // namespace mithril
