// Backends as objects, compile(), PhysicalModel (evaluate with the GIL released, parameters,
// shapes, summaries, profiles) and benchmarks, for python/mithril/__init__.py.
#include <cmath>

#include "bindings.h"
#include "mithril/core/error.h"
#include "mithril/conformance/conformance.h"
#include "mithril/core/random.h"
#include "mithril/logical/shape_inference.h"
#include "mithril/runtime/benchmark.h"
#include "mithril/runtime/compile_options.h"
#include "mithril/runtime/profile.h"
#include "mithril/runtime/summary.h"

namespace mithril::python {

namespace {

// The backend `name` with keyword options (device, precision/dtype, mem_size, quantize, and the
// seed's backend knobs), read and checked as the `backend` compile option is, so a knob this build
// lacks is the same ValueError with its reason.
BackendPtr backend_from_options(const std::string& name, const py::dict& options) {
  json spec = to_json(options, name + " backend options");
  spec["name"] = name;
  return compile_options_from_json(json{{"backend", spec}}).backend;
}

DataMap merge_inputs(const py::object& params, const py::object& data) {
  DataMap inputs = to_data_map(params, "params");
  for (auto& [k, v] : to_data_map(data, "data")) {
    MI_CHECK(!inputs.count(k), ValueError, "[evaluate] key '{}' is given both in params and in data", k);
    inputs.emplace(k, std::move(v));
  }
  return inputs;
}

py::object evaluate(const PyPhysical& self, const py::object& params, const py::object& data,
                    const py::object& output_gradients) {
  const DataMap inputs = merge_inputs(params, data);
  if (output_gradients.is_none()) {
    DataMap out;
    {
      py::gil_scoped_release release;
      out = self.pm.evaluate(inputs);
    }
    return from_data_map(out);
  }
  const DataMap cotangents = to_data_map(output_gradients, "output_gradients");
  PhysicalModel::Result r;
  {
    py::gil_scoped_release release;
    r = self.pm.evaluate(inputs, cotangents);
  }
  return py::make_tuple(from_data_map(r.outputs), from_data_map(r.gradients));
}

DType numpy_precision(DType precision) { return precision == DType::bf16 ? DType::f32 : precision; }

// Seeded standard-normal values for every trainable key, shaped by the model's symbolic shapes
// and the `shapes` given to compile(); a key whose shape they leave open is named.
}  // namespace

py::dict randomize_params(const PyPhysical& self, uint64_t seed) {
  const auto shapes = logical::infer_missing_shapes(self.pm.flat_model(), self.shapes);
  std::vector<std::string> unknown;
  for (const std::string& k : self.pm.trainable_keys())
    if (!shapes.count(k) && !self.shapes.count(k)) unknown.push_back(k);
  MI_CHECK(unknown.empty(), ValueError,
           "[randomize_params] the shapes of {} are not determined by the model; give them in compile(shapes=...)",
           fmt::join(unknown, ", "));
  Rng rng(seed);
  py::dict out;
  for (const std::string& k : self.pm.trainable_keys()) {
    const Shape& shape = self.shapes.count(k) ? self.shapes.at(k) : shapes.at(k);
    std::vector<double> v(static_cast<size_t>(numel(shape)));
    for (double& x : v) x = rng.normal();
    out[py::str(k)] = to_numpy(Tensor::from_doubles(v, shape, numpy_precision(self.pm.precision())));
  }
  return out;
}

namespace {

ModelSummary summary_of(const PyPhysical& self) {
  py::gil_scoped_release release;
  return summarize(self.model, self.shapes);
}

py::dict shapes_of(const PyPhysical& self) {
  const ModelSummary s = summary_of(self);
  py::dict out;
  for (const ModelSummary::Key& k : s.keys) {
    if (!k.is_tensor) continue;
    if (k.shape) out[py::str(k.name)] = py::cast(*k.shape);
    else out[py::str(k.name)] = py::str(k.symbolic);
  }
  return out;
}

py::dict row_dict(const ProfileRow& r) {
  py::dict d;
  d["name"] = r.name;
  d["op"] = r.op;
  d["detail"] = r.detail;
  d["dtype"] = r.dtype;
  d["calls"] = r.calls;
  d["total_seconds"] = r.total_seconds;
  d["mean_seconds"] = r.mean_seconds;
  d["percent"] = r.percent;
  d["flops"] = r.flops;
  d["bytes"] = r.bytes;
  d["gflops_per_s"] = r.gflops_per_s;
  d["gb_per_s"] = r.gb_per_s;
  d["percent_peak_flops"] = r.percent_peak_flops;
  d["percent_peak_bandwidth"] = r.percent_peak_bandwidth;
  return d;
}

// execution_breakdown prints as the profiler's tables; its rows are dicts.
struct Breakdown {
  ProfileStats stats;
};

}  // namespace

void bind_runtime(py::module_& m) {
  py::class_<Backend, std::shared_ptr<Backend>>(m, "Backend")
      .def(py::init([](const std::string& name, const py::dict& options) {
             return std::const_pointer_cast<Backend>(backend_from_options(name, options));
           }),
           py::arg("name"), py::arg("options"))
      .def_property_readonly("name", [](const Backend& b) { return std::string(b.name()); })
      .def_property_readonly("precision", [](const Backend& b) { return std::string(precision_name(b.precision())); })
      .def_property_readonly("device", [](const Backend& b) { return b.options().device; })
      .def_property_readonly("devices", &Backend::devices)
      .def_property_readonly("mem_size", [](const Backend& b) { return b.options().mem_size; })
      .def_property_readonly("quantize", [](const Backend& b) { return b.options().quantize; });

  // The conformance cases Mithril skips upstream (its test suite's known failures), for the Python run.
  m.def("is_upstream_skipped", &conformance::is_upstream_skipped, py::arg("file"), py::arg("case_name"));
  m.def("backend_names", [] { return BackendRegistry::instance().names(); });
  m.def("backend_description", [](const std::string& name) { return BackendRegistry::instance().find(name).description; });

  py::class_<Breakdown>(m, "ExecutionBreakdown")
      .def_property_readonly("nodes",
                             [](const Breakdown& b) {
                               py::list l;
                               for (const auto& r : b.stats.execution_breakdown.nodes) l.append(row_dict(r));
                               return l;
                             })
      .def_property_readonly("op_types",
                             [](const Breakdown& b) {
                               py::list l;
                               for (const auto& r : b.stats.execution_breakdown.op_types) l.append(row_dict(r));
                               return l;
                             })
      .def("__str__", [](const Breakdown& b) { return format_profile(b.stats); })
      .def("__repr__", [](const Breakdown& b) { return format_profile(b.stats); });

  py::class_<ProfileStats>(m, "ProfileStats")
      .def_property_readonly("execution_breakdown", [](const ProfileStats& s) { return Breakdown{s}; })
      .def_readonly("runs", &ProfileStats::runs)
      .def_readonly("total_seconds", &ProfileStats::total_seconds)
      .def_readonly("kernel_seconds", &ProfileStats::kernel_seconds)
      .def_readonly("allocator_peak_bytes", &ProfileStats::allocator_peak_bytes)
      .def_readonly("planned_peak_bytes", &ProfileStats::planned_peak_bytes)
      .def("write_chrome_trace", [](const ProfileStats& s, const std::string& path) { write_chrome_trace(s, path); })
      .def("__str__", [](const ProfileStats& s) { return format_profile(s); });

  py::class_<PyPhysical>(m, "PhysicalModel")
      .def("evaluate", &evaluate, py::arg("params") = py::none(), py::arg("data") = py::none(),
           py::arg("output_gradients") = py::none())
      .def("randomize_params", &randomize_params, py::arg("seed") = 0)
      .def_property_readonly("shapes", &shapes_of)
      .def("summary_text", [](const PyPhysical& self) { return format_summary(summary_of(self)); })
      .def("get_profile_stats", [](const PyPhysical& self) { return self.pm.profile_stats(); })
      .def("reset_profile", [](const PyPhysical& self) { self.pm.reset_profile(); })
      .def("write_chrome_trace", [](const PyPhysical& self, const std::string& path) { write_chrome_trace(self.pm, path); })
      .def_property_readonly("input_keys", [](const PyPhysical& s) { return s.pm.input_keys(); })
      .def_property_readonly("output_keys", [](const PyPhysical& s) { return s.pm.output_keys(); })
      .def_property_readonly("trainable_keys", [](const PyPhysical& s) { return s.pm.trainable_keys(); })
      .def_property_readonly("discarded_keys", [](const PyPhysical& s) { return s.pm.discarded_keys(); })
      .def_property_readonly("static_keys", [](const PyPhysical& s) { return s.pm.static_keys(); })
      .def_property_readonly("precision", [](const PyPhysical& s) { return std::string(precision_name(s.pm.precision())); })
      .def_property_readonly("backend_name", [](const PyPhysical& s) { return std::string(s.pm.backend().name()); })
      .def_property_readonly("program_builds", [](const PyPhysical& s) { return s.pm.program_cache().builds; })
      .def_property_readonly("programs", [](const PyPhysical& s) { return s.pm.program_cache().programs; })
      // What building the program for these input shapes did: node counts around each pass, memory plan.
      .def("program_report",
           [](const PyPhysical& s, const py::dict& shapes, bool gradients) {
             std::map<std::string, Shape> in;
             for (auto [k, v] : shapes) in[py::str(k).cast<std::string>()] = v.cast<Shape>();
             ProgramReport r;
             {
               py::gil_scoped_release release;
               r = s.pm.program_report(in, gradients);
             }
             py::dict d;
             d["nodes"] = r.nodes;
             d["arena_bytes"] = r.arena_bytes;
             d["planned_peak_bytes"] = r.planned_peak_bytes;
             d["naive_bytes"] = r.naive_bytes;
             py::list passes;
             for (const auto& p : r.passes) passes.append(py::make_tuple(p.name, p.nodes_before, p.nodes_after));
             d["passes"] = passes;
             d["graph"] = r.graph;
             return d;
           },
           py::arg("shapes"), py::arg("gradients") = false)
      .def("planned_peak_bytes", [](const PyPhysical& s) { return s.pm.planned_peak_bytes(); });

  // options: ml.compile's keywords as JSON names (compile_options.h reads and checks them).
  m.def("compile",
        [](const logical::Model& model, std::shared_ptr<Backend> backend, const py::dict& options) {
          CompileOptions base;
          base.backend = backend;
          const CompileOptions opt = compile_options_from_json(to_json(options, "compile options"), base);
          py::gil_scoped_release release;
          PhysicalModel pm = compile(model, opt);
          return PyPhysical{std::move(pm), model, opt.shapes};
        },
        py::arg("model"), py::arg("backend"), py::arg("options"));

  py::class_<BenchmarkConfig>(m, "BenchmarkConfig")
      .def(py::init([](int warmup, int iterations, std::vector<std::string> metrics, std::string batch_key,
                       double warmup_seconds) {
             BenchmarkConfig c;
             c.warmup_iterations = warmup;
             c.warmup_seconds = warmup_seconds;
             c.benchmark_iterations = iterations;
             c.metrics = std::move(metrics);
             c.batch_key = std::move(batch_key);
             validate_benchmark_config(c);
             MI_CHECK(warmup >= 0 && iterations >= 1, ValueError,
                      "[BenchmarkConfig] needs warmup_iterations >= 0 and benchmark_iterations >= 1, got {} and {}",
                      warmup, iterations);
             return c;
           }),
           py::arg("warmup_iterations") = 3, py::arg("benchmark_iterations") = 20,
           py::arg("metrics") = std::vector<std::string>{"throughput", "latency", "memory_usage"},
           py::arg("batch_key") = "", py::arg("warmup_seconds") = BenchmarkConfig{}.warmup_seconds)
      .def_readonly("warmup_iterations", &BenchmarkConfig::warmup_iterations)
      .def_readonly("warmup_seconds", &BenchmarkConfig::warmup_seconds)
      .def_readonly("benchmark_iterations", &BenchmarkConfig::benchmark_iterations)
      .def_readonly("metrics", &BenchmarkConfig::metrics);

  py::class_<BenchmarkResult>(m, "BenchmarkResult")
      .def_readonly("batch_size", &BenchmarkResult::batch_size)
      .def_readonly("iterations", &BenchmarkResult::iterations)
      .def_readonly("throughput", &BenchmarkResult::throughput)
      // Seconds per call (the mean); latency_stats has the percentiles.
      .def_property_readonly("latency",
                             [](const BenchmarkResult& r) -> std::optional<double> {
                               if (!r.latency) return std::nullopt;
                               return r.latency->mean;
                             })
      .def_property_readonly("latency_stats",
                             [](const BenchmarkResult& r) -> py::object {
                               if (!r.latency) return py::none();
                               const LatencyStats& l = *r.latency;
                               py::dict d;
                               d["mean"] = l.mean;
                               d["p50"] = l.p50;
                               d["p90"] = l.p90;
                               d["p99"] = l.p99;
                               d["min"] = l.min;
                               d["max"] = l.max;
                               return d;
                             })
      // Bytes: the peak of live tensor memory during the timed calls (peak_rss_bytes: the process's).
      .def_property_readonly("memory_usage",
                             [](const BenchmarkResult& r) -> std::optional<int64_t> {
                               if (!r.memory_usage) return std::nullopt;
                               return r.memory_usage->peak_allocator_bytes;
                             })
      .def_property_readonly("peak_rss_bytes",
                             [](const BenchmarkResult& r) -> std::optional<int64_t> {
                               if (!r.memory_usage) return std::nullopt;
                               return r.memory_usage->peak_rss_bytes;
                             })
      .def("__str__", &format_benchmark_result);

  m.def("run_benchmark",
        [](const PyPhysical& model, const py::object& inputs, const BenchmarkConfig& config) {
          const DataMap data = to_data_map(inputs, "inputs");
          py::gil_scoped_release release;
          return run_benchmark(model.pm, data, config);
        },
        py::arg("model"), py::arg("inputs"), py::arg("config"));
}

}  // namespace mithril::python
