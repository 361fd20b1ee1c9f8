#include "mithril/runtime/compile_options.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <string_view>
#include <utility>

#include "mithril/core/checked.h"
#include "mithril/core/error.h"
#include "mithril/io/file.h"
#include "mithril/io/json_parse.h"
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
     "weights) is training a bf16-compiled model from float32 parameters (mithril train --precision bf16)"},
    {"optimize_for", false,
     "there is no throughput/latency mode to select: compile() builds one program per input signature "
     "(mithril bench --batch-sizes finds the batch size for either)"},
    {"tensor_split_dims", false,
     "splitting tensors across ranks (model parallelism) is not available in this build: parallelism \"data\" is"},
    {"pipeline_stages", false, "pipeline parallelism is not available in this build: parallelism \"data\" is"},
    {"pipeline_chunks", false, "pipeline parallelism is not available in this build: parallelism \"data\" is"},
    {"quantize", false,
     "quantization is a backend option: {\"backend\": {\"name\": \"ggml\", \"quantize\": \"q8_0\"}} (formats: int8, "
     "q8_0, q4_0)"},
    // Mithril's own compile arguments this build does not have.
    {"jacobian_keys", false,
     "full Jacobians are not available: evaluate() with output gradients returns vector-Jacobian products for the "
     "trainable keys"},
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

// JSON names that set part of another option.
struct Alias {
  std::string_view name, target, doc;
};
constexpr Alias kAliases[] = {
    {"static_keys", "constant_keys", "Mithril's other name of `constant_keys`"},
    {"graph_optimization", "optimizations.graph_optimization",
     "algebraic simplification, transpose/reshape folding (a pass switch beside `optimizations`)"},
    {"mem_size", "backend.mem_size",
     "cap in bytes on a program's planned peak (arena + outputs); over it `compile()`/`evaluate()` fails"},
};

// Every accepted top-level name, sorted, for the message on an unknown one.
std::vector<std::string_view> top_level_names() {
  std::vector<std::string_view> names = {
#define MI_OPTION(name, Type, default_value, consumer, doc) #name,
#include "mithril/runtime/compile_options.def"
#undef MI_OPTION
  };
  for (const Alias& a : kAliases) names.push_back(a.name);
  for (const AlwaysOn& a : kAlwaysOn) names.push_back(a.name);
  std::sort(names.begin(), names.end());
  return names;
}

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

template <class Names>
[[noreturn]] void unknown(const std::string& what, const std::string& path, const Names& valid) {
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
  const Shape shape = v.get<Shape>();
  checked_numel(shape, fmt::format("[compile options] '{}'", path));
  return shape;
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

void apply_optimizations(const json& v, PassOptions& opt) {
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

// jit_options: the keys backend jit has, and the JAX/PyTorch ones named with what does their job.
constexpr std::string_view kJitOptions[] = {"cache_dir", "donate", "donate_argnums", "fallback", "mode"};
void apply_jit_options(const json& v, JitOptions& out) {
  as_object(v, "jit_options", "an object such as {\"mode\": \"max-autotune\"}");
  for (const auto& [name, x] : v.items()) {
    const std::string path = "jit_options." + name;
    if (name == "mode") {
      constexpr std::string_view modes[] = {"default", "max-autotune", "reduce-overhead"};
      const bool ok = x.is_string() && std::find(std::begin(modes), std::end(modes), x.get<std::string>()) != std::end(modes);
      if (!ok) wrong_type(path, "one of \"default\", \"max-autotune\", \"reduce-overhead\"", x);
      out.mode = x.get<std::string>();
    } else if (name == "donate" || name == "donate_argnums") {
      // Positions mean nothing to a program whose inputs are keys: donation is by key name.
      if (!x.is_array() || !std::all_of(x.begin(), x.end(), [](const json& k) { return k.is_string(); }))
        wrong_type(path, "a list of input key names (inputs are named here, not numbered)", x);
      out.donate = x.get<std::vector<std::string>>();
    } else if (name == "cache_dir") {
      if (!x.is_string() || x.get<std::string>().empty()) wrong_type(path, "a directory path", x);
      out.cache_dir = x.get<std::string>();
    } else if (name == "fallback") {
      out.fallback = as_bool(x, path);
    } else if (name == "static_argnums" || name == "static_argnames") {
      reject(path, "JAX's static arguments have no counterpart: every program is specialized to the shapes and dtypes of "
                   "its inputs, and values fixed at compile time are 'constant_keys'");
    } else if (name == "backend") {
      reject(path, "torch.compile's backend (inductor, ...) is PyTorch-only; here the backend is the top-level "
                   "'backend' option, and {\"backend\": \"jit\"} generates and compiles C++");
    } else if (name == "fullgraph" || name == "dynamic") {
      reject(path, "torch.compile's graph-break and dynamic-shape switches do not apply: a program is always the whole "
                   "graph, specialized per input signature ('jit' caches one per signature)");
    } else {
      unknown("jit option", path, kJitOptions);
    }
  }
}

// One read_option() per option type: checks the JSON value and stores it in the field.
void read_option(const json& v, const std::string& path, bool& out) { out = as_bool(v, path); }
void read_option(const json& v, const std::string& path, double& out) { out = as_rate(v, path); }
void read_option(const json& v, const std::string& path, KeyList& out) { out = as_key_list(v, path); }
void read_option(const json& v, const std::string& path, ConstantKeys& out) {
  as_object(v, path, "an object {key: value}");
  for (const auto& [key, value] : v.items()) {
    MI_CHECK(!out.count(key), ValueError, "[compile options] key '{}' is given twice in constant_keys/static_keys",
             key);
    out[key] = value;
  }
}
void read_option(const json& v, const std::string& path, ShapeMap& out) {
  as_object(v, path, "an object {key: [dims]}");
  for (const auto& [key, dims] : v.items()) out[key] = as_shape(dims, path + "." + key);
}
void read_option(const json& v, const std::string& path, PassOptions& out) { apply_optimizations(v, out); }
void read_option(const json& v, const std::string& path, std::string& out) {
  if (!v.is_string()) wrong_type(path, "a string (a file path)", v);
  out = v.get<std::string>();
}
void read_option(const json& v, const std::string& path, JitOptions& out) { apply_jit_options(v, out); }
void read_option(const json& v, const std::string& path, TargetHardware& out) {
  if (!v.is_string()) wrong_type(path, "a level name (native, baseline, x86-64-v2, x86-64-v3, avx2, x86-64-v4, avx512, amx)", v);
  out.name = v.get<std::string>();
  (void)target_isa_level(out);  // an unknown name or a level this machine lacks fails here, naming it
}
void read_option(const json& v, const std::string& path, Parallelism& out) {
  if (!v.is_string()) wrong_type(path, "\"none\" or \"data\"", v);
  const std::string p = v.get<std::string>();
  if (p == "none") out = Parallelism::none;
  else if (p == "data") out = Parallelism::data;
  else if (p == "model" || p == "pipeline")
    MI_THROW(ValueError,
             "[compile options] {} \"{}\" is not available in this build: model (tensor) and pipeline parallelism are "
             "not implemented; \"data\" (data parallelism over MPI ranks) is",
             path, p);
  else wrong_type(path, "\"none\" or \"data\"", v);
}
void read_option(const json& v, const std::string& path, MeshDims& out) {
  const auto dim_ok = [](const json& d) { return d.is_number_integer() && d.get<int64_t>() >= 1; };
  if (!v.is_array() || v.size() > 2 || !std::all_of(v.begin(), v.end(), dim_ok))
    wrong_type(path, "[n] or [data, model] with dims >= 1", v);
  out = v.get<MeshDims>();
  MI_CHECK(out.size() < 2 || out[1] == 1, ValueError,
           "[compile options] '{}' = [{}, {}] splits each replica over {} ranks: model parallelism is not available in "
           "this build (use [{}] for data parallelism)",
           path, out[0], out[1], out[1], out[0] * out[1]);
}

// The backend is built once at the end, from the backend object and a top-level mem_size.
template <class T>
void read_field(const json& v, const std::string& path, T& field, BackendSpec&) {
  read_option(v, path, field);
}
void read_field(const json& v, const std::string&, BackendPtr&, BackendSpec& spec) { apply_backend(v, spec); }

// The field's value as JSON, in the form read_option() reads.
json write_option(bool v) { return v; }
json write_option(double v) { return v; }
json write_option(const KeyList& v) { return v; }
json write_option(const ConstantKeys& v) {
  json j = json::object();
  for (const auto& [key, value] : v) j[key] = value;
  return j;
}
json write_option(const ShapeMap& v) {
  json j = json::object();
  for (const auto& [key, shape] : v) j[key] = shape;
  return j;
}
json write_option(Parallelism v) { return std::string(parallelism_name(v)); }
json write_option(const MeshDims& v) { return v; }
json write_option(const PassOptions& v) {
  return {{"constant_folding", v.constant_folding},
          {"operator_fusion", v.operator_fusion},
          {"dead_code_elimination", v.dead_code_elimination},
          {"common_subexpression", v.common_subexpression}};
}
json write_option(const std::string& v) { return v; }
json write_option(const JitOptions& v) {
  json j = {{"mode", v.mode}, {"donate", v.donate}};
  if (!v.cache_dir.empty()) j["cache_dir"] = v.cache_dir;
  if (v.fallback) j["fallback"] = true;
  return j;
}
json write_option(const TargetHardware& v) { return v.name; }
json write_option(const BackendPtr& v) {
  const Backend& b = v ? *v : *default_backend();
  json j = {{"name", b.name()}, {"device", b.options().device}, {"precision", precision_name(b.precision())}};
  if (b.options().mem_size > 0) j["mem_size"] = b.options().mem_size;
  if (!b.options().quantize.empty()) j["quantize"] = b.options().quantize;
  return j;
}

// The kind of JSON value an option takes, for README's table.
std::string_view type_of(const bool*) { return "boolean"; }
std::string_view type_of(const double*) { return "number"; }
std::string_view type_of(const KeyList*) { return "[keys]"; }
std::string_view type_of(const ConstantKeys*) { return "{key: value}"; }
std::string_view type_of(const ShapeMap*) { return "{key: [dims]}"; }
std::string_view type_of(const PassOptions*) { return "{pass: boolean}"; }
std::string_view type_of(const Parallelism*) { return "\"none\" or \"data\""; }
std::string_view type_of(const MeshDims*) { return "[dims]"; }
std::string_view type_of(const BackendPtr*) { return "object or name"; }
std::string_view type_of(const std::string*) { return "string"; }
std::string_view type_of(const JitOptions*) { return "object"; }
std::string_view type_of(const TargetHardware*) { return "string"; }

}  // namespace

std::string_view parallelism_name(Parallelism p) { return p == Parallelism::data ? "data" : "none"; }

CompileOptions compile_options_from_json(const json& options, CompileOptions base) {
  as_object(options, "compile options", "a JSON object {option: value}");
  CompileOptions o = std::move(base);
  BackendSpec backend{std::string(o.backend_or_default().name()), o.backend_or_default().options(), std::nullopt};
  for (const auto& [name, v] : options.items()) {
    if (fixed_behaviour_knob(name, name, v)) continue;
    if (false) {
    }
#define MI_OPTION(field, Type, default_value, consumer, doc) \
    else if (name == #field) read_field(v, name, o.field, backend);
#include "mithril/runtime/compile_options.def"
#undef MI_OPTION
    else if (name == "static_keys") read_option(v, name, o.constant_keys);
    else if (name == "graph_optimization") o.optimizations.graph_optimization = as_bool(v, name);
    else if (name == "mem_size") set_mem_size(backend, v, name);
    else unknown("option", name, top_level_names());
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
#define MI_OPTION(field, Type, default_value, consumer, doc) j[#field] = write_option(o.field);
#include "mithril/runtime/compile_options.def"
#undef MI_OPTION
  j["graph_optimization"] = o.optimizations.graph_optimization;
  for (const auto& [key, data] : o.constant_tensors) {  // C++-only tensors join constant_keys as nested lists
    if (!data.is_list) {
      j["constant_keys"][key] = io::tensor_to_json(data.tensor);
      continue;
    }
    json list = json::array();
    for (const Tensor& t : data.list) list.push_back(io::tensor_to_json(t));
    j["constant_keys"][key] = list;
  }
  return j;
}

std::string compile_options_markdown() {
  std::string out = "| option | value | default | consumer | effect |\n|---|---|---|---|---|\n";
  const CompileOptions defaults;
#define MI_OPTION(field, Type, default_value, consumer, doc)                                                      \
  out += fmt::format("| `{}` | {} | `{}` | {} | {} |\n", #field, type_of(static_cast<const Type*>(nullptr)),     \
                     write_option(defaults.field).dump(), consumer, doc);
#include "mithril/runtime/compile_options.def"
#undef MI_OPTION
  for (const Alias& a : kAliases) out += fmt::format("| `{}` | as `{}` | | | {} |\n", a.name, a.target, a.doc);
  for (const AlwaysOn& a : kAlwaysOn)
    out += fmt::format("| `{}` | `true` only | `true` | | {} |\n", a.name, a.reason);
  out += "\nRejected with a `ValueError` naming the option and the reason (a switch marked off-ok accepts `false`, "
         "which asks for what `compile()` does anyway):\n\n| option | off-ok | why |\n|---|---|---|\n";
  for (const Rejected& r : kRejected)
    out += fmt::format("| `{}` | {} | {} |\n", r.name, r.off_ok ? "yes" : "", r.reason);
  return out;
}

CompileOptions load_compile_options(const std::string& text, CompileOptions base) {
  const auto first = std::find_if_not(text.begin(), text.end(), [](unsigned char c) { return std::isspace(c); });
  const bool inline_json = first != text.end() && *first == '{';
  std::string source = text;
  if (!inline_json) source = io::read_file(text, "compile options");
  const json parsed = io::parse_ordered_json(
      source, inline_json ? std::string("[compile options] inline JSON") : fmt::format("[compile options] '{}'", text));
  return compile_options_from_json(parsed, std::move(base));
}

}  // namespace mithril
