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
#include "mithril/core/cpu_features.h"
#include "mithril/graph/passes.h"
#include "mithril/core/tensor.h"
#include "mithril/logical/flatten.h"
#include "mithril/logical/model.h"
#include "mithril/runtime/parallel_options.h"
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

using ConstantKeys = std::map<std::string, logical::json>;
using KeyList = std::vector<std::string>;
using ShapeMap = std::map<std::string, Shape>;
// The compile option target_hardware: a cap on the instruction sets of the kernels a program's
// backend chooses, by level name (cpu_features.h: native, baseline, x86-64-v2, x86-64-v3 or avx2,
// x86-64-v4 or avx512, amx).
struct TargetHardware {
  std::string name = "native";
};
// The cap target_hardware names: native admits all the machine has; a level above what the
// machine has is a ValueError naming its features, an unknown name one listing the names.
IsaLevel target_isa_level(const TargetHardware& target);

// The options of compile(), one field per row of compile_options.def (name, type, default, the
// layer or backend that consumes it, doc line), where each is described; JSON and CLI use the
// same names (compile_options.h). In brief: constant_keys/discard_keys/trainable_keys/data_keys
// bind keys; inference drops the gradient graph; backend is the engine with its precision
// (the dtype of parameters, inputs and constants), device and mem_size; optimizations are the
// graph passes (MITHRIL_OPTIMIZE=0 turns them all off); shapes are checked against the symbolic
// shapes at compile time and at run time; static_shapes builds and plans the programs in
// compile() (a plan over mem_size fails there) and rejects other shapes; static_types rejects
// inputs of another dtype instead of casting them; static_inference = inference + static_shapes
// + static_types; profile times every kernel call (peak_gflops/peak_gbs: 0 = measured once).
struct CompileOptions {
#define MI_OPTION(name, Type, default_value, consumer, doc) Type name = default_value;
#include "mithril/runtime/compile_options.def"
#undef MI_OPTION
  // C++ only: constant keys given as tensors (JSON writes them into constant_keys as nested lists).
  DataMap constant_tensors;

  const Backend& backend_or_default() const { return backend ? *backend : *default_backend(); }
  DType precision() const { return backend_or_default().precision(); }
  int64_t mem_size() const { return backend_or_default().options().mem_size; }
  // Rebuild the backend (same name, other options kept) with another precision or mem_size.
  void set_precision(DType precision);
  void set_mem_size(int64_t bytes);
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
  std::string backend_report;        // what the backend adds (ggml: its quantized layers), may be empty
  // The kernel steps with the most FLOPs (cost model), most first, at most kHeaviestSteps: what
  // ran them (kernel name, the ISA it needs) is what `mithril bench --json` reports.
  struct Step {
    std::string op, kernel, isa;
    double flops = 0;
  };
  static constexpr size_t kHeaviestSteps = 5;
  std::vector<Step> heaviest_steps;
};

class PhysicalModel {
 public:
  struct Result {
    DataMap outputs;
    DataMap gradients;
  };

  // The backend the programs run on, and its precision: float inputs of another dtype are cast
  // to it (under static_types, rejected).
  const Backend& backend() const;
  DType precision() const;
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
