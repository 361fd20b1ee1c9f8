// The parallelism rows of the compile options: read, written back, and their value errors.
#include <gtest/gtest.h>

#include "mithril/core/error.h"
#include "mithril/runtime/compile_options.h"

namespace mithril {
namespace {

using json = logical::json;

std::string value_error(const char* text) {
  try {
    compile_options_from_json(json::parse(text));
  } catch (const ValueError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ParallelOptions, ReadAndWrittenBack) {
  const CompileOptions o =
      compile_options_from_json(json::parse(R"({"parallelism": "data", "device_mesh": [4], "deterministic": true})"));
  EXPECT_EQ(o.parallelism, Parallelism::data);
  EXPECT_EQ(o.device_mesh, (MeshDims{4}));
  EXPECT_TRUE(o.deterministic);
  const json j = compile_options_to_json(o);
  EXPECT_EQ(j.at("parallelism"), "data");
  EXPECT_EQ(j.at("device_mesh"), json::parse("[4]"));
  const CompileOptions back = compile_options_from_json(j);
  EXPECT_EQ(back.parallelism, Parallelism::data);
  EXPECT_EQ(back.device_mesh, (MeshDims{4}));
  EXPECT_TRUE(back.deterministic);
  const CompileOptions d;
  EXPECT_EQ(d.parallelism, Parallelism::none);
  EXPECT_TRUE(d.device_mesh.empty());
  EXPECT_EQ(compile_options_from_json(json::parse(R"({"device_mesh": [3, 1]})")).device_mesh, (MeshDims{3, 1}));
}

TEST(ParallelOptions, WrongValuesNameTheOption) {
  EXPECT_EQ(value_error(R"({"parallelism": 2})"), "[compile options] 'parallelism' must be \"none\" or \"data\", got 2");
  EXPECT_EQ(value_error(R"({"parallelism": "tensor"})"),
            "[compile options] 'parallelism' must be \"none\" or \"data\", got \"tensor\"");
  EXPECT_EQ(value_error(R"({"device_mesh": [0]})"),
            "[compile options] 'device_mesh' must be [n] or [data, model] with dims >= 1, got [0]");
  EXPECT_EQ(value_error(R"({"device_mesh": [1, 1, 2]})"),
            "[compile options] 'device_mesh' must be [n] or [data, model] with dims >= 1, got [1,1,2]");
}

}  // namespace
}  // namespace mithril
