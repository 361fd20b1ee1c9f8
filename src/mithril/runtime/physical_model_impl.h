// Internal to the runtime layer (not part of the public API, not in mithril.hpp): the state of a
// compiled model, PhysicalModel::Impl, shared by the files that implement compile.h:
//   compile.cpp        compile(): binding keys, the `shapes` constraints, static programs
//   lowering.cpp       building a program's graph from the flat model (forward, autodiff, passes)
//   program_cache.cpp  signatures and the program cache
//   evaluate.cpp       running programs, reports, profiles, accessors, infer_shapes
#pragma once

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "mithril/runtime/compile.h"

namespace mithril {

using logical::EdgeId;
using logical::FlatModel;
using logical::json;

struct PhysicalModel::Impl {
  FlatModel flat;
  CompileOptions options;
  std::vector<EdgeId> outputs;                    // returned outputs (discards removed)
  std::vector<std::string> output_keys, input_keys, trainable_keys, discarded_keys, static_keys;
  std::vector<bool> input_is_list;                // per input key: a list-of-tensors port
  std::vector<bool> needed_call;                  // calls the returned outputs depend on
  std::map<EdgeId, Data> constants;               // tensor constants by edge
  std::map<EdgeId, json> constant_values;         // JSON of every constant edge (scalars too)

  bool is_constant(EdgeId e) const { return constant_values.count(e) || constants.count(e); }
  const std::string& name(EdgeId e) const { return flat.name(e); }

  // Graph values bound to edges while a graph is built.
  struct Bound {
    std::map<EdgeId, Var> vars;
    std::map<EdgeId, std::vector<Var>> list_vars;
  };
  // Adds the constants and every needed call to `g`, after the inputs were bound in `b`. With
  // `partial`, calls reading an unbound tensor edge are skipped (shape inference with missing shapes).
  void build_calls(Graph& g, Bound& b, bool partial) const;

  // What a program is specialised on: the shape and dtype of every input tensor (list keys
  // element by element, in input_keys order), and with gradients, which outputs get cotangents.
  struct Signature {
    std::vector<Shape> shapes;
    std::vector<DType> dtypes;
    std::vector<uint32_t> counts;  // per input key: tensors fed (1, or a list's length)
    std::vector<bool> is_list;     // per input key
    bool gradients = false;
    std::vector<std::string> cotangent_keys;  // sorted
    std::string key() const;
    // Appends an input key fed one tensor.
    void add_tensor(const Shape& shape, DType dtype) {
      shapes.push_back(shape);
      dtypes.push_back(dtype);
      counts.push_back(1);
      is_list.push_back(false);
    }
    // With `with_gradients`, every output gets a cotangent (program_report, static compiles).
    void set_all_cotangents(bool with_gradients, const std::vector<std::string>& outputs) {
      gradients = with_gradients;
      cotangent_keys.clear();
      if (!with_gradients) return;
      cotangent_keys = outputs;
      std::sort(cotangent_keys.begin(), cotangent_keys.end());
    }
  };

  // A graph built, optimized and planned for one signature, reused by every evaluate() call
  // with that signature. Inputs are fed in input_keys order (list keys element by element),
  // then the cotangents in output order.
  struct Program {
    struct Cotangent {
      std::string key;
      Shape shape;
      DType dtype;
    };
    Signature signature;
    GraphProgram graph;  // after the passes
    std::vector<PassStat> passes;
    std::unique_ptr<Executable> executor;  // fetches outputs, then gradients of trainable_keys
    std::vector<Cotangent> cotangents;
    std::vector<size_t> gradient_counts;  // per trainable key: 0 for a tensor, n for a list of n
    // True when `feed` (input tensors only) and the cotangent keys are what this program takes.
    bool accepts(const std::vector<const Tensor*>& feed, const std::vector<uint32_t>& counts, const DataMap* output_gradients) const;
  };
  static constexpr size_t kMaxPrograms = 64;
  mutable std::mutex cache_mutex;
  mutable std::map<std::string, std::shared_ptr<const Program>> programs;
  mutable std::shared_ptr<const Program> last_program;  // the fast path: checked first
  mutable std::atomic<size_t> builds{0};                // programs built since compile()

  std::shared_ptr<const Program> build_program(const Signature& sig) const;
  std::shared_ptr<const Program> program_for(const Signature& sig) const;  // cached
  // jit=false, when building a program for `sig` failed on a shape: the signature's shapes
  // against the model's symbolic shapes (input_checks.h), for an error naming the input.
  void check_symbolic(const Signature& sig) const;
  // The signature of a call, after the static_shapes / static_types checks.
  Signature signature_of(const std::vector<const Tensor*>& feed, const std::vector<uint32_t>& counts,
                         const DataMap* output_gradients) const;
  // Collects the input tensors in input_keys order; keys that are not inputs are checked
  // (unknown key: KeyError; a constant key given a different value: ValueError).
  void gather_inputs(const DataMap& inputs, std::vector<const Tensor*>& feed, std::vector<uint32_t>& counts) const;
  Signature static_signature(bool gradients) const;
  // Float inputs of another dtype are cast to the backend precision, the one place where that
  // happens (under static_types they are left for signature_of to reject). `casts` owns the copies.
  void cast_to_precision(std::vector<const Tensor*>& feed, std::vector<Tensor>& casts) const;
  Result run(const DataMap& inputs, const DataMap* output_gradients) const;
};

}  // namespace mithril
