// mithril._mithril: the extension module the `mithril` Python package is built on.
#include "bindings.h"

PYBIND11_MODULE(_mithril, m) {
  m.doc() = "Mithril C++ core (logical models, compile, backends, training)";
  mithril::python::bind_errors(m);
  mithril::python::bind_models(m);
  mithril::python::bind_runtime(m);
  mithril::python::bind_train(m);
  // An array through the Tensor conversion and back: the tests check which conversions copy.
  m.def("_roundtrip", [](pybind11::handle a) { return mithril::python::to_numpy(mithril::python::to_tensor(a, "array")); });
}
