// The jit backend (backends/jit/): generated code against the cpu backend, the cache (reuse,
// corrupt and truncated entries rebuilt), the modes, donation, file_path and the option errors.
// Every test uses a cache directory of its own under the build tree.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "mithril/backends/jit/jit_backend.h"
#include "mithril/backends/jit/jit_executable.h"
#include "mithril/core/error.h"
#include "mithril/graph/passes.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/linalg.h"
#include "mithril/ops/reduce.h"
#include "mithril/ops/unary.h"
#include "mithril/runtime/compile.h"
#include "mithril/runtime/compile_options.h"
#include "support/error_of.h"
#include "support/example_model.h"

namespace mithril {
namespace {

namespace fs = std::filesystem;
using testing::error_of;

std::string fresh_dir(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("mithril_jit_test_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

// y = sum(tanh(x * w + b) * 0.5 - x) over axis 1, and matmul(x, w2): a fused chain with a row
// operand, a reduction and a product (cpu kernels).
GraphProgram example_program(DType t) {
  GraphProgram p;
  Graph& g = *p.graph;
  const Var x = g.input("x", {8, 16}, t), w = g.input("w", {8, 16}, t), b = g.input("b", {16}, t), w2 = g.input("w2", {16, 4}, t);
  const Var h = ops::tanh(x * w + b) * ops::scalar_like(x, 0.5) - x;
  p.outputs = {ops::sum(h, Axes{1}, false).id(), ops::matmul(h, w2).id(), h.id()};
  PassOptions o;
  o.constant_folding = false;
  optimize(p, o, {});
  return p;
}

std::vector<Tensor> example_inputs(DType t) {
  std::vector<Tensor> in;
  uint64_t s = 12345;
  for (const Shape& sh : std::vector<Shape>{{8, 16}, {8, 16}, {16}, {16, 4}}) {
    std::vector<double> v(static_cast<size_t>(numel(sh)));
    for (double& x : v) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      x = static_cast<double>(s >> 11) / 9007199254740992.0 * 4 - 2;
    }
    in.push_back(Tensor::from_doubles(v, sh, t));
  }
  return in;
}

void expect_same(const std::vector<Tensor>& got, const std::vector<Tensor>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].shape(), want[i].shape());
    const auto a = got[i].to_doubles(), b = want[i].to_doubles();
    for (size_t j = 0; j < a.size(); ++j) EXPECT_NEAR(a[j], b[j], tol * (1 + std::abs(b[j]))) << "output " << i << " element " << j;
  }
}

std::unique_ptr<jit::JitExecutable> build(const GraphProgram& p, ExecutableOptions o) {
  auto exe = JitBackend::make()->compile(p, o);
  return std::unique_ptr<jit::JitExecutable>(static_cast<jit::JitExecutable*>(exe.release()));
}

TEST(JitBackend, GeneratedCodeMatchesTheCpuBackendInEveryMode) {
  const std::string dir = fresh_dir("modes");
  for (DType t : {DType::f64, DType::f32}) {
    const GraphProgram p = example_program(t);
    const auto in = example_inputs(t);
    const std::vector<Tensor> want = default_backend()->compile(p, {})->run(in);
    for (const char* mode : {"default", "reduce-overhead", "max-autotune"}) {
      SCOPED_TRACE(std::string(mode) + " " + std::string(dtype_name(t)));
      ExecutableOptions o;
      o.jit.mode = mode;
      o.jit.cache_dir = dir;
      const auto exe = build(p, o);
      EXPECT_GE(exe->num_regions(), 1u);
      EXPECT_FALSE(exe->library_path().empty());
      expect_same(exe->run(in), want, t == DType::f64 ? 1e-15 : 1e-6);
      expect_same(exe->run(in), want, t == DType::f64 ? 1e-15 : 1e-6);  // the planned arena again
    }
  }
}

TEST(JitBackend, SecondBuildReusesTheCacheAndCorruptEntriesAreRebuilt) {
  const std::string dir = fresh_dir("cache");
  const GraphProgram p = example_program(DType::f64);
  const auto in = example_inputs(DType::f64);
  const std::vector<Tensor> want = default_backend()->compile(p, {})->run(in);
  ExecutableOptions o;
  o.jit.cache_dir = dir;
  std::string library;
  {
    const auto first = build(p, o);
    EXPECT_TRUE(first->compiled());
    library = first->library_path();
    EXPECT_TRUE(fs::exists(first->source_path()));
  }
  {
    const auto second = build(p, o);
    EXPECT_FALSE(second->compiled()) << "a valid entry is reused";
    expect_same(second->run(in), want, 1e-15);
  }
  // Truncated library: the manifest no longer matches, so it is rebuilt.
  fs::resize_file(library, fs::file_size(library) / 2);
  {
    const auto third = build(p, o);
    EXPECT_TRUE(third->compiled());
    expect_same(third->run(in), want, 1e-15);
  }
  // A corrupt manifest: rebuilt too.
  std::ofstream(fs::path(library).replace_extension(".ok")) << "garbage";
  {
    const auto fourth = build(p, o);
    EXPECT_TRUE(fourth->compiled());
    expect_same(fourth->run(in), want, 1e-15);
  }
  // No temporary files are left behind.
  for (const auto& e : fs::directory_iterator(dir + "/jit"))
    EXPECT_EQ(e.path().string().find(".tmp-"), std::string::npos) << e.path();
}

TEST(JitBackend, MaxAutotuneKeepsItsChoicesWithTheCode) {
  const std::string dir = fresh_dir("tune");
  const GraphProgram p = example_program(DType::f64);
  ExecutableOptions o;
  o.jit.cache_dir = dir;
  o.jit.mode = "max-autotune";
  std::vector<long> grains;
  {
    const auto exe = build(p, o);
    grains = exe->region_grains();
    EXPECT_TRUE(fs::exists(fs::path(exe->library_path()).replace_extension(".tune")));
  }
  const auto again = build(p, o);
  EXPECT_FALSE(again->compiled());
  EXPECT_EQ(again->region_grains(), grains);
}

TEST(JitBackend, DonatedInputsAreOverwrittenAndResultsAgree) {
  const std::string dir = fresh_dir("donate");
  GraphProgram p;
  Graph& g = *p.graph;
  const Var x = g.input("x", {4, 1000}, DType::f64), y = g.input("y", {4, 1000}, DType::f64);
  const Var e = ops::exp(x);  // used twice: a region of its own, then the fused chain, then a reduction
  p.outputs = {ops::sum(ops::relu(e * y + e), Axes{1}, false).id()};
  std::vector<Tensor> feed = {Tensor::full({4, 1000}, 0.25, DType::f64), Tensor::full({4, 1000}, -0.5, DType::f64)};
  const std::vector<Tensor> want = default_backend()->compile(p, {})->run(feed);
  ExecutableOptions o;
  o.jit.cache_dir = dir;
  o.jit.donate = {"x"};
  const auto exe = build(p, o);
  const int64_t donated_arena = exe->memory_plan().arena_bytes;
  o.jit.donate.clear();
  EXPECT_LT(donated_arena, build(p, o)->memory_plan().arena_bytes) << "the donated input holds an intermediate";
  const std::vector<Tensor> copy = {feed[0].clone(), feed[1].clone()};
  expect_same(exe->run(copy), want, 1e-15);
  o.jit.donate = {"z"};
  EXPECT_EQ(error_of<KeyError>([&] { build(p, o); }),
            "[backend jit] jit_options.donate names 'z', which is not an input of the program (inputs: x, y)");
}

TEST(JitBackend, FilePathGetsTheReadableSource) {
  const std::string dir = fresh_dir("file_path");
  CompileOptions o = compile_options_from_json(logical::json::parse(
      R"({"backend": "jit", "jit_options": {"cache_dir": ")" + dir + R"("}, "file_path": ")" + dir + R"(/model.cpp"})"));
  o.shapes = {{"x", {4, 3}}, {"w", {2, 3}}, {"b", {2}}};
  PhysicalModel m = compile(testing::example_model(), o);
  const DataMap inputs = {{"x", Tensor::from_doubles({1, -2, 3, 0.5, 1, -1, 0, 2, 1, -1, 1, 1}, {4, 3}, DType::f64)},
                          {"w", Tensor::from_doubles({1, 0, 1, -1, 2, 0.5}, {2, 3}, DType::f64)},
                          {"b", Tensor::from_doubles({0.25, -0.5}, {2}, DType::f64)}};
  const auto got = m.evaluate(inputs);
  const auto want = compile(testing::example_model(), CompileOptions{}).evaluate(inputs);
  expect_same({got.at("y").tensor}, {want.at("y").tensor}, 1e-15);
  std::ifstream f(dir + "/model.cpp");
  std::stringstream text;
  text << f.rdbuf();
  EXPECT_NE(text.str().find("Generated by Mithril's jit backend"), std::string::npos);
  EXPECT_NE(text.str().find("'x'"), std::string::npos) << "keys are named in comments";
  EXPECT_NE(text.str().find("void mi_run("), std::string::npos);
}

TEST(JitBackend, CodegenOptionsOnABackendThatGeneratesNoCode) {
  EXPECT_EQ(error_of<ValueError>([] {
              CompileOptions o;
              o.file_path = "model.cpp";
              compile(testing::example_model(), o);
            }),
            "[compile] 'file_path' is for a backend that generates code, and backend cpu runs the graph itself; use "
            "{\"backend\": \"jit\"} to generate, compile and cache C++ for the program");
  EXPECT_EQ(error_of<ValueError>([] {
              compile_options_from_json(logical::json::parse(R"({"jit_options": {"mode": "fast"}})"));
            }),
            "[compile options] 'jit_options.mode' must be one of \"default\", \"max-autotune\", \"reduce-overhead\", got "
            "\"fast\"");
  EXPECT_EQ(error_of<ValueError>([] {
              compile_options_from_json(logical::json::parse(R"({"jit_options": {"donate_argnums": [0]}})"));
            }),
            "[compile options] 'jit_options.donate_argnums' must be a list of input key names (inputs are named here, "
            "not numbered), got [0]");
}

}  // namespace
}  // namespace mithril
