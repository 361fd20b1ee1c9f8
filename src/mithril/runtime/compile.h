// compile(): the physical phase. A logical model is flattened, pruned to what the requested
// outputs need, and specialised per input signature into a graph (forward plus, unless
// inference-only, the autodiff gradient graph) that the CPU backend runs.
#pragma once

#include <concepts>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mithril/backends/backend.h"
#include "mithril/core/tensor.h"
#include "mithril/logical/flatten.h"
#include "mithril/logical/model.h"
#include "mithril/runtime/profile.h"

namespace mithril {

// A value bound to a key: a tensor, or a list of tensors for list-valued keys (Concat's input).
struct Data {
  Data() = default;
  Data(Tensor t) : tensor(std::move(t)) {}  // NOLINT: tensors convert implicitly
  Data(std::vector<Tensor> l) : list(std::move(l)), is_list(true) {}  // NOLINT
  Tensor tensor;
  std::vector<Tensor> list;
  bool is_list = false;
};
using DataMap = std::map<std::string, Data>;

// A tensor (or, with `is_list`, a list of tensors) from JSON nested lists.
Data data_from_json(const logical::json& value, bool is_list, DType dtype);

struct CompileOptions {
  // Keys fixed at compile time (Mithril's constant/static keys). JSON values are converted by
  // the kind of key they bind: tensor keys become tensors of `dtype`, other keys stay values.
  std::map<std::string, logical::json> constant_keys;
  DataMap constant_tensors;
  std::vector<std::string> discard_keys;  // outputs not to return; their sub-graph is pruned
  std::vector<std::string> trainable_keys;  // extra keys to differentiate
  std::vector<std::string> data_keys;       // runtime inputs that get no gradient (Mithril's data_keys)
  bool inference = false;                 // no gradient graph
  // The engine that runs the programs, with its options (precision: the dtype of parameters,
  // inputs and constants; device; mem_size). Null: the default backend, cpu in float64.
  BackendPtr backend;
  const Backend& backend_or_default() const { return backend ? *backend : *default_backend(); }
  DType precision() const { return backend_or_default().precision(); }
  int64_t mem_size() const { return backend_or_default().options().mem_size; }
  // Rebuild the backend (same name, other options kept) with another precision or mem_size.
  void set_precision(DType precision);
  void set_mem_size(int64_t bytes);

  // Graph passes run on every program (forward plus gradient graph) before it is planned.
  // MITHRIL_OPTIMIZE=0 turns all of them off whatever is set here.
  struct Optimizations {
    bool constant_folding = true;       // evaluate nodes computable from constants and static keys
    bool operator_fusion = true;        // elementwise chains; matmul + bias + activation
    bool dead_code_elimination = true;  // drop nodes no output needs
    bool common_subexpression = true;   // merge equal nodes, across forward and gradient graphs
  };
  Optimizations optimizations;
  bool graph_optimization = true;  // algebraic simplification, transpose/reshape folding

  // Static compilation: with static_shapes every input key needs a shape in `shapes`; compile()
  // builds and plans the program then (a plan over mem_size fails here), and evaluate() rejects
  // other shapes. static_types rejects inputs whose dtype is not the backend precision instead of
  // building a program for them. static_inference = inference + static_shapes + static_types.
  std::map<std::string, Shape> shapes;
  bool static_shapes = false;
  bool static_types = false;
  bool static_inference = false;

  // Mithril's ml.compile switches, all true by default as in Mithril.
  // jit = true: one program specialized per input signature (shapes and dtypes of the inputs,
  //   which outputs get cotangents), each kept in a cache of up to 64.
  // jit = false: no per-signature specialization. There is one generic program per kind, forward
  //   and forward + gradients (Mithril's evaluate and evaluate_gradients), for any input shapes
  //   the model accepts. The engine plans memory for concrete shapes, so "one" means the cache
  //   holds at most one program of each kind: a call whose signature differs from the held
  //   program's rebuilds it (graph, passes, memory plan, kernels: the cost of a first call) in
  //   place of the old one. Memory stays one program per kind however many shapes are fed;
  //   alternating shapes re-plan on every call, where jit = true reuses its cached programs.
  //   When a program cannot be built for the inputs' shapes, the inputs are checked against the
  //   model's symbolic shapes (with safe_shapes): the error is then a ShapeError naming the
  //   input, its shape, its symbolic shape and the conflict, instead of the rule of the op deep
  //   in the graph that failed. The symbolic shapes are not used to reject inputs the graph
  //   accepts: some declared shapes are stricter than what the engine (and Mithril) runs, such
  //   as a 1-D convolution bias for the declared [1, C_out, 1]. Results are the same either way.
  bool jit = true;
  // safe_shapes = false: evaluate() skips the shape checks of inputs that guard no memory. Under
  //   static_shapes an input whose shape is not its static shape gets a program built for its
  //   shape (as without static_shapes) instead of a ShapeError; under jit = false the symbolic
  //   check is skipped (the op rule that fails reports an inconsistency, as with jit = true); a
  //   cotangent of the wrong shape is reported by the executor's check instead of evaluate()'s.
  //   What keeps every kernel in bounds stays: a program is used only for the exact shapes and
  //   dtypes it was built for, and the executor checks every tensor it is fed against its graph.
  bool safe_shapes = true;
  // safe_names = true: the runtime data inputs (inputs that get no gradient: data keys and
  //   inputs that are not differentiable, whatever `inference` says) must be named in the model;
  //   compile() is a KeyError listing those known only by a generated name ("input" of an
  //   unnamed port). false accepts them under their generated names (input_keys() lists them).
  bool safe_names = true;
  // use_short_namings = false: Mithril's long key names (logical/long_names.h): keys the top
  //   model does not name are prefixed by their submodel path ("m0_weight" instead of "weight").
  //   input_keys(), output_keys(), evaluate() and every key option above use those names.
  bool use_short_namings = true;

  // Time every kernel call: PhysicalModel::profile_stats(). Off, the run loop reads no clock.
  bool profile = false;
  double peak_gflops = 0;  // machine peaks for the breakdown's "% of peak"; 0: measured once
  double peak_gbs = 0;
};

// What building one program did: node counts around each pass and the memory plan.
struct ProgramReport {
  struct Pass {
    std::string name;
    size_t nodes_before = 0, nodes_after = 0;
  };
  std::vector<Pass> passes;
  size_t nodes = 0;  // kernel calls per run (aliasing reshapes included)
  int64_t arena_bytes = 0;           // planned intermediates
  int64_t output_bytes = 0;          // fresh outputs per run
  int64_t planned_peak_bytes = 0;    // arena + outputs
  int64_t naive_bytes = 0;           // every buffer allocated separately, plus outputs
  int64_t lower_bound_bytes = 0;     // most bytes alive at once, plus outputs
  size_t buffers = 0;                // intermediate values
  std::string graph;                 // the optimized graph, one node per line
};

class PhysicalModel {
 public:
  struct Result {
    DataMap outputs;
    DataMap gradients;
  };

  const std::vector<std::string>& input_keys() const;      // keys evaluate() needs
  const std::vector<std::string>& trainable_keys() const;  // inputs that get gradients
  const std::vector<std::string>& output_keys() const;
  const std::vector<std::string>& discarded_keys() const;  // discarded outputs and what only fed them
  // Mithril's all_static_keys (sorted): data inputs (runtime inputs without gradients) and the
  // values folded at compile time that the runtime graph still reads or returns (static_keys.h).
  const std::vector<std::string>& static_keys() const;
  const logical::FlatModel& flat_model() const;

  // Shape and dtype of a key's value in the graph built for some input shapes.
  struct KeyInfo {
    Shape shape;
    DType dtype;
  };
  // Builds the forward graph for the given input shapes without running kernels (inputs take
  // the compile dtype) and returns the shape and dtype of every tensor key it computes. Inputs
  // without a shape leave the calls that depend on them, and their keys, out of the result.
  // A key that is not an input of the model is a KeyError naming it.
  std::map<std::string, KeyInfo> infer_shapes(const std::map<std::string, Shape>& input_shapes) const;

  // Forward outputs.
  DataMap evaluate(const DataMap& inputs) const;
  // Outputs and the vector-Jacobian product with the given output cotangents (outputs not
  // listed get none) for every trainable input.
  Result evaluate(const DataMap& inputs, const DataMap& output_gradients) const;

  // Builds (or finds) the program for these input shapes without running it: forward only, or
  // with the gradient graph for cotangents on every output. Shows what passes and planning did.
  // Under jit = false the program becomes the one held for its kind, as a call would make it.
  ProgramReport program_report(const std::map<std::string, Shape>& input_shapes, bool gradients = false) const;
  // The same for the signature of these inputs (their shapes and dtypes: integer class labels
  // or token ids stay integers).
  ProgramReport program_report(const DataMap& inputs, bool gradients = false) const;
  // Planned peak bytes of the program evaluate() used last (under static_shapes: the forward
  // program built by compile()); 0 before any program exists.
  int64_t planned_peak_bytes() const;

  // The program cache: programs held now, and programs built since compile() (each build plans
  // a graph: a new signature under jit = true, any change of signature under jit = false).
  struct ProgramCacheStats {
    size_t programs = 0;
    size_t builds = 0;
  };
  ProgramCacheStats program_cache() const;

  // Where the time of the evaluate() calls since compile (or reset_profile()) went: per node of
  // every program run and per op type, with FLOPs, bytes, rates and % of this machine's peaks,
  // total time, peak memory and trace events of the last runs. ValueError unless compiled with
  // profile=true. Programs dropped from the cache (past 64 input signatures it starts over; under
  // jit = false, every re-planned program) take their times with them.
  ProfileStats profile_stats() const;
  // Clears the step times and traces of every program and the allocator's peak (reset_peak_bytes).
  void reset_profile() const;

  struct Impl;
  explicit PhysicalModel(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

 private:
  std::shared_ptr<Impl> impl_;
};

PhysicalModel compile(const logical::Model& model, const CompileOptions& options = {});
// The same on `backend` (CpuBackend({.precision = DType::f32}), ReferenceBackend(), ...), which
// replaces options.backend.
PhysicalModel compile(const logical::Model& model, BackendPtr backend, CompileOptions options = {});
template <class B>
  requires std::derived_from<B, Backend>
PhysicalModel compile(const logical::Model& model, B backend, CompileOptions options = {}) {
  return compile(model, std::make_shared<const B>(std::move(backend)), std::move(options));
}

}  // namespace mithril
