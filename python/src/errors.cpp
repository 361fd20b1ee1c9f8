// C++ errors as Python exceptions. Mithril's Python code raises KeyError, ValueError and TypeError;
// the C++ kinds map onto those (a shape error is a ValueError, a dtype error a TypeError, a bad
// constructor argument a TypeError, as Python calls report them) with the C++ message unchanged.
#include <exception>

#include "bindings.h"
#include "mithril/core/error.h"

namespace mithril::python {

void bind_errors(py::module_& m) {
  // Module-level classes, so `except ml.ShapeError` and `except ValueError` both catch a shape error.
  // Never destroyed: a decref at process exit would run after the interpreter is finalized.
  static auto& error = *new py::exception<Error>(m, "MithrilError", PyExc_RuntimeError);
  static auto& shape_error = *new py::exception<ShapeError>(m, "ShapeError", PyExc_ValueError);
  static auto& dtype_error = *new py::exception<DTypeError>(m, "DTypeError", PyExc_TypeError);
  static auto& kernel_error = *new py::exception<KernelError>(m, "KernelError", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ShapeError& e) {
      PyErr_SetString(shape_error.ptr(), e.what());
    } catch (const DTypeError& e) {
      PyErr_SetString(dtype_error.ptr(), e.what());
    } catch (const KernelError& e) {
      PyErr_SetString(kernel_error.ptr(), e.what());
    } catch (const KeyError& e) {
      PyErr_SetString(PyExc_KeyError, e.what());
    } catch (const ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const AttributeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const Error& e) {
      PyErr_SetString(error.ptr(), e.what());
    } catch (const json::exception& e) {  // a JSON value of the wrong type reached a constructor
      PyErr_SetString(PyExc_TypeError, e.what());
    }
  });
}

}  // namespace mithril::python
