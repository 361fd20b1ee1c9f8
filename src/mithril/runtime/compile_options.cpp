#include "mithril/runtime/compile_options.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <optional>
#include <string_view>
#include <utility>

#include "mithril/core/error.h"
#include "mithril/io/json_tensor.h"

namespace mithril {
namespace {

using logical::json;

// Seed knobs (and Mithril compile arguments) this build does not have, with the reason users see. `off_ok`: the knob is a
// switch whose `false` asks for what compile() does anyway, so false is accepted (not ignored:
// it is honoured) and only true is rejected. The table is consulted at the top level and inside
// "backend", since the seed puts some knobs on the backend object and others on ml.compile.
struct Rejected {
  std::string_view name;
  bool off_ok;
  std::string_view reason;
};
constexpr Rejected kRejected[] = {
    {"jit_options", false,
     "JAX/PyTorch JIT settings (static_argnums, donate_argnums, torch.compile backend and mode) do not exist in C++; "
     "compile() specializes and caches one program per input signature by itself"},
    {"pjit", true, "partitioned JIT is JAX's multi-device compilation, not available in C++ (one CPU device)"},
    {"vectorize", true,
     "JAX's automatic vectorization (vmap) is not available in C++; the CPU kernels are vectorized (AVX2) anyway"},
    {"xla_optimization_level", false,
     "XLA is not available in C++; the graph passes are selected with 'optimizations' and 'graph_optimization'"},
    {"tpu_replicas", false, "TPUs are not available: this build has the CPU backend only"},
    {"torch_fx", true, "torch.fx is PyTorch-only; the graph passes are selected with 'optimizations'"},
    {"torch_dynamo", true, "TorchDynamo is PyTorch-only; the graph passes are selected with 'optimizations'"},
    {"cudnn_benchmark", true, "the cuDNN autotuner is CUDA-only and this build has no GPU backend"},
    {"enable_amp", true,
     "automatic mixed precision is CUDA-only (torch.cuda.amp) and this build has no GPU backend; "
     "bf16 mixed precision training is the Trainer's (mithril train --precision bf16)"},
    {"mixed_precision", true,
     "a compiled model runs in one dtype (backend precision); mixed precision (bf16 compute on float32 master "
     "weights) is a Trainer option: TrainerOptions::mixed_precision, mithril train --precision bf16"},
    {"target_hardware", false,
     "compiling for a named accelerator is not available: this build has the CPU backend only, whose kernels are "
     "picked at run time from the CPU's features (MITHRIL_ISA overrides)"},
    {"optimize_for", false,
     "there is no throughput/latency mode to select: compile() builds one program per input signature "
     "(mithril bench --batch-sizes finds the batch size for either)"},
    {"parallelism", false,
     "data, model and pipeline parallelism across devices are not available: this build runs on one CPU device, "
     "whose kernels use every thread of the pool (MITHRIL_NUM_THREADS)"},
    {"device_mesh", false, "device meshes are not available: this build runs on one CPU device"},
    {"tensor_split_dims", false, "splitting tensors across devices (model parallelism) is not available: one CPU device"},
    {"pipeline_stages", false, "pipeline parallelism is not available: this build runs on one CPU device"},
    {"pipeline_chunks", false, "pipeline parallelism is not available: this build runs on one CPU device"},
    {"quantize", false,
     "quantized (int8) kernels are not available: models compute in float64, float32, bfloat16 or float16 "
     "(backend precision)"},
    // Mithril's own compile arguments this build does not have.
    {"jacobian_keys", false,
     "full Jacobians are not available: evaluate() with output gradients returns vector-Jacobian products for the "
     "trainable keys"},
    {"file_path", false,
     "the CPU backend runs the graph itself and generates no code to write; mithril summary MODEL.json --shapes ... "
     "prints the optimized program"},
};

// Switches whose `true` is what compile() always does, so true is accepted and false, asking for
// a mode that does not exist, is rejected with the reason.
struct AlwaysOn {
  std::string_view name;
  std::string_view reason;
};
constexpr AlwaysOn kAlwaysOn[] = {
    {"pre_allocate",
     "the intermediates of every program are planned into one arena allocated when the program is built (at "
     "compile() under static_shapes); there is no allocate-per-op mode"},
};

// The accepted names, sorted, for the message on an unknown one.
constexpr std::string_view kTopLevel[] = {
    "backend", "constant_keys", "data_keys", "discard_keys", "graph_optimization", "inference", "jit", "mem_size",
    "optimizations", "peak_gbs", "peak_gflops", "pre_allocate", "profile", "safe_names", "safe_shapes", "shapes",
    "static_inference", "static_keys", "static_shapes", "static_types", "trainable_keys", "use_short_namings",
};
constexpr std::string_view kBackend[] = {"device", "dtype", "mem_size", "name", "pre_allocate", "precision", "quantize"};
constexpr std::string_view kOptimizations[] = {"common_subexpression", "constant_folding", "dead_code_elimination",
                                               "operator_fusion"};

[[noreturn]] void reject(const std::string& path, std::string_view reason) {
  MI_THROW(ValueError, "[compile options] '{}' is not supported: {}", path, reason);
}

[[noreturn]] void wrong_type(const std::string& path, std::string_view expected, const json& value) {
  MI_THROW(ValueError, "[compile options] '{}' must be {}, got {}", path, expected, value.dump());
}

// Handles the names of kRejected and kAlwaysOn: throws the rejection, or returns true when the
// value asks for what compile() does anyway (nothing to set); false for every other name.
bool fixed_behaviour_knob(std::string_view name, const std::string& path, const json& value) {
  for (const Rejected& r : kRejected) {
    if (r.name != name) continue;
    if (r.off_ok && value.is_boolean() && !value.get<bool>()) return true;
    reject(path, r.reason);
  }
  for (const AlwaysOn& a : kAlwaysOn) {
    if (a.name != name) continue;
    if (!value.is_boolean()) wrong_type(path, "a boolean", value);
    MI_CHECK(value.get<bool>(), ValueError, "[compile options] '{}' = false is not supported: {}", path, a.reason);
    return true;
  }
  return false;
}

template <size_t N>
[[noreturn]] void unknown(const std::string& what, const std::string& path, const std::string_view (&valid)[N]) {
  MI_THROW(KeyError, "[compile options] unknown {} '{}' (valid: {})", what, path, fmt::join(valid, ", "));
}

bool as_bool(const json& v, const std::string& path) {
  if (!v.is_boolean()) wrong_type(path, "a boolean", v);
  return v.get<bool>();
}

int64_t as_byte_count(const json& v, const std::string& path) {
  if (!v.is_number_integer() || v.get<int64_t>() < 0) wrong_type(path, "a non-negative integer (bytes)", v);
  return v.get<int64_t>();
}

double as_rate(const json& v, const std::string& path) {
  if (!v.is_number() || v.get<double>() < 0) wrong_type(path, "a non-negative number", v);
  return v.get<double>();
}

std::vector<std::string> as_key_list(const json& v, const std::string& path) {
  if (!v.is_array() || !std::all_of(v.begin(), v.end(), [](const json& x) { return x.is_string(); }))
    wrong_type(path, "a list of key names", v);
  return v.get<std::vector<std::string>>();
}

const json& as_object(const json& v, const std::string& path, std::string_view expected) {
  if (!v.is_object()) wrong_type(path, expected, v);
  return v;
}

Shape as_shape(const json& v, const std::string& path) {
  const auto dim_ok = [](const json& d) { return d.is_number_integer() && d.get<int64_t>() >= 0; };
  if (!v.is_array() || !std::all_of(v.begin(), v.end(), dim_ok))
    wrong_type(path, "a list of non-negative integer dims (static shapes have no symbolic or unknown dims)", v);
  return v.get<Shape>();
}

// backend.precision / backend.dtype: a float dtype by name.
DType as_precision(const json& v, const std::string& path) {
  constexpr std::string_view kExpected = "a float dtype name (float64, float32, bfloat16, float16)";
  if (!v.is_string()) wrong_type(path, kExpected, v);
  DType dtype = DType::f64;
  try {
    dtype = parse_dtype(v.get<std::string>());
  } catch (const DTypeError&) {
    wrong_type(path, kExpected, v);
  }
  if (!is_float(dtype)) wrong_type(path, kExpected, v);
  return dtype;
}

// What the JSON names of a backend set, applied once at the end so the backend checks them together.
struct BackendSpec {
  std::string name;
  BackendOptions options;
  std::optional<int64_t> mem_size;  // given at the top level or in "backend": both must agree
};

void set_mem_size(BackendSpec& spec, const json& v, const std::string& path) {
  const int64_t bytes = as_byte_count(v, path);
  MI_CHECK(!spec.mem_size || *spec.mem_size == bytes, ValueError,
           "[compile options] mem_size is given twice with different values: {} and {}", *spec.mem_size, bytes);
  spec.mem_size = spec.options.mem_size = bytes;
}

void apply_backend(const json& backend, BackendSpec& spec) {
  if (backend.is_string()) return apply_backend(json{{"name", backend}}, spec);
  as_object(backend, "backend", "an object such as {\"name\": \"cpu\", \"precision\": \"float32\"} or \"cpu\"");
  std::optional<DType> dtype_seen;
  std::string dtype_path;
  for (const auto& [name, v] : backend.items()) {
    const std::string path = "backend." + name;
    if (name == "quantize") {  // the backend says whether it has quantized kernels
      if (!v.is_string()) wrong_type(path, "a quantization format name (\"int8\", \"q8_0\", \"q4_0\", ...)", v);
      spec.options.quantize = v.get<std::string>();
      continue;
    }
    if (fixed_behaviour_knob(name, path, v)) continue;
    if (name == "name") {
      if (!v.is_string()) wrong_type(path, fmt::format("a backend name ({})", fmt::join(BackendRegistry::instance().names(), ", ")), v);
      try {
        spec.name = BackendRegistry::instance().find(v.get<std::string>()).name;
      } catch (const KeyError& e) {
        MI_THROW(ValueError, "[compile options] {}", e.what());
      }
    } else if (name == "device") {
      if (!v.is_string()) wrong_type(path, "a device name (\"cpu\")", v);
      spec.options.device = v.get<std::string>();
    } else if (name == "precision" || name == "dtype") {
      const DType dtype = as_precision(v, path);
      MI_CHECK(!dtype_seen || *dtype_seen == dtype, ValueError,
               "[compile options] {} and {} name different dtypes ({} and {})", dtype_path, path,
               dtype_name(*dtype_seen), dtype_name(dtype));
      dtype_seen = spec.options.precision = dtype;
      dtype_path = path;
    } else if (name == "mem_size") {
      set_mem_size(spec, v, path);
    } else {
      unknown("backend option", path, kBackend);
    }
  }
}

void apply_optimizations(const json& v, CompileOptions::Optimizations& opt) {
  as_object(v, "optimizations", "an object of booleans");
  for (const auto& [name, flag] : v.items()) {
    const std::string path = "optimizations." + name;
    if (name == "constant_folding") opt.constant_folding = as_bool(flag, path);
    else if (name == "operator_fusion") opt.operator_fusion = as_bool(flag, path);
    else if (name == "dead_code_elimination") opt.dead_code_elimination = as_bool(flag, path);
    else if (name == "common_subexpression") opt.common_subexpression = as_bool(flag, path);
    else unknown("optimization", path, kOptimizations);
  }
}

void add_constant_keys(const json& v, const std::string& path, CompileOptions& o) {
  as_object(v, path, "an object {key: value}");
  for (const auto& [key, value] : v.items()) {
    MI_CHECK(!o.constant_keys.count(key), ValueError,
             "[compile options] key '{}' is given twice in constant_keys/static_keys", key);
    o.constant_keys[key] = value;
  }
}

}  // namespace

CompileOptions compile_options_from_json(const json& options, CompileOptions base) {
  as_object(options, "compile options", "a JSON object {option: value}");
  CompileOptions o = std::move(base);
  BackendSpec backend{std::string(o.backend_or_default().name()), o.backend_or_default().options(), std::nullopt};
  for (const auto& [name, v] : options.items()) {
    if (fixed_behaviour_knob(name, name, v)) continue;
    if (name == "inference") o.inference = as_bool(v, name);
    else if (name == "static_inference") o.static_inference = as_bool(v, name);
    else if (name == "static_shapes") o.static_shapes = as_bool(v, name);
    else if (name == "static_types") o.static_types = as_bool(v, name);
    else if (name == "profile") o.profile = as_bool(v, name);
    else if (name == "jit") o.jit = as_bool(v, name);
    else if (name == "safe_shapes") o.safe_shapes = as_bool(v, name);
    else if (name == "safe_names") o.safe_names = as_bool(v, name);
    else if (name == "use_short_namings") o.use_short_namings = as_bool(v, name);
    else if (name == "graph_optimization") o.graph_optimization = as_bool(v, name);
    else if (name == "peak_gflops") o.peak_gflops = as_rate(v, name);
    else if (name == "peak_gbs") o.peak_gbs = as_rate(v, name);
    else if (name == "mem_size") set_mem_size(backend, v, name);
    else if (name == "optimizations") apply_optimizations(v, o.optimizations);
    else if (name == "backend") apply_backend(v, backend);
    else if (name == "constant_keys" || name == "static_keys") add_constant_keys(v, name, o);
    else if (name == "discard_keys") o.discard_keys = as_key_list(v, name);
    else if (name == "trainable_keys") o.trainable_keys = as_key_list(v, name);
    else if (name == "data_keys") o.data_keys = as_key_list(v, name);
    else if (name == "shapes") {
      as_object(v, name, "an object {key: [dims]}");
      for (const auto& [key, dims] : v.items()) o.shapes[key] = as_shape(dims, "shapes." + key);
    } else {
      unknown("option", name, kTopLevel);
    }
  }
  try {
    o.backend = make_backend(backend.name, backend.options);
  } catch (const ValueError& e) {
    MI_THROW(ValueError, "[compile options] {}", e.what());
  }
  return o;
}

json compile_options_to_json(const CompileOptions& o) {
  json j;
  const Backend& backend = o.backend_or_default();
  j["backend"] = {{"name", backend.name()}, {"device", backend.options().device},
                  {"precision", precision_name(backend.precision())}};
  if (!backend.options().quantize.empty()) j["backend"]["quantize"] = backend.options().quantize;
  j["inference"] = o.inference;
  j["static_inference"] = o.static_inference;
  j["static_shapes"] = o.static_shapes;
  j["static_types"] = o.static_types;
  j["jit"] = o.jit;
  j["safe_shapes"] = o.safe_shapes;
  j["safe_names"] = o.safe_names;
  j["use_short_namings"] = o.use_short_namings;
  j["shapes"] = json::object();
  for (const auto& [key, shape] : o.shapes) j["shapes"][key] = shape;
  j["mem_size"] = o.mem_size();
  j["profile"] = o.profile;
  j["peak_gflops"] = o.peak_gflops;
  j["peak_gbs"] = o.peak_gbs;
  j["optimizations"] = {{"constant_folding", o.optimizations.constant_folding},
                        {"operator_fusion", o.optimizations.operator_fusion},
                        {"dead_code_elimination", o.optimizations.dead_code_elimination},
                        {"common_subexpression", o.optimizations.common_subexpression}};
  j["graph_optimization"] = o.graph_optimization;
  json constants = json::object();
  for (const auto& [key, value] : o.constant_keys) constants[key] = value;
  for (const auto& [key, data] : o.constant_tensors) {
    if (!data.is_list) {
      constants[key] = io::tensor_to_json(data.tensor);
      continue;
    }
    json list = json::array();
    for (const Tensor& t : data.list) list.push_back(io::tensor_to_json(t));
    constants[key] = list;
  }
  j["constant_keys"] = constants;
  j["discard_keys"] = o.discard_keys;
  j["trainable_keys"] = o.trainable_keys;
  j["data_keys"] = o.data_keys;
  return j;
}

CompileOptions load_compile_options(const std::string& text, CompileOptions base) {
  const auto first = std::find_if_not(text.begin(), text.end(), [](unsigned char c) { return std::isspace(c); });
  const bool inline_json = first != text.end() && *first == '{';
  std::string source = text;
  if (!inline_json) {
    std::ifstream f(text);
    MI_CHECK(f.good(), ValueError, "[compile options] cannot read options file '{}'", text);
    source.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  json parsed;
  try {
    parsed = json::parse(source);
  } catch (const json::parse_error& e) {
    MI_THROW(ValueError, "[compile options] {} is not valid JSON: {}",
             inline_json ? std::string("inline JSON") : fmt::format("'{}'", text), e.what());
  }
  return compile_options_from_json(parsed, std::move(base));
}

}  // namespace mithril
