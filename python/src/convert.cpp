// Value conversions between Python and the C++ core.
#include <cstring>

#include "bindings.h"
#include "mithril/core/error.h"

namespace mithril::python {

namespace {

// Never destroyed: a decref at process exit would run after the interpreter is finalized.
py::module_& numpy() {
  static py::module_* np = new py::module_(py::module_::import("numpy"));
  return *np;
}

// The NumPy dtype of a Tensor dtype (bf16 has none: it is widened first).
py::dtype numpy_dtype(DType d) {
  switch (d) {
    case DType::f64: return py::dtype::of<double>();
    case DType::f32: return py::dtype::of<float>();
    case DType::f16: return py::dtype("float16");
    case DType::i64: return py::dtype::of<int64_t>();
    case DType::i32: return py::dtype::of<int32_t>();
    case DType::i8: return py::dtype::of<int8_t>();
    case DType::b8: return py::dtype::of<bool>();
    case DType::bf16: break;
  }
  MI_THROW(DTypeError, "[python] no NumPy dtype for {}", dtype_name(d));
}

DType tensor_dtype(const py::dtype& dt, const std::string& what) {
  const char kind = dt.kind();
  const auto size = dt.itemsize();
  if (kind == 'f' && size == 8) return DType::f64;
  if (kind == 'f' && size == 4) return DType::f32;
  if (kind == 'f' && size == 2) return DType::f16;
  if (kind == 'i' && size == 8) return DType::i64;
  if (kind == 'i' && size == 4) return DType::i32;
  if (kind == 'i' && size == 1) return DType::i8;
  if (kind == 'b') return DType::b8;
  MI_THROW(DTypeError, "[python] {}: NumPy dtype {} has no Mithril dtype (float64, float32, float16, int64, int32, "
           "int8, bool; uint8 is read as int32)", what, py::str(static_cast<py::handle>(dt)).cast<std::string>());
}

}  // namespace

json to_json(py::handle v, const std::string& what) {
  if (v.is_none()) return nullptr;
  if (py::isinstance<py::bool_>(v)) return v.cast<bool>();
  if (py::isinstance<py::int_>(v)) return v.cast<int64_t>();
  if (py::isinstance<py::float_>(v)) return v.cast<double>();
  if (py::isinstance<py::str>(v)) return v.cast<std::string>();
  if (py::isinstance<py::array>(v) || py::hasattr(v, "dtype")) return to_json(v.attr("tolist")(), what);
  if (py::isinstance<py::list>(v) || py::isinstance<py::tuple>(v)) {
    json out = json::array();
    for (py::handle item : v) out.push_back(to_json(item, what));
    return out;
  }
  if (py::isinstance<py::dict>(v)) {
    json out = json::object();
    for (auto [k, item] : v.cast<py::dict>()) {
      if (!py::isinstance<py::str>(k))
        MI_THROW(DTypeError, "[python] {}: dict keys must be strings, got {}", what, py::repr(k).cast<std::string>());
      const std::string key = k.cast<std::string>();
      out[key] = to_json(item, what + "." + key);
    }
    return out;
  }
  MI_THROW(DTypeError, "[python] {}: cannot use a value of type {} here ({})", what,
           py::str(py::type::of(v).attr("__name__")).cast<std::string>(), py::repr(v).cast<std::string>());
}

py::object from_json(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return py::none();
    case json::value_t::boolean: return py::bool_(v.get<bool>());
    case json::value_t::number_integer: return py::int_(v.get<int64_t>());
    case json::value_t::number_unsigned: return py::int_(v.get<uint64_t>());
    case json::value_t::number_float: return py::float_(v.get<double>());
    case json::value_t::string: return py::str(v.get<std::string>());
    case json::value_t::array: {
      py::list out;
      for (const json& item : v) out.append(from_json(item));
      return out;
    }
    case json::value_t::object: {
      py::dict out;
      for (const auto& [k, item] : v.items()) out[py::str(k)] = from_json(item);
      return out;
    }
    default: break;
  }
  return py::none();
}

Tensor to_tensor(py::handle value, const std::string& what) {
  py::object obj = py::reinterpret_borrow<py::object>(value);
  if (!py::isinstance<py::array>(obj)) {
    try {
      obj = numpy().attr("asarray")(obj);
    } catch (py::error_already_set& e) {
      MI_THROW(DTypeError, "[python] {}: not an array: {}", what, e.what());
    }
  }
  py::array arr = obj.cast<py::array>();
  if (arr.dtype().kind() == 'u' && arr.dtype().itemsize() == 1) arr = arr.attr("astype")("int32");
  if (arr.dtype().kind() == 'O' || arr.dtype().kind() == 'U')
    MI_THROW(DTypeError, "[python] {}: not a numeric array ({})", what, py::repr(value).cast<std::string>());
  const DType dtype = tensor_dtype(arr.dtype(), what);
  arr = py::array::ensure(arr, py::array::c_style);
  Shape shape(arr.shape(), arr.shape() + arr.ndim());
  const size_t bytes = static_cast<size_t>(numel(shape)) * dtype_size(dtype);
  // An array aligned as the kernels need (64 bytes) is wrapped in place, kept alive by the tensor
  // (released under the GIL, from whichever thread drops it). Below 4 KiB a copy is cheaper than
  // the wrapper (the allocator keeps small blocks per thread), so small arrays are copied.
  constexpr size_t kWrapFrom = 4096;
  if (bytes >= kWrapFrom && reinterpret_cast<uintptr_t>(arr.data()) % 64 == 0) {
    std::shared_ptr<void> owner(new py::object(arr), [](void* p) {
      if (!Py_IsInitialized() || _Py_IsFinalizing()) return;  // the interpreter is gone: nothing to release
      py::gil_scoped_acquire gil;
      delete static_cast<py::object*>(p);
    });
    return Tensor::view_of(std::make_shared<Storage>(const_cast<void*>(arr.data()), bytes, std::move(owner)), 0, shape,
                           dtype);
  }
  Tensor t = Tensor::empty(shape, dtype);
  if (t.nbytes() > 0) std::memcpy(t.raw_data(), arr.data(), t.nbytes());
  return t;
}

py::array to_numpy(const Tensor& tensor) {
  Tensor t = tensor.dtype() == DType::bf16 ? tensor.astype(DType::f32) : tensor;
  const size_t item = dtype_size(t.dtype());
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end()), strides;
  for (int64_t s : t.strides()) strides.push_back(static_cast<py::ssize_t>(s * static_cast<int64_t>(item)));
  // The capsule owns a Tensor sharing the storage: the array keeps the memory alive.
  auto* holder = new Tensor(t);
  py::capsule base(holder, [](void* p) { delete static_cast<Tensor*>(p); });
  return py::array(numpy_dtype(t.dtype()), shape, strides, const_cast<void*>(holder->raw_data()), base);
}

DataMap to_data_map(py::handle dict, const std::string& what) {
  DataMap out;
  if (dict.is_none()) return out;
  if (!py::isinstance<py::dict>(dict))
    MI_THROW(DTypeError, "[python] {} must be a dict of arrays by key, got {}", what,
             py::str(py::type::of(dict).attr("__name__")).cast<std::string>());
  for (auto [k, v] : dict.cast<py::dict>()) {
    const std::string key = py::str(k).cast<std::string>();
    const bool list = (py::isinstance<py::list>(v) || py::isinstance<py::tuple>(v)) && py::len(v) > 0 &&
                      py::isinstance<py::array>(v.cast<py::sequence>()[0]);
    if (list) {
      std::vector<Tensor> tensors;
      for (py::handle item : v) tensors.push_back(to_tensor(item, what + " '" + key + "'"));
      out.emplace(key, Data(std::move(tensors)));
    } else {
      out.emplace(key, Data(to_tensor(v, what + " '" + key + "'")));
    }
  }
  return out;
}

py::dict from_data_map(const DataMap& data) {
  py::dict out;
  for (const auto& [k, v] : data) {
    if (v.is_list) {
      py::list l;
      for (const Tensor& t : v.list) l.append(to_numpy(t));
      out[py::str(k)] = l;
    } else {
      out[py::str(k)] = to_numpy(v.tensor);
    }
  }
  return out;
}

}  // namespace mithril::python
