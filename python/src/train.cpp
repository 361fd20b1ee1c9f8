// Training from Python: optimizers, datasets (NumPy arrays or a Python sequence of samples), the
// DataLoader (worker threads; a Python dataset's samples are read under the GIL, so every call
// that waits for batches releases it) and the Trainer.
#include <cmath>
#include <numeric>

#include "bindings.h"
#include "mithril/core/error.h"
#include "mithril/train/data_loader.h"
#include "mithril/train/dataset.h"
#include "mithril/train/optimizer.h"
#include "mithril/train/trainer.h"

namespace mithril::python {

namespace {

using train::Batch;
using train::Sample;

Sample to_sample(py::handle item, int64_t index) {
  const std::string what = "sample " + std::to_string(index);
  Sample s;
  if (py::isinstance<py::dict>(item)) {
    for (auto [k, v] : item.cast<py::dict>()) s[py::str(k).cast<std::string>()] = to_tensor(v, what);
  } else if (py::isinstance<py::tuple>(item) && py::len(item) == 2) {  // (input, target), as PyTorch datasets
    s["input"] = to_tensor(item.cast<py::tuple>()[0], what + " input");
    s["target"] = to_tensor(item.cast<py::tuple>()[1], what + " target");
  } else {
    MI_THROW(DTypeError, "[dataset] {} must be a dict of arrays or an (input, target) pair, got {}", what,
             py::str(py::type::of(item).attr("__name__")).cast<std::string>());
  }
  return s;
}

// A Python object with __len__ and __getitem__ (a map-style dataset, as PyTorch's).
class PyDataset : public train::Dataset {
 public:
  explicit PyDataset(py::object obj) : obj_(std::move(obj)), size_(static_cast<int64_t>(py::len(obj_))) {}
  ~PyDataset() override {
    if (!Py_IsInitialized() || _Py_IsFinalizing()) {
      obj_.release();  // the interpreter is gone: nothing to release
      return;
    }
    py::gil_scoped_acquire gil;
    obj_ = py::object();
  }
  int64_t size() const override { return size_; }
  Sample get(int64_t index) const override {
    py::gil_scoped_acquire gil;
    try {
      return to_sample(obj_[py::int_(index)], index);
    } catch (py::error_already_set& e) {  // Python's exception cannot leave the GIL; its message does
      MI_THROW(ValueError, "{}", e.what());
    }
  }

 private:
  py::object obj_;
  int64_t size_;
};

std::shared_ptr<const train::Dataset> to_dataset(const py::object& d) {
  if (py::isinstance<py::dict>(d)) {
    std::map<std::string, Tensor> fields;
    for (auto [k, v] : d.cast<py::dict>()) fields[py::str(k).cast<std::string>()] = to_tensor(v, "dataset field");
    return std::make_shared<train::TensorDataset>(std::move(fields));
  }
  if (py::isinstance<py::array>(d)) return std::make_shared<train::TensorDataset>(std::map<std::string, Tensor>{{"input", to_tensor(d, "dataset")}});
  if (py::isinstance<py::tuple>(d) && py::len(d) == 2 && py::isinstance<py::array>(d.cast<py::tuple>()[0]))
    return std::make_shared<train::TensorDataset>(std::map<std::string, Tensor>{
        {"input", to_tensor(d.cast<py::tuple>()[0], "dataset input")},
        {"target", to_tensor(d.cast<py::tuple>()[1], "dataset target")}});
  if (py::hasattr(d, "__len__") && py::hasattr(d, "__getitem__")) return std::make_shared<PyDataset>(d);
  MI_THROW(DTypeError, "[DataLoader] dataset must be a dict of arrays, an array, an (inputs, targets) pair of arrays "
           "or a sequence of samples (__len__ and __getitem__), got {}",
           py::str(py::type::of(d).attr("__name__")).cast<std::string>());
}

// The loader with the epoch Python iterates; destroyed without the GIL (its workers may wait for it).
struct PyLoader {
  std::unique_ptr<train::DataLoader> loader;
  int64_t epoch = 0;
  ~PyLoader() {
    py::gil_scoped_release release;
    loader.reset();
  }
};

Batch to_batch(py::handle b) {
  Batch batch;
  for (auto [k, v] : b.cast<py::dict>()) batch.fields[py::str(k).cast<std::string>()] = to_tensor(v, "batch field");
  MI_CHECK(!batch.fields.empty(), ValueError, "[Trainer] a batch needs at least one field");
  const Tensor& first = batch.fields.begin()->second;
  const int64_t n = first.ndim() ? first.dim(0) : 1;
  batch.indices.resize(static_cast<size_t>(n));
  std::iota(batch.indices.begin(), batch.indices.end(), 0);
  return batch;
}

py::dict batch_dict(const Batch& b) {
  py::dict d;
  for (const auto& [k, t] : b.fields) d[py::str(k)] = to_numpy(t);
  return d;
}

train::OptimizerConfig optimizer(std::string name, double lr, double weight_decay) {
  train::OptimizerConfig c;
  c.name = std::move(name);
  c.lr = lr;
  c.weight_decay = weight_decay;
  MI_CHECK(lr > 0 && std::isfinite(lr), ValueError, "[{}] learning_rate must be positive, got {}", c.name, lr);
  return c;
}

}  // namespace

void bind_train(py::module_& m) {
  py::class_<train::OptimizerConfig>(m, "OptimizerConfig")
      .def_readonly("name", &train::OptimizerConfig::name)
      .def_readonly("learning_rate", &train::OptimizerConfig::lr)
      .def_readonly("weight_decay", &train::OptimizerConfig::weight_decay);
  m.def("adam",
        [](double lr, double beta1, double beta2, double eps, double wd, bool decoupled) {
          auto c = optimizer(decoupled ? "adamw" : "adam", lr, wd);
          c.beta1 = beta1;
          c.beta2 = beta2;
          c.eps = eps;
          return c;
        },
        py::arg("learning_rate"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"), py::arg("weight_decay"),
        py::arg("decoupled"));
  m.def("sgd",
        [](double lr, double momentum, double dampening, bool nesterov, double wd) {
          auto c = optimizer("sgd", lr, wd);
          c.momentum = momentum;
          c.dampening = dampening;
          c.nesterov = nesterov;
          return c;
        },
        py::arg("learning_rate"), py::arg("momentum"), py::arg("dampening"), py::arg("nesterov"), py::arg("weight_decay"));
  m.def("rmsprop",
        [](double lr, double alpha, double eps, double momentum, double wd) {
          auto c = optimizer("rmsprop", lr, wd);
          c.alpha = alpha;
          c.eps = eps;
          c.momentum = momentum;
          return c;
        },
        py::arg("learning_rate"), py::arg("alpha"), py::arg("eps"), py::arg("momentum"), py::arg("weight_decay"));

  py::class_<PyLoader>(m, "DataLoader")
      .def(py::init([](const py::object& dataset, int64_t batch_size, bool shuffle, int num_workers, bool pin_memory,
                       int prefetch_factor, bool drop_last, uint64_t seed) {
             MI_CHECK(batch_size >= 1, ValueError, "[DataLoader] batch_size must be >= 1, got {}", batch_size);
             MI_CHECK(num_workers >= 0, ValueError, "[DataLoader] num_workers must be >= 0, got {}", num_workers);
             MI_CHECK(prefetch_factor >= 1, ValueError, "[DataLoader] prefetch_factor must be >= 1, got {}", prefetch_factor);
             auto p = std::make_unique<PyLoader>();
             p->loader = std::make_unique<train::DataLoader>(
                 to_dataset(dataset),
                 train::DataLoaderOptions{batch_size, shuffle, num_workers, pin_memory, prefetch_factor, drop_last, seed});
             return p;
           }),
           py::arg("dataset"), py::arg("batch_size") = 32, py::arg("shuffle") = false, py::arg("num_workers") = 0,
           py::arg("pin_memory") = false, py::arg("prefetch_factor") = 2, py::arg("drop_last") = false,
           py::arg("seed") = 0)
      .def("__len__", [](const PyLoader& l) { return l.loader->num_batches(); })
      .def_property_readonly("num_samples", [](const PyLoader& l) { return l.loader->num_samples(); })
      .def_property_readonly("batch_size", [](const PyLoader& l) { return l.loader->options().batch_size; })
      .def_property_readonly("num_workers", [](const PyLoader& l) { return l.loader->options().num_workers; })
      .def_property_readonly("prefetch_factor", [](const PyLoader& l) { return l.loader->options().prefetch_factor; })
      .def_property_readonly("pin_memory", [](const PyLoader& l) { return l.loader->options().pin_memory; })
      .def_property_readonly("max_in_flight", [](const PyLoader& l) { return l.loader->max_in_flight(); })
      .def("epoch_order", [](const PyLoader& l, int64_t epoch) { return l.loader->epoch_order(epoch); })
      // Iterating starts the next epoch (epoch 0 first) and yields dicts of arrays.
      .def("__iter__",
           [](PyLoader& l) -> PyLoader& {
             py::gil_scoped_release release;
             l.loader->start_epoch(l.epoch++);
             return l;
           },
           py::return_value_policy::reference_internal)
      .def("__next__", [](PyLoader& l) {
        std::optional<Batch> b;
        {
          py::gil_scoped_release release;
          b = l.loader->next();
        }
        if (!b) throw py::stop_iteration();
        return batch_dict(*b);
      });

  py::class_<train::Trainer>(m, "Trainer")
      .def(py::init([](const PyPhysical& model, const train::OptimizerConfig& opt, int64_t accum, const py::object& params,
                       const std::string& loss_key, double clip_norm, double clip_value, uint64_t seed) {
             const py::dict p = params.is_none() ? randomize_params(model, seed) : params.cast<py::dict>();
             train::TensorMap tm;
             for (auto [k, v] : p) tm[py::str(k).cast<std::string>()] = to_tensor(v, "params");
             train::TrainerOptions o;
             o.grad_accum_steps = accum;
             o.loss_key = loss_key;
             o.clip_norm = clip_norm;
             o.clip_value = clip_value;
             return train::Trainer(model.pm, std::move(tm), train::Optimizer(opt), o);
           }),
           py::arg("model"), py::arg("optimizer"), py::arg("gradient_accumulation_steps") = 1,
           py::arg("params") = py::none(), py::arg("loss_key") = "final_cost", py::arg("clip_norm") = 0.0,
           py::arg("clip_value") = 0.0, py::arg("seed") = 0)
      // One optimizer step over micro-batches (dicts of arrays); returns the mean loss.
      .def("step",
           [](train::Trainer& t, const py::list& micro) {
             std::vector<Batch> batches;
             for (py::handle b : micro) batches.push_back(to_batch(b));
             py::gil_scoped_release release;
             return t.step(batches).loss;
           })
      // One epoch of the loader, gradient_accumulation_steps batches per step; returns the mean loss.
      .def("train_epoch",
           [](train::Trainer& t, PyLoader& l) {
             train::EpochStats e;
             {
               py::gil_scoped_release release;
               e = t.train_epoch(*l.loader);
             }
             return py::make_tuple(e.loss, e.steps, e.samples);
           })
      .def("evaluate_loader",
           [](train::Trainer& t, PyLoader& l) {
             train::EvalStats e;
             {
               py::gil_scoped_release release;
               e = t.evaluate(*l.loader);
             }
             return py::make_tuple(e.loss, e.accuracy, e.samples);
           })
      .def_property_readonly("params",
                             [](const train::Trainer& t) {
                               py::dict d;
                               for (const auto& [k, v] : t.params()) d[py::str(k)] = to_numpy(v.clone());
                               return d;
                             })
      .def_property_readonly("global_step", &train::Trainer::global_step)
      .def_property_readonly("epoch", &train::Trainer::epoch)
      .def("save_checkpoint", [](const train::Trainer& t, const std::string& path) { t.save_checkpoint(path); })
      .def("load_checkpoint", [](train::Trainer& t, const std::string& path) { t.load_checkpoint(path); });
}

}  // namespace mithril::python
