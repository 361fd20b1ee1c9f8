// CompileOptions by name (compile_options.h): every accepted ml.compile name lands in its field,
// every seed knob this build lacks is rejected with its exact message, unknown names and wrong
// value types name the option, and to_json/from_json round-trip.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <iterator>

#include "mithril/core/error.h"
#include "mithril/logical/model_dict.h"
#include "mithril/runtime/compile_options.h"
#include "support/error_of.h"
#include "support/example_model.h"

namespace mithril {
namespace {

using logical::json;
using testing::error_of;

CompileOptions parse(const char* text) { return compile_options_from_json(json::parse(text)); }

template <typename E = ValueError>
std::string error_parsing(const char* text) {
  return error_of<E>([&] { (void)parse(text); });
}

TEST(CompileOptionsFromJson, EmptyObjectGivesTheDefaults) {
  const CompileOptions o = parse("{}");
  const CompileOptions d;
  EXPECT_EQ(o.inference, d.inference);
  EXPECT_EQ(o.precision(), d.precision());
  EXPECT_EQ(o.mem_size(), d.mem_size());
  EXPECT_TRUE(o.optimizations.constant_folding && o.optimizations.operator_fusion &&
              o.optimizations.dead_code_elimination && o.optimizations.common_subexpression && o.optimizations.graph_optimization);
  EXPECT_TRUE(o.shapes.empty() && o.constant_keys.empty() && o.discard_keys.empty() && o.trainable_keys.empty());
}

TEST(CompileOptionsFromJson, EveryAcceptedOptionMapsToItsField) {
  const CompileOptions o = parse(R"({
    "inference": true, "static_inference": true, "static_shapes": true, "static_types": true,
    "shapes": {"x": [32, 128], "s": []}, "mem_size": 4294967296, "profile": true,
    "peak_gflops": 100.5, "peak_gbs": 20,
    "optimizations": {"constant_folding": false, "operator_fusion": false,
                      "dead_code_elimination": false, "common_subexpression": false},
    "graph_optimization": false, "jit": true, "pre_allocate": true,
    "constant_keys": {"axis": 1}, "static_keys": {"c": [[1, 2]]},
    "discard_keys": ["d1", "d2"], "trainable_keys": ["t"], "data_keys": ["x"],
    "safe_shapes": true, "safe_names": true, "use_short_namings": true,
    "backend": {"name": "cpu", "device": "cpu", "precision": "bfloat16", "pre_allocate": true}})");
  EXPECT_TRUE(o.inference);
  EXPECT_TRUE(o.static_inference);
  EXPECT_TRUE(o.static_shapes);
  EXPECT_TRUE(o.static_types);
  EXPECT_EQ(o.shapes, (std::map<std::string, Shape>{{"x", {32, 128}}, {"s", {}}}));
  EXPECT_EQ(o.mem_size(), int64_t{4294967296});
  EXPECT_TRUE(o.profile);
  EXPECT_DOUBLE_EQ(o.peak_gflops, 100.5);
  EXPECT_DOUBLE_EQ(o.peak_gbs, 20);
  EXPECT_FALSE(o.optimizations.constant_folding);
  EXPECT_FALSE(o.optimizations.operator_fusion);
  EXPECT_FALSE(o.optimizations.dead_code_elimination);
  EXPECT_FALSE(o.optimizations.common_subexpression);
  EXPECT_FALSE(o.optimizations.graph_optimization);
  ASSERT_EQ(o.constant_keys.size(), 2u);
  EXPECT_EQ(o.constant_keys.at("axis"), json(1));
  EXPECT_EQ(o.constant_keys.at("c"), json::parse("[[1, 2]]"));
  EXPECT_EQ(o.discard_keys, (std::vector<std::string>{"d1", "d2"}));
  EXPECT_EQ(o.trainable_keys, (std::vector<std::string>{"t"}));
  EXPECT_EQ(o.data_keys, (std::vector<std::string>{"x"}));
  EXPECT_EQ(o.precision(), DType::bf16);
  EXPECT_TRUE(o.jit && o.safe_shapes && o.safe_names && o.use_short_namings);
}

TEST(CompileOptionsFromJson, PrecisionNamesAndBackendForms) {
  EXPECT_EQ(parse(R"({"backend": {"precision": "float64"}})").precision(), DType::f64);
  EXPECT_EQ(parse(R"({"backend": {"precision": "float32"}})").precision(), DType::f32);
  EXPECT_EQ(parse(R"({"backend": {"precision": "bfloat16"}})").precision(), DType::bf16);
  EXPECT_EQ(parse(R"({"backend": {"precision": "float16"}})").precision(), DType::f16);
  EXPECT_EQ(parse(R"({"backend": {"dtype": "f32"}})").precision(), DType::f32);  // Mithril's backend dtype=
  EXPECT_EQ(parse(R"({"backend": {"dtype": "f32", "precision": "float32"}})").precision(), DType::f32);
  EXPECT_EQ(parse(R"({"backend": "cpu"})").precision(), DType::f64);
  EXPECT_EQ(parse(R"({"backend": {"mem_size": 1024}})").mem_size(), 1024);
  EXPECT_EQ(parse(R"({"backend": {"mem_size": 1024}, "mem_size": 1024})").mem_size(), 1024);
  EXPECT_EQ(error_parsing(R"({"backend": {"dtype": "f32", "precision": "float16"}})"),
            "[compile options] backend.dtype and backend.precision name different dtypes (f32 and f16)");
  EXPECT_EQ(error_parsing(R"({"mem_size": 1, "backend": {"mem_size": 2}})"),
            "[compile options] mem_size is given twice with different values: 1 and 2");
  EXPECT_EQ(error_parsing(R"({"static_keys": {"a": 1}, "constant_keys": {"a": 2}})"),
            "[compile options] key 'a' is given twice in constant_keys/static_keys");
}

TEST(CompileOptionsFromJson, SwitchesOffAreAcceptedForKnobsWeDoNotHave) {
  // false asks for what compile() does anyway: honoured, not ignored.
  const CompileOptions o = parse(R"({"pjit": false, "vectorize": false, "torch_fx": false, "torch_dynamo": false,
      "mixed_precision": false, "backend": {"cudnn_benchmark": false, "enable_amp": false}})");
  EXPECT_EQ(o.precision(), DType::f64);
}

// Every seed knob this build does not have, with the message users see.
TEST(CompileOptionsFromJson, RejectedSeedKnobsNameTheOptionAndTheReason) {
  const std::pair<const char*, std::string> cases[] = {
      {R"({"jit_options": {"static_argnums": [0, 1]}})",
       "'jit_options.static_argnums' is not supported: JAX's static arguments have no counterpart: every program is "
       "specialized to the shapes and dtypes of its inputs, and values fixed at compile time are 'constant_keys'"},
      {R"({"jit_options": {"backend": "inductor"}})",
       "'jit_options.backend' is not supported: torch.compile's backend (inductor, ...) is PyTorch-only; here the "
       "backend is the top-level 'backend' option, and {\"backend\": \"jit\"} generates and compiles C++"},
      {R"({"pjit": true})",
       "'pjit' is not supported: partitioned JIT is JAX's multi-device compilation, not available in C++ (one CPU "
       "device)"},
      {R"({"vectorize": true})",
       "'vectorize' is not supported: JAX's automatic vectorization (vmap) is not available in C++; the CPU kernels "
       "are vectorized (AVX2) anyway"},
      {R"({"xla_optimization_level": 3})",
       "'xla_optimization_level' is not supported: XLA is not available in C++; the graph passes are selected with "
       "'optimizations' and 'graph_optimization'"},
      {R"({"tpu_replicas": 8})", "'tpu_replicas' is not supported: TPUs are not available: this build has the CPU "
                                 "backend only"},
      {R"({"torch_fx": true})",
       "'torch_fx' is not supported: torch.fx is PyTorch-only; the graph passes are selected with 'optimizations'"},
      {R"({"torch_dynamo": true})",
       "'torch_dynamo' is not supported: TorchDynamo is PyTorch-only; the graph passes are selected with "
       "'optimizations'"},
      {R"({"mixed_precision": true})",
       "'mixed_precision' is not supported: a compiled model runs in one dtype (backend precision); mixed precision "
       "(bf16 compute on float32 master weights) is training a bf16-compiled model from float32 parameters "
       "(mithril train --precision bf16)"},
      // An accelerator name is no ISA level (tests/runtime/target_hardware_test.cpp tests the option).
      {R"({"target_hardware": "nvidia_a100"})",
       "target_hardware='nvidia_a100' is not one of native, baseline, x86-64-v2, x86-64-v3 (avx2), x86-64-v4 "
       "(avx512), amx"},
      {R"({"optimize_for": "throughput"})",
       "'optimize_for' is not supported: there is no throughput/latency mode to select: compile() builds one program "
       "per input signature (mithril bench --batch-sizes finds the batch size for either)"},
      {R"({"parallelism": "model"})",
       "parallelism \"model\" is not available in this build: model (tensor) and pipeline parallelism are not "
       "implemented; \"data\" (data parallelism over MPI ranks) is"},
      {R"({"parallelism": "pipeline"})",
       "parallelism \"pipeline\" is not available in this build: model (tensor) and pipeline parallelism are not "
       "implemented; \"data\" (data parallelism over MPI ranks) is"},
      {R"({"device_mesh": [2, 2]})",
       "'device_mesh' = [2, 2] splits each replica over 2 ranks: model parallelism is not available in this build "
       "(use [4] for data parallelism)"},
      {R"({"tensor_split_dims": {"weights": 1}})",
       "'tensor_split_dims' is not supported: splitting tensors across ranks (model parallelism) is not available "
       "in this build: parallelism \"data\" is"},
      {R"({"pipeline_stages": 4})",
       "'pipeline_stages' is not supported: pipeline parallelism is not available in this build: parallelism "
       "\"data\" is"},
      {R"({"pipeline_chunks": 8})",
       "'pipeline_chunks' is not supported: pipeline parallelism is not available in this build: parallelism "
       "\"data\" is"},
      {R"({"quantize": "int8"})",
       "'quantize' is not supported: quantization is a backend option: {\"backend\": {\"name\": \"ggml\", "
       "\"quantize\": \"q8_0\"}} (formats: int8, q8_0, q4_0)"},
      {R"({"backend": {"quantize": "int8"}})",
       "[backend cpu] quantize 'int8' is not available: this backend computes in floating point only (float64, "
       "float32, bfloat16, float16)"},
      {R"({"jacobian_keys": ["w"]})",
       "'jacobian_keys' is not supported: full Jacobians are not available: evaluate() with output gradients "
       "returns vector-Jacobian products for the trainable keys"},
      {R"({"pre_allocate": false})",
       "'pre_allocate' = false is not supported: the intermediates of every program are planned into one arena "
       "allocated when the program is built (at compile() under static_shapes); there is no allocate-per-op mode"},
      {R"({"backend": {"pre_allocate": false}})",
       "'backend.pre_allocate' = false is not supported: the intermediates of every program are planned into one "
       "arena allocated when the program is built (at compile() under static_shapes); there is no allocate-per-op "
       "mode"},
      {R"({"backend": {"cudnn_benchmark": true}})",
       "'backend.cudnn_benchmark' is not supported: the cuDNN autotuner is CUDA-only and this build has no GPU "
       "backend"},
      {R"({"backend": {"enable_amp": true}})",
       "'backend.enable_amp' is not supported: automatic mixed precision is CUDA-only (torch.cuda.amp) and this "
       "build has no GPU backend; bf16 mixed precision training is the Trainer's (mithril train --precision bf16)"},
      {R"({"backend": {"device": "cuda"}})",
       "[backend cpu] device 'cuda' is not available: this build has no GPU or TPU backend (devices: cpu)"},
      {R"({"backend": {"device": "gpu"}})",
       "[backend cpu] device 'gpu' is not available: this build has no GPU or TPU backend (devices: cpu)"},
      {R"({"backend": {"device": "tpu"}})",
       "[backend cpu] device 'tpu' is not available: this build has no GPU or TPU backend (devices: cpu)"},
      {R"({"backend": {"device": "cuda:1"}})",
       "[backend cpu] device 'cuda:1' is not available: this build has no GPU or TPU backend (devices: cpu)"},
      {R"({"backend": {"device": "fpga"}})",
       "[backend cpu] device 'fpga' is not available: not a device of this backend (devices: cpu)"},
      {R"({"backend": {"name": "jax"}})",
       "backend 'jax' is not available in this build (backends: cpu, reference, ggml, jit)"},
      {R"({"backend": "torch"})",
       "backend 'torch' is not available in this build (backends: cpu, reference, ggml, jit)"},
  };
  for (const auto& [text, message] : cases)
    EXPECT_EQ(error_parsing(text), "[compile options] " + message) << text;
}

TEST(CompileOptionsFromJson, UnknownNamesAreKeyErrorsListingTheValidOnes) {
  EXPECT_EQ(error_parsing<KeyError>(R"({"infrence": true})"),
            "[compile options] unknown option 'infrence' (valid: backend, check_numerics, constant_keys, data_keys, deterministic, device_mesh, discard_keys, file_path, graph_optimization, inference, jit, jit_options, mem_size, optimizations, parallelism, peak_gbs, peak_gflops, pre_allocate, profile, safe_names, safe_shapes, shapes, static_inference, static_keys, static_shapes, static_types, target_hardware, trainable_keys, use_short_namings)");
  EXPECT_EQ(error_parsing<KeyError>(R"({"jit_options": {"modes": "default"}})"),
            "[compile options] unknown jit option 'jit_options.modes' (valid: cache_dir, donate, donate_argnums, "
            "fallback, mode)");
  EXPECT_EQ(error_parsing<KeyError>(R"({"optimizations": {"loop_unrolling": true}})"),
            "[compile options] unknown optimization 'optimizations.loop_unrolling' (valid: common_subexpression, "
            "constant_folding, dead_code_elimination, operator_fusion)");
  EXPECT_EQ(error_parsing<KeyError>(R"({"backend": {"precison": "float32"}})"),
            "[compile options] unknown backend option 'backend.precison' (valid: device, dtype, mem_size, name, "
            "pre_allocate, precision, quantize)");
}

TEST(CompileOptionsFromJson, WrongTypesNameTheOptionTheExpectedTypeAndTheValue) {
  const std::pair<const char*, std::string> cases[] = {
      {"[]", "'compile options' must be a JSON object {option: value}, got []"},
      {R"({"inference": "yes"})", "'inference' must be a boolean, got \"yes\""},
      {R"({"static_shapes": 1})", "'static_shapes' must be a boolean, got 1"},
      {R"({"jit": "on"})", "'jit' must be a boolean, got \"on\""},
      {R"({"safe_shapes": 0})", "'safe_shapes' must be a boolean, got 0"},
      {R"({"safe_names": null})", "'safe_names' must be a boolean, got null"},
      {R"({"use_short_namings": "no"})", "'use_short_namings' must be a boolean, got \"no\""},
      {R"({"data_keys": [["x"]]})", "'data_keys' must be a list of key names, got [[\"x\"]]"},
      {R"({"mem_size": -1})", "'mem_size' must be a non-negative integer (bytes), got -1"},
      {R"({"mem_size": 1.5})", "'mem_size' must be a non-negative integer (bytes), got 1.5"},
      {R"({"peak_gflops": "fast"})", "'peak_gflops' must be a non-negative number, got \"fast\""},
      {R"({"discard_keys": "y"})", "'discard_keys' must be a list of key names, got \"y\""},
      {R"({"trainable_keys": [1]})", "'trainable_keys' must be a list of key names, got [1]"},
      {R"({"shapes": [[1, 2]]})", "'shapes' must be an object {key: [dims]}, got [[1,2]]"},
      {R"({"shapes": {"x": [null, 3]}})",
       "'shapes.x' must be a list of non-negative integer dims (static shapes have no symbolic or unknown dims), "
       "got [null,3]"},
      {R"({"shapes": {"x": ["N", 3]}})",
       "'shapes.x' must be a list of non-negative integer dims (static shapes have no symbolic or unknown dims), "
       "got [\"N\",3]"},
      {R"({"optimizations": true})", "'optimizations' must be an object of booleans, got true"},
      {R"({"optimizations": {"constant_folding": "no"}})",
       "'optimizations.constant_folding' must be a boolean, got \"no\""},
      {R"({"constant_keys": [1]})", "'constant_keys' must be an object {key: value}, got [1]"},
      {R"({"backend": 3})",
       "'backend' must be an object such as {\"name\": \"cpu\", \"precision\": \"float32\"} or \"cpu\", got 3"},
      {R"({"backend": {"precision": "int32"}})",
       "'backend.precision' must be a float dtype name (float64, float32, bfloat16, float16), got \"int32\""},
      {R"({"backend": {"precision": "float8"}})",
       "'backend.precision' must be a float dtype name (float64, float32, bfloat16, float16), got \"float8\""},
      {R"({"backend": {"name": 1}})", "'backend.name' must be a backend name (cpu, reference, ggml, jit), got 1"},
      {R"({"backend": {"device": ["cpu"]}})", "'backend.device' must be a device name (\"cpu\"), got [\"cpu\"]"},
  };
  for (const auto& [text, message] : cases)
    EXPECT_EQ(error_parsing(text), "[compile options] " + message) << text;
}

TEST(CompileOptionsToJson, RoundTripsEveryField) {
  CompileOptions o;
  o.inference = true;
  o.static_shapes = o.static_types = true;
  o.shapes = {{"x", {4, 3}}, {"b", {2}}};
  o.set_mem_size(1 << 20);
  o.profile = true;
  o.peak_gflops = 50;
  o.optimizations.operator_fusion = false;
  o.optimizations.common_subexpression = false;
  o.optimizations.graph_optimization = false;
  o.constant_keys = {{"axis", json(0)}};
  o.constant_tensors = {{"w", Tensor::from_doubles({1, 2, 3, 4, 5, 6}, {2, 3}, DType::f64)}};
  o.discard_keys = {"z"};
  o.trainable_keys = {"b"};
  o.data_keys = {"x"};
  o.jit = o.safe_shapes = o.safe_names = o.use_short_namings = false;
  o.set_precision(DType::f16);

  const json j = compile_options_to_json(o);
  EXPECT_EQ(j.at("backend"), json::parse(R"({"name": "cpu", "device": "cpu", "precision": "float16", "mem_size": 1048576})"));
  EXPECT_EQ(j.at("constant_keys"), json::parse(R"({"axis": 0, "w": [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]})"));
  const CompileOptions back = compile_options_from_json(j);
  EXPECT_EQ(back.inference, o.inference);
  EXPECT_EQ(back.static_inference, o.static_inference);
  EXPECT_EQ(back.static_shapes, o.static_shapes);
  EXPECT_EQ(back.static_types, o.static_types);
  EXPECT_EQ(back.jit, o.jit);
  EXPECT_EQ(back.safe_shapes, o.safe_shapes);
  EXPECT_EQ(back.safe_names, o.safe_names);
  EXPECT_EQ(back.use_short_namings, o.use_short_namings);
  EXPECT_EQ(back.shapes, o.shapes);
  EXPECT_EQ(back.mem_size(), o.mem_size());
  EXPECT_EQ(back.profile, o.profile);
  EXPECT_EQ(back.peak_gflops, o.peak_gflops);
  EXPECT_EQ(back.peak_gbs, o.peak_gbs);
  EXPECT_EQ(back.optimizations.constant_folding, o.optimizations.constant_folding);
  EXPECT_EQ(back.optimizations.operator_fusion, o.optimizations.operator_fusion);
  EXPECT_EQ(back.optimizations.dead_code_elimination, o.optimizations.dead_code_elimination);
  EXPECT_EQ(back.optimizations.common_subexpression, o.optimizations.common_subexpression);
  EXPECT_EQ(back.optimizations.graph_optimization, o.optimizations.graph_optimization);
  EXPECT_EQ(back.discard_keys, o.discard_keys);
  EXPECT_EQ(back.trainable_keys, o.trainable_keys);
  EXPECT_EQ(back.data_keys, o.data_keys);
  EXPECT_EQ(back.precision(), o.precision());
  EXPECT_EQ(back.constant_keys.size(), 2u);  // the tensor constant comes back as its nested list
  EXPECT_EQ(compile_options_to_json(back), j);  // a fixed point
}

using testing::example_model;

TEST(CompileOptionsFromJson, OptionsByNameCompileTheModelTheyDescribe) {
  const PhysicalModel pm = compile(example_model(), parse(R"({
      "static_inference": true, "shapes": {"x": [4, 3], "w": [2, 3], "b": [2]},
      "backend": {"name": "cpu", "device": "cpu", "precision": "float32"}, "jit": true})"));
  EXPECT_GT(pm.planned_peak_bytes(), 0);  // static_shapes: planned inside compile()
  const DataMap inputs = {{"x", Tensor::full({4, 3}, 1.0, DType::f32)},
                          {"w", Tensor::full({2, 3}, 1.0, DType::f32)},
                          {"b", Tensor::full({2}, 1.0, DType::f32)}};
  const Tensor y = pm.evaluate(inputs).at("y").tensor;
  EXPECT_EQ(y.dtype(), DType::f32);
  EXPECT_EQ(y.to_doubles(), std::vector<double>(8, 4.0));
  EXPECT_EQ(error_of<ValueError>([&] { (void)pm.evaluate(inputs, {{"y", Tensor::full({4, 2}, 1.0, DType::f32)}}); }),
            "[evaluate] the model was compiled with inference=true: no gradients");
}

// data_keys: inputs that get no gradient although the model would differentiate them.
TEST(CompileOptionsFromJson, DataKeysAreInputsWithoutGradients) {
  const PhysicalModel all = compile(example_model());
  EXPECT_EQ(all.trainable_keys(), (std::vector<std::string>{"b", "w"}));
  const PhysicalModel pm = compile(example_model(), parse(R"({"data_keys": ["w"]})"));
  EXPECT_EQ(pm.trainable_keys(), (std::vector<std::string>{"b"}));
  const DataMap inputs = {{"x", Tensor::full({4, 3}, 1.0, DType::f64)},
                          {"w", Tensor::full({2, 3}, 1.0, DType::f64)},
                          {"b", Tensor::full({2}, 1.0, DType::f64)}};
  const auto r = pm.evaluate(inputs, {{"y", Tensor::full({4, 2}, 1.0, DType::f64)}});
  EXPECT_EQ(r.gradients.size(), 1u);
  EXPECT_EQ(r.gradients.at("b").tensor.to_doubles(), (std::vector<double>{4.0, 4.0}));
  EXPECT_EQ(error_of<KeyError>([] { (void)compile(example_model(), {.data_keys = {"q"}}); }),
            "[compile] data key 'q' is not a key of the model");
  EXPECT_EQ(error_of<ValueError>([] { (void)compile(example_model(), {.trainable_keys = {"w"}, .data_keys = {"w"}}); }),
            "[compile] 'w' is both a data key and a trainable key");
  EXPECT_EQ(error_of<ValueError>([] { (void)compile(example_model(), {.data_keys = {"y"}}); }),
            "[compile] data key 'y' is computed by the model, not an input");
}

TEST(LoadCompileOptions, InlineJsonFilesAndTheirErrors) {
  EXPECT_TRUE(load_compile_options(R"(  {"inference": true})").inference);
  const std::string path = ::testing::TempDir() + "compile_options_test.json";
  {
    std::ofstream f(path);
    f << R"({"backend": {"precision": "float32"}})";
  }
  EXPECT_EQ(load_compile_options(path).precision(), DType::f32);
  std::remove(path.c_str());
  EXPECT_EQ(error_of<ValueError>([&] { (void)load_compile_options(path); }),
            "[compile options] " + path + ": cannot open file: No such file or directory");
  EXPECT_EQ(error_of<ValueError>([] { (void)load_compile_options("{\"inference\": }"); }).rfind(
                "[compile options] inline JSON: not valid JSON: ", 0),
            0u);
}

}  // namespace
}  // namespace mithril

namespace mithril {
namespace {

using logical::json;

// README's option table is generated from compile_options.def (`mithril options`): it must be
// the table this build has.
TEST(CompileOptionsTable, ReadmeTableIsTheDeclaredTable) {
  std::ifstream f(std::string(MITHRIL_SOURCE_DIR) + "/README.md");
  ASSERT_TRUE(f.good());
  const std::string readme((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const std::string begin_marker = "from src/mithril/runtime/compile_options.def; a test checks it -->\n";
  const size_t begin = readme.find(begin_marker);
  const size_t end = readme.find("<!-- end of compile options -->");
  ASSERT_NE(begin, std::string::npos);
  ASSERT_NE(end, std::string::npos);
  const size_t start = begin + begin_marker.size();
  EXPECT_EQ(readme.substr(start, end - start), compile_options_markdown())
      << "README.md's compile options table is out of date: replace it by the output of `build/mithril options`";
}

// Every declared option round-trips through JSON under its own name.
TEST(CompileOptionsTable, EveryDeclaredOptionIsReadAndWrittenByName) {
  const json written = compile_options_to_json(CompileOptions{});
#define MI_OPTION(name, Type, default_value, consumer, doc) \
  EXPECT_TRUE(written.contains(#name)) << #name;            \
  EXPECT_NO_THROW(compile_options_from_json(json{{#name, written.at(#name)}})) << #name;
#include "mithril/runtime/compile_options.def"
#undef MI_OPTION
}

}  // namespace
}  // namespace mithril
