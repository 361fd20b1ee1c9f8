// Static keys (Mithril's all_static_keys): data inputs plus the frontier of values folded at
// compile time, on small models where the expected set can be read off the graph.
#include "mithril/runtime/static_keys.h"

#include <gtest/gtest.h>

#include "mithril/logical/library.h"
#include "mithril/runtime/compile.h"

namespace mithril {
namespace {

using logical::IOKey;
using logical::json;
using logical::Model;
using logical::prim;

using Keys = std::vector<std::string>;

CompileOptions constants(const std::map<std::string, Shape>& shapes, bool inference = true) {
  CompileOptions opt;
  opt.inference = inference;
  for (const auto& [k, s] : shapes) opt.constant_tensors[k] = Data(Tensor::zeros(s, DType::f64));
  return opt;
}

TEST(StaticKeys, FoldedValuesReadAtRunTimeAndDataInputs) {
  // h = relu(x) is folded from the constant x and read by the Add that needs the runtime y.
  Model m;
  m |= prim("Relu").connect({{"input", "x"}, {"output", "h"}});
  m |= prim("Add").connect({{"left", "h"}, {"right", "y"}, {"output", IOKey{.name = "out", .expose = true}}});
  EXPECT_EQ(compile(m, constants({{"x", {2, 3}}})).static_keys(), (Keys{"h", "y"}));
  // Nothing constant: only the data inputs.
  EXPECT_EQ(compile(m, constants({})).static_keys(), (Keys{"x", "y"}));
  // Everything constant: the returned output is all that is left.
  EXPECT_EQ(compile(m, constants({{"x", {2}}, {"y", {2}}})).static_keys(), (Keys{"out"}));
}

TEST(StaticKeys, TrainableInputsAreNotStatic) {
  Model m;
  m |= prim("Multiply").connect(
      {{"left", IOKey{.name = "w", .differentiable = true}}, {"right", "x"}, {"output", IOKey{.name = "y", .expose = true}}});
  EXPECT_EQ(compile(m, constants({}, false)).static_keys(), (Keys{"x"}));
  EXPECT_EQ(compile(m, constants({}, true)).static_keys(), (Keys{"w", "x"}));
}

TEST(StaticKeys, DuplicateCallsAreReportedUnderTheFirstName) {
  Model m;
  m |= prim("Relu").connect({{"input", "x"}, {"output", IOKey{.name = "a", .expose = true}}});
  m |= prim("Relu").connect({{"input", "x"}, {"output", IOKey{.name = "b", .expose = true}}});
  EXPECT_EQ(compile(m, constants({{"x", {3}}})).static_keys(), (Keys{"a"}));
  // Different constructor arguments are different computations.
  Model n;
  n |= Model::primitive("LeakyRelu", {{"slope", 0.1}}).connect({{"input", "x"}, {"output", IOKey{.name = "a", .expose = true}}});
  n |= Model::primitive("LeakyRelu", {{"slope", 0.2}}).connect({{"input", "x"}, {"output", IOKey{.name = "b", .expose = true}}});
  EXPECT_EQ(compile(n, constants({{"x", {3}}})).static_keys(), (Keys{"a", "b"}));
}

TEST(StaticKeys, UnusedCallsAreNotCounted) {
  // The second Relu feeds nothing that is returned: it is pruned before folding.
  Model m;
  m |= prim("Relu").connect({{"input", "x"}, {"output", "unused"}});
  m |= prim("Relu").connect({{"input", "x"}, {"output", IOKey{.name = "y", .expose = true}}});
  EXPECT_EQ(compile(m, constants({{"x", {3}}})).static_keys(), (Keys{"y"}));
}

TEST(StaticKeys, FixedNonTensorValuesReadAtRunTimeAreStatic) {
  Model m;
  m |= prim("Sum").connect({{"input", "x"}, {"axis", logical::Connection::scalar(0)}, {"output", IOKey{.name = "y", .expose = true}}});
  EXPECT_EQ(compile(m, constants({})).static_keys(), (Keys{"axis", "keepdim", "x"}));
}

}  // namespace
}  // namespace mithril
