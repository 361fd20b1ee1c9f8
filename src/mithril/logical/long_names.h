// Mithril's long key names (ml.compile's use_short_namings=false).
//
// Short names (the default, flatten.h) name an anonymous edge after the port that created it:
// "weight", "output", "output_0", ... Long names keep the place in the model tree instead: an
// edge the top model does not name is named after the shallowest submodel that has a key for it,
// as the path of submodel names down to that submodel, then that key, joined by '_':
//
//   Model m;  m += Linear(2);  m += Relu();   // submodels m0 (Linear), m1 (Relu)
//   short:  left (the data), input (the weight, Transpose's input), right (the bias), output_0 ...
//           output_3 (Relu's output): named after the primitive ports the keys reach
//   long:   m0_input, m0_weight, m0_bias, m0_transpose_output, m0_matmul_output, m0_output (the
//           Linear's output, Relu's input), m1_output
//
// When two submodels at the same depth both have a key for an edge (Linear's output is Relu's
// input), the one that computes it names it. Keys the top model names keep their names; a long
// name that is already taken gets _0, _1, ... like short names do.
#pragma once

#include "mithril/logical/flatten.h"

namespace mithril::logical {

// Renames the anonymous edges of a flattened model (those without a name at top level) and
// replaces their entries in `flat.keys`.
void assign_long_names(FlatModel& flat);

}  // namespace mithril::logical
