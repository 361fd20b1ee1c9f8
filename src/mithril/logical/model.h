// Logical models: Mithril's composition API.
//
// A Model is either a primitive (primitive.h) or a composite of submodels wired by explicit
// connections. `m |= block` adds a block wiring only what its connections name; `m += block`
// also wires the previous block's canonical output to the new block's canonical input.
// Models have value semantics: adding a model copies it, so one model can be added twice.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "mithril/core/tensor.h"
#include "mithril/logical/primitive.h"

namespace mithril::logical {

// Pseudo key names that always address a composite's canonical input and output edges.
inline constexpr const char* kCanonicalInput = "$canonical_input";
inline constexpr const char* kCanonicalOutput = "$canonical_output";

// A reference to a port of an already-added submodel, by local name: {"m1", "output"}.
struct SubPort {
  std::string submodel;
  std::string port;
};

// Mithril's IOKey: names a key in the parent model and optionally fixes its value, marks it
// differentiable, exposes it as an output, or merges it with existing connections.
struct IOKey {
  std::string name;                        // empty: anonymous
  std::optional<json> value;               // a fixed value (scalar or tensor data)
  bool value_is_tensor = false;            // value is tensor data ({"tensor": v} in model dicts)
  std::optional<bool> differentiable;
  bool expose = false;                     // make this key an output of the parent
  std::optional<json> shape;               // assigned shape template (list of ints / symbols)
  std::vector<std::variant<SubPort, std::string>> connect;  // merged with these ports / keys
};

// What a submodel's port is connected to.
struct Connection {
  enum class Kind { key, scalar, tensor };
  Kind kind = Kind::key;
  IOKey key;     // kind == key
  json value;    // kind == scalar (a number, bool, list, null) or tensor data
  Connection(const char* name) { key.name = name; }  // NOLINT: "x" connects to the key named x
  Connection(std::string name) { key.name = std::move(name); }  // NOLINT
  Connection(IOKey k) : key(std::move(k)) {}  // NOLINT
  static Connection scalar(json v);
  static Connection tensor(json data);
};

class ModelImpl;
class Block;
class ShapeCheckState;  // shape_inference.h
class Model;
class Expr;  // functional.h

// Shorthands for composing models in C++ (the library and train models, programs built on them).
Model prim(const std::string& name, const json& args = json::object());  // Model::primitive
Connection ref(const std::string& submodel, const std::string& port);     // a port of an added submodel
Connection ref(const SubPort& port);
Connection anonymous();  // an unnamed key: wired only to what other connections name

// The port a model is wired through by += : "input"/"output" for primitives that have them
// (else their first input/output), the canonical pseudo keys for composites.
std::string canonical_port(const Model& model, bool input);

class Model {
 public:
  Model();  // an empty composite
  explicit Model(PrimitiveDef primitive);
  static Model primitive(const std::string& name, const json& args = json::object());

  // Adds `sub` under `local_name` (default "m<index>") with the given connections.
  Model& add(const Model& sub, std::map<std::string, Connection> connections = {}, std::string local_name = "");
  Model& operator|=(const Block& block);
  Model& operator+=(const Block& block);
  Model& operator|=(const Model& sub);
  Model& operator+=(const Model& sub);
  Block connect(std::map<std::string, Connection> connections) const;
  // Calls the model on expressions of the functional API (functional.h): on its canonical input,
  // or on ports by name; the result is its canonical output (Expr::output picks another port).
  Expr operator()(const Expr& input) const;
  Expr operator()(const std::map<std::string, Expr>& inputs) const;

  void expose(const std::vector<std::string>& keys);  // make named keys outputs
  void set_differentiability(const std::string& key, bool differentiable);
  void set_differentiability(const SubPort& port, bool differentiable);
  // Assigns shape templates to keys of this model (Mithril's set_shapes): per key a list of
  // dims, each an integer, a symbol ("N", "d_in"; one symbol names one dim across the keys of
  // this call) or a variadic "V,..." / "...". Checked with the model's other shape rules right
  // away: a conflict is a ShapeError naming the key, the blocks and both shapes.
  void set_shapes(const std::map<std::string, json>& shapes);
  void set_canonical_input(const SubPort& port);
  void set_canonical_output(const SubPort& port);
  void set_name(std::string name);  // class name shown in summaries and errors ("Linear")
  // Records the constructor arguments of a library or primitive model (as a model dict's
  // "args"), so that saving writes {"name", "args"} instead of the model's internals. Called last
  // by a constructor: the shapes, differentiabilities and exposed keys it set so far are the
  // constructor's own and are made again when loading; later ones are saved as assigned_*.
  // Adding a submodel, renaming or moving a canonical port afterwards makes the model a plain
  // composite again (saved with its submodels), since the arguments no longer describe it.
  // `model_args` are model-valued arguments (an activation, a kernel, a cell) by JSON pointer
  // into `args` ("/activation", "/activations/1"): saving writes each there as its model dict.
  void set_args(json args, std::vector<std::pair<std::string, Model>> model_args = {});

  const std::string& name() const;
  bool is_primitive() const;
  const PrimitiveDef* primitive_def() const;  // null for composites
  std::vector<std::string> submodel_names() const;
  std::shared_ptr<const ModelImpl> impl() const { return impl_; }

 private:
  void detach();  // copy-on-write before mutation
  void drop_args();  // a changed library model is saved as its internals (see set_args)
  std::shared_ptr<ModelImpl> impl_;
};

// A model together with the connections it will be added with (returned by Model::connect).
class Block {
 public:
  Block(Model model, std::map<std::string, Connection> connections)
      : model(std::move(model)), connections(std::move(connections)) {}
  Model model;
  std::map<std::string, Connection> connections;
};

struct Submodel {
  std::string local_name;
  Model model;
  std::map<std::string, Connection> connections;
};

class ModelImpl {
 public:
  std::string name = "Model";
  std::optional<json> args;  // constructor arguments of library/primitive models
  std::vector<std::pair<std::string, Model>> model_args;  // model-valued ones, by JSON pointer into args
  std::optional<PrimitiveDef> primitive;
  std::vector<Submodel> submodels;
  std::unordered_set<std::string> local_names;  // of the submodels: add() rejects a repeated one in O(1)
  std::vector<std::string> exposed;
  std::vector<std::pair<std::variant<SubPort, std::string>, bool>> differentiabilities;
  std::optional<SubPort> canonical_input, canonical_output;  // composites; default first/last sub
  std::vector<std::map<std::string, json>> shape_sets;       // one entry per set_shapes call
  // How many shape sets, differentiabilities and exposed keys the constructor made (counted
  // when args are recorded); saving writes only those that follow.
  size_t constructor_shape_sets = 0, constructor_differentiabilities = 0, constructor_exposed = 0;
  // What the shape check of the last add() flattened and inferred, reused by the next add()
  // (check_added_submodel); a copy of the model shares it and rebuilds it when it adds.
  std::shared_ptr<ShapeCheckState> shape_check;
};

}  // namespace mithril::logical
