// Logical models from Python: the library and primitive constructors by Mithril class name,
// composition (add with connections, += and |= through canonical ports), IOKey, TrainModel,
// model dicts and summaries. python/mithril/models.py wraps these in Mithril's classes.
#include "bindings.h"
#include "mithril/core/error.h"
#include "mithril/logical/flatten.h"
#include "mithril/logical/library.h"
#include "mithril/logical/model_dict.h"
#include "mithril/logical/primitive.h"
#include "mithril/logical/train_model.h"
#include "mithril/runtime/summary.h"

namespace mithril::python {

namespace {

using logical::Connection;
using logical::IOKey;
using logical::Model;
using logical::SubPort;

// A port of an added submodel, as the Python layer passes it: ("__ref__", local name, port).
bool is_ref(py::handle v) {
  return py::isinstance<py::tuple>(v) && py::len(v) == 3 && py::isinstance<py::str>(v.cast<py::tuple>()[0]) &&
         v.cast<py::tuple>()[0].cast<std::string>() == "__ref__";
}

SubPort as_ref(py::handle v) {
  const py::tuple t = v.cast<py::tuple>();
  return {t[1].cast<std::string>(), t[2].cast<std::string>()};
}

Connection to_connection(py::handle v, const std::string& what) {
  if (py::isinstance<py::str>(v)) return Connection(v.cast<std::string>());
  if (py::isinstance<IOKey>(v)) return Connection(v.cast<IOKey>());
  if (is_ref(v)) return logical::ref(as_ref(v));
  if (py::isinstance<py::array>(v)) return Connection::tensor(to_json(v, what));
  return Connection::scalar(to_json(v, what));
}

std::map<std::string, Connection> to_connections(const py::dict& d) {
  std::map<std::string, Connection> out;
  for (auto [k, v] : d) {
    const std::string port = py::str(k).cast<std::string>();
    out.emplace(port, to_connection(v, "connection '" + port + "'"));
  }
  return out;
}

IOKey make_iokey(py::object name, py::object value, py::object shape, py::object differentiable, bool expose,
                 py::object connections) {
  IOKey k;
  if (!name.is_none()) k.name = name.cast<std::string>();
  if (!value.is_none()) {
    k.value_is_tensor = py::isinstance<py::array>(value);
    k.value = to_json(value, "IOKey value");
  }
  if (!shape.is_none()) k.shape = to_json(shape, "IOKey shape");
  if (!differentiable.is_none()) k.differentiable = differentiable.cast<bool>();
  k.expose = expose;
  if (!connections.is_none()) {
    for (py::handle c : connections) {
      if (is_ref(c)) k.connect.emplace_back(as_ref(c));
      else if (py::isinstance<py::str>(c)) k.connect.emplace_back(c.cast<std::string>());
      else MI_THROW(DTypeError, "[IOKey] connections are key names or ports of added submodels, got {}",
                    py::repr(c).cast<std::string>());
    }
  }
  return k;
}

// Constructor arguments: JSON where the Python layer put {"__model__": i} for the i-th model-valued
// argument (an activation, a kernel, a cell); other model descriptions are model dicts or names.
Model construct(const std::string& name, const py::dict& args, const std::vector<Model>& model_args) {
  const json j = to_json(args, name + " arguments");
  const logical::ModelResolver resolve = [&](const json& d) -> Model {
    if (d.is_object() && d.contains("__model__")) return model_args.at(d.at("__model__").get<size_t>());
    return logical::model_from_dict(d);
  };
  return logical::make_model(name, j, resolve);
}

std::vector<std::string> port_names(const Model& m, bool inputs) {
  if (const logical::PrimitiveDef* def = m.primitive_def()) return inputs ? def->input_names() : def->output_names();
  return {};
}

std::map<std::string, Shape> to_shape_map(const py::object& shapes) {
  std::map<std::string, Shape> out;
  if (shapes.is_none()) return out;
  for (auto [k, v] : shapes.cast<py::dict>()) out[py::str(k).cast<std::string>()] = v.cast<Shape>();
  return out;
}

}  // namespace

void bind_models(py::module_& m) {
  py::class_<IOKey>(m, "IOKey")
      .def(py::init(&make_iokey), py::arg("name") = py::none(), py::arg("value") = py::none(),
           py::arg("shape") = py::none(), py::arg("differentiable") = py::none(), py::arg("expose") = false,
           py::arg("connections") = py::none())
      .def_property_readonly("name", [](const IOKey& k) { return k.name; })
      .def("__repr__", [](const IOKey& k) { return "IOKey(" + (k.name.empty() ? "" : "'" + k.name + "'") + ")"; });

  py::class_<Model>(m, "Model")
      .def(py::init<>())
      .def_static("construct", &construct, py::arg("name"), py::arg("args"), py::arg("model_args"))
      .def_static("from_dict", [](py::handle d) { return logical::model_from_dict(to_json(d, "model dict")); })
      .def("to_dict", [](const Model& self) { return from_json(logical::model_to_dict(self)); })
      // Adds `sub` and returns the local name it got; `chain` wires canonical output to canonical input (+=).
      .def("add",
           [](Model& self, const Model& sub, const py::dict& connections, const std::string& name, bool chain) {
             if (chain) {
               MI_CHECK(name.empty(), ValueError, "[Model] += takes no submodel name");
               self += logical::Block(sub, to_connections(connections));
             } else {
               self.add(sub, to_connections(connections), name);
             }
             return self.submodel_names().back();
           },
           py::arg("sub"), py::arg("connections"), py::arg("name") = "", py::arg("chain") = false)
      .def("expose", &Model::expose)
      .def("set_differentiability",
           [](Model& self, py::handle key, bool d) {
             if (is_ref(key)) self.set_differentiability(as_ref(key), d);
             else self.set_differentiability(key.cast<std::string>(), d);
           })
      .def("set_shapes",
           [](Model& self, const py::dict& shapes) {
             std::map<std::string, json> s;
             for (auto [k, v] : shapes) s[py::str(k).cast<std::string>()] = to_json(v, "set_shapes");
             self.set_shapes(s);
           })
      .def("set_canonical_input", [](Model& self, py::handle r) { self.set_canonical_input(as_ref(r)); })
      .def("set_canonical_output", [](Model& self, py::handle r) { self.set_canonical_output(as_ref(r)); })
      .def_property_readonly("name", &Model::name)
      .def_property_readonly("is_primitive", &Model::is_primitive)
      .def_property_readonly("submodel_names", &Model::submodel_names)
      .def_property_readonly("input_ports", [](const Model& self) { return port_names(self, true); })
      .def_property_readonly("output_ports", [](const Model& self) { return port_names(self, false); })
      .def("canonical_port", [](const Model& self, bool input) { return logical::canonical_port(self, input); })
      .def("keys",
           [](const Model& self) {
             std::vector<std::string> keys;
             for (const auto& [k, e] : logical::flatten(self).keys) keys.push_back(k);
             return keys;
           })
      .def("summary",
           [](const Model& self, const py::object& shapes, bool gradients) {
             const auto s = to_shape_map(shapes);
             ModelSummary summary;
             {
               py::gil_scoped_release release;
               summary = summarize(self, s, gradients);
             }
             return format_summary(summary);
           },
           py::arg("shapes") = py::none(), py::arg("gradients") = false);

  py::class_<logical::TrainModel>(m, "TrainModel")
      .def(py::init<Model>())
      .def("add_loss",
           [](logical::TrainModel& self, const Model& loss, const std::vector<Model>& reduce_steps,
              const std::string& input, const py::object& target) {
             logical::LossSpec spec{loss, input, std::nullopt, reduce_steps};
             if (!target.is_none()) spec.target_key = target.cast<std::string>();
             self.add_loss(std::move(spec));
           },
           py::arg("loss"), py::arg("reduce_steps"), py::arg("input"), py::arg("target") = py::none())
      .def("add_regularization",
           [](logical::TrainModel& self, const Model& reg, py::handle coef, const std::string& input, bool regex,
              const std::map<std::string, std::string>& other_ports) {
             json c = to_json(coef, "regularization coef");
             if (py::isinstance<py::array>(coef)) c = json{{"tensor", c}};
             self.add_regularization({reg, c, input, regex, other_ports});
           },
           py::arg("model"), py::arg("coef"), py::arg("input"), py::arg("regex") = false,
           py::arg("other_ports") = std::map<std::string, std::string>{})
      .def("set_loss_combiner", &logical::TrainModel::set_loss_combiner)
      .def("build", &logical::TrainModel::build);

  m.def("library_model_names", &logical::library_model_names);
  m.def("primitive_names", &logical::primitive_names);
}

}  // namespace mithril::python
