// The Python extension `mithril._mithril`: the C++ core bound with pybind11. The pure-Python
// package (python/mithril/) gives it Mithril's names; this layer converts values (NumPy arrays,
// Python containers, JSON) and releases the GIL around everything that computes.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "mithril/core/tensor.h"
#include "mithril/logical/model.h"
#include "mithril/runtime/compile.h"

namespace mithril::python {

namespace py = pybind11;
using logical::json;

// Python values <-> JSON: None, bool, int, float, str, lists/tuples, dicts with str keys, NumPy
// arrays and scalars (as nested lists). Anything else is a TypeError naming `what`.
json to_json(py::handle value, const std::string& what);
py::object from_json(const json& value);

// A NumPy array (or anything np.asarray accepts) as a Tensor of its own dtype: float64, float32,
// float16, int64, int32, int8, bool (uint8 becomes int32). The data is copied once.
Tensor to_tensor(py::handle value, const std::string& what);
// A Tensor as a NumPy array over the same memory (no copy; the array keeps the storage alive).
// bfloat16 has no NumPy dtype: it is widened to float32 (exact).
py::array to_numpy(const Tensor& tensor);

// A dict {key: array, or a list of arrays for list-valued keys} as a DataMap, and back.
DataMap to_data_map(py::handle dict, const std::string& what);
py::dict from_data_map(const DataMap& data);

// A compiled model with what compile() was given that Python needs later: the logical model
// (summaries) and the `shapes` option (parameter shapes for randomize_params).
struct PyPhysical {
  PhysicalModel pm;
  logical::Model model;
  ShapeMap shapes;
};

// Seeded standard-normal values for every trainable key of `model`.
py::dict randomize_params(const PyPhysical& model, uint64_t seed);

// The exception classes of the module (mithril.ShapeError, ...) and the translation of the C++
// error kinds into them and into Python's built-in KeyError, ValueError and TypeError.
void bind_errors(py::module_& m);
void bind_models(py::module_& m);
void bind_runtime(py::module_& m);
void bind_train(py::module_& m);

}  // namespace mithril::python
