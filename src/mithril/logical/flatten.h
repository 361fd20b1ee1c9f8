// Flattening: a logical model tree becomes one list of primitive calls over shared edges.
//
// Each port of each primitive instance starts as its own edge; connections merge edges
// (union-find), carrying names, fixed values and differentiability along. The result lists
// calls in topological order and names every edge the way Mithril does: user-named keys keep
// their names, anonymous edges are named after the port that created them ("output",
// "axes", ...) with _0, _1, ... suffixes when a name is used more than once.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mithril/logical/model.h"

namespace mithril::logical {

using EdgeId = int32_t;

// A shape template assigned to a key by set_shapes or an IOKey's shape. Symbols are shared
// within one `scope` (one set_shapes call of one model instance), never across scopes.
struct AssignedShape {
  json shape;
  std::string scope;   // e.g. "m1.linear#0"
  std::string origin;  // who assigned it, for messages: "set_shapes of 'm1' (Linear)"
};

struct Edge {
  std::string name;    // final key name (user name, or derived from the origin)
  std::string origin;  // the port name where the edge was created
  bool user_named = false;
  PortKind kind = PortKind::tensor_input;  // tensor (input/output), tensor list or scalar
  std::optional<json> value;               // fixed value (connection value, IOKey value, port default)
  bool value_is_tensor = false;
  bool value_is_default = false;           // came from a port default, not from the user
  std::optional<bool> differentiable;      // explicitly set by the user
  bool default_differentiable = false;     // a port declares it a trainable parameter
  int producer = -1;                       // index of the call whose output it is
  std::vector<AssignedShape> shapes;       // user-assigned shape templates
};

struct PrimCall {
  PrimitiveDef def;
  std::string path;                       // "m1.m0" for messages
  std::map<std::string, EdgeId> ports;    // port name -> edge
  // Constructor arguments when the primitive was made by name (Model::primitive): two such calls
  // with equal names, arguments and inputs compute the same. Unset for hand-built definitions.
  std::optional<json> args;
};

// A submodel instance of the tree and the edges its keys ended up on.
struct FlatBlock {
  std::string path;                     // "m1.m0"
  std::string model;                    // class name: "Linear", "Add", "Model"
  std::map<std::string, EdgeId> keys;   // its ports and named keys
};

struct FlatModel {
  std::vector<Edge> edges;       // only edges referenced by calls/keys are meaningful
  std::vector<PrimCall> calls;   // topological order
  std::map<std::string, EdgeId> keys;  // every named key of the top model
  std::vector<EdgeId> outputs;   // output edges in order (exposed keys, else canonical outputs)
  std::vector<FlatBlock> blocks; // every submodel below the top, breadth first, siblings in order

  bool is_input(EdgeId e) const { return edges[static_cast<size_t>(e)].producer < 0; }
  bool is_differentiable(EdgeId e) const;
  const std::string& name(EdgeId e) const { return edges[static_cast<size_t>(e)].name; }
  std::optional<EdgeId> find(const std::string& key) const;
};

struct FlattenOptions {
  // Mithril's use_short_namings. True: anonymous edges are named after their origin port
  // ("output", "weight", "output_0"). False: Mithril's long names, prefixed by the path of the
  // submodel where the key is first named (long_names.h): "m0_weight", "lin_matmul_output".
  bool short_namings = true;
};

FlatModel flatten(const Model& model, const FlattenOptions& options = {});

// The edges no user named, in the order the calls reach them (each once): the order in which
// generated names are given.
std::vector<EdgeId> anonymous_edges_in_call_order(const FlatModel& flat);

// Flattening of a composite one submodel at a time, for the shape check of Model::add, which
// then costs what the new submodel adds instead of a flattening of the whole model. Edges are
// not compacted: `parent` leads from an edge to the root edge that carries the merged facts
// (PrimCall ports and Edge::producer use these ids). Names are not assigned, and the
// composite's own keys (exposed, differentiabilities, canonical ports, shapes) are not applied.
class IncrementalFlattening {
 public:
  IncrementalFlattening();
  ~IncrementalFlattening();
  // Flattens `sub` as the next submodel of a composite named `model_name` and applies its
  // connections; structural errors throw as flatten() would.
  void add(const Submodel& sub, const std::string& model_name);
  const std::vector<Edge>& edges() const;
  const std::vector<PrimCall>& calls() const;
  std::vector<EdgeId>& parent();
  // What the submodels added since the last take changed: edges created, merged or given a
  // value (maybe repeated), and shape templates assigned, by the edge they went to.
  std::vector<EdgeId> take_touched();
  std::vector<std::pair<EdgeId, AssignedShape>> take_assigned_shapes();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace mithril::logical
