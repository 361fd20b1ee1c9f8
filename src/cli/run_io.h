// Inputs and printed results for running a compiled model from the command line
// (`mithril run`): inputs come from an .npz archive by key name or are drawn from a normal
// distribution for given shapes (the `--shapes KEY=32x128` arguments every command takes);
// outputs are described by shape, dtype and a few statistics.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "mithril/core/tensor.h"
#include "mithril/runtime/compile.h"

namespace mithril {

// Parses shape specs such as "input=32x128", "b=2" and "s=" or "s=()" (a scalar); a key given
// twice or a malformed dim is a ValueError quoting the spec.
std::map<std::string, Shape> parse_shape_specs(const std::vector<std::string>& specs);

// One tensor per input key of `pm`: the .npz member of that name when `npz_path` is not empty
// (floating members converted to `dtype`), otherwise standard normal values of `dtype` for the
// shape in `shapes`, drawn in key order from a generator seeded with `seed`. Errors (KeyError /
// ValueError): keys that are not inputs, an .npz member whose shape contradicts `shapes`, and
// inputs with neither (all of them named in one message).
DataMap make_run_inputs(const PhysicalModel& pm, const std::string& npz_path,
                        const std::map<std::string, Shape>& shapes, uint64_t seed, DType dtype = DType::f64);

// "y  shape (4,2)  f64  min -1  mean 0.25  max 2  first [0, 1.5, ...]": `first` leading values.
std::string describe_output(const std::string& name, const Tensor& t, size_t first = 6);

}  // namespace mithril
