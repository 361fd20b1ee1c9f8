// Primitive models: the leaves of Mithril's logical models. A primitive has an ordered list
// of ports (Mithril's external keys, inputs first) and a rule that builds its physical ops
// into a graph once the values reaching its ports are known. Tensor ports carry graph Vars;
// non-tensor ports (axis, keepdim, ...) carry JSON values known at compile time.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mithril/ir/ir.h"

namespace mithril::logical {

// ordered_json keeps object keys in insertion order: submodels of a model dict are ordered.
using json = nlohmann::ordered_json;

enum class PortKind {
  tensor_input,       // a tensor
  tensor_list_input,  // a list of tensors (Concat's input)
  scalar_input,       // a non-tensor value: int, float, bool, null, string, list (axis, keepdim, ...)
  output,             // a tensor output
};

struct PortDef {
  std::string name;
  PortKind kind = PortKind::tensor_input;
  // Value used when nothing is connected (e.g. axis = null, threshold = 2.2e-308). A port
  // without a default must be connected. For tensor inputs the default is a constant tensor.
  std::optional<json> default_value;
  bool differentiable = false;  // trainable parameter by default (weight, bias)
  // Element type a tensor input requires; the builder converts float64 data to it
  // (class indices -> int64 by rounding, conditions -> bool by != 0).
  enum class Elem { any, integer, boolean } elem = Elem::any;
  bool list = false;  // an output holding a list of tensors (ToList), built by build_lists
};

// What reaches one port when the primitive is built.
struct PortValue {
  std::optional<Var> tensor;  // tensor_input
  std::vector<Var> tensors;   // tensor_list_input
  json scalar;                // scalar_input (also set for tensor inputs given as constants)
};
using PortValues = std::map<std::string, PortValue>;

struct PrimitiveDef {
  std::string name;  // Mithril class name, e.g. "Add", "CrossEntropy"
  std::vector<PortDef> ports;
  // Appends the ops to `graph` and returns one Var per output port, by port name. Ports missing
  // from `in` take their defaults (a tensor default becomes a graph constant in the dtype of the
  // floating-point inputs); a tensor port given only `scalar` becomes a constant; integer and
  // boolean ports are converted (Elem). A port with no default that is not connected, or a name
  // that is not an input port, is a KeyError naming the model and port.
  std::function<std::map<std::string, Var>(Graph& graph, const PortValues& in)> build;
  // Builds the list-valued outputs (PortDef::list) instead of `build`, for primitives whose
  // outputs are lists of tensors that feed list inputs (ToList -> Concat).
  std::function<std::map<std::string, std::vector<Var>>(Graph& graph, const PortValues& in)> build_lists;

  // Symbolic shapes of ports (Mithril's shape templates, see shape_inference.h): per port a list
  // of dims, each an integer, a symbol ("N", "d_in") shared by the ports of one call, or a
  // variadic "V,..." / "..." for any number of dims. Ports not listed are unconstrained.
  std::map<std::string, json> shapes;
  // A relation templates cannot state, applied once enough is known: `broadcast` (the first two
  // tensor inputs broadcast to `output`, NumPy rules), `transpose` (`output` permutes `input` by
  // the `axes` port), `matmul` (batch dims of `left` and `right` broadcast to `output`'s),
  // `flatten` (`output` merges dims start_dim..end_dim of `input`; a merged dim with an unknown
  // part is unknown, the other dims carry over), `reduce` (`output` is `input` without the dims
  // the `axis` port names, or with them as 1 when `keepdim`; a scalar for axis = null).
  enum class ShapeRule { none, broadcast, transpose, matmul, flatten, reduce } shape_rule = ShapeRule::none;

  const PortDef* port(const std::string& port_name) const;
  std::vector<std::string> input_names() const;
  std::vector<std::string> output_names() const;
};

// Creates a primitive from its constructor arguments (JSON object; may be empty).
using PrimitiveFactory = std::function<PrimitiveDef(const json& args)>;

// Looks a primitive up by Mithril class name, case-insensitively ("sigmoid" == "Sigmoid").
// Throws KeyError "unknown model 'Foo'" when unknown. A constructor argument that names an
// input port (axis, slope, threshold, stride, ...) sets that port's default value, as Mithril
// ports are constructor keywords; any other argument the model does not take is an
// AttributeError "[Softmax] unknown argument 'foo'".
PrimitiveDef make_primitive(const std::string& name, const json& args = json::object());
bool is_primitive(const std::string& name);
// Model names match case-insensitively; this is the folding every lookup uses.
std::string lowercase(std::string s);
std::vector<std::string> primitive_names();

}  // namespace mithril::logical
