// Static keys of a compiled model: Mithril's `flat_graph.all_static_keys`.
//
// After constant folding, a compiled graph reads two kinds of values that never change during a
// run of the program and carry no gradient: data inputs (runtime inputs that are not trainable;
// in an inference compile, every runtime input) and the values computed at compile time from
// constants. Of the latter only the frontier stays in the runtime graph: folded values that are
// returned as outputs or read by a call that cannot be folded. Constants consumed entirely by
// folded calls are folded away with them.
//
// Folding runs on the pruned flat model after merging duplicate calls (same primitive, same
// constructor arguments, same inputs): a duplicate's outputs become the first call's, so a key
// computed twice is reported under the first call's name.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "mithril/logical/flatten.h"

namespace mithril {

struct StaticKeyQuery {
  const logical::FlatModel* flat = nullptr;
  std::vector<bool> needed_call;           // calls the returned outputs depend on
  std::set<logical::EdgeId> constants;     // edges with a value fixed at compile time
  std::vector<logical::EdgeId> outputs;    // returned outputs
  std::set<logical::EdgeId> data_inputs;   // runtime inputs that get no gradient
};

// Sorted key names.
std::vector<std::string> static_keys(const StaticKeyQuery& q);

}  // namespace mithril
