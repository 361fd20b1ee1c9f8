// Mithril's long key names (use_short_namings = false, logical/long_names.h).
#include <gtest/gtest.h>

#include <algorithm>

#include "mithril/logical/flatten.h"
#include "mithril/logical/library.h"
#include "mithril/logical/model.h"
#include "support/example_model.h"

namespace mithril::logical {
namespace {

std::vector<std::string> names(const FlatModel& flat) {
  std::vector<std::string> out;
  for (const auto& [k, e] : flat.keys) out.push_back(k);
  return out;
}

TEST(LongNames, PrefixTheSubmodelPathAndKeepTheKeysTheModelNames) {
  // {"lin": Linear(2), "act": Relu} with x, w, b and y named (examples/linear_relu.json).
  const Model m = testing::example_model();
  EXPECT_EQ(names(flatten(m)), (std::vector<std::string>{"axes", "b", "output_0", "output_1", "output_2", "w", "x", "y"}));
  const FlatModel flat = flatten(m, {.short_namings = false});
  // Linear's output is Relu's input too: the submodel that computes it names it.
  EXPECT_EQ(names(flat), (std::vector<std::string>{"b", "lin_matmul_output", "lin_output", "lin_transpose_axes",
                                                   "lin_transpose_output", "w", "x", "y"}));
  for (const auto& [k, e] : flat.keys) EXPECT_EQ(flat.name(e), k);
}

TEST(LongNames, TheShallowestSubmodelWithAKeyNamesIt) {
  Model m;
  m += Linear(2);  // m0: its keys input, weight, bias, output name what its primitives share
  m += Model::primitive("Relu");
  const FlatModel flat = flatten(m, {.short_namings = false});
  EXPECT_EQ(names(flat), (std::vector<std::string>{"m0_bias", "m0_input", "m0_matmul_output", "m0_output",
                                                   "m0_transpose_axes", "m0_transpose_output", "m0_weight",
                                                   "m1_output"}));
  ASSERT_EQ(flat.outputs.size(), 1u);
  EXPECT_EQ(flat.name(flat.outputs[0]), "m1_output");
}

TEST(LongNames, ATakenNameGetsASuffix) {
  Model m;
  m.add(Model::primitive("Relu"), {{"input", "m0_output"}});  // the user's key is called m0_output
  const FlatModel flat = flatten(m, {.short_namings = false});
  EXPECT_EQ(names(flat), (std::vector<std::string>{"m0_output", "m0_output_0"}));
  EXPECT_EQ(flat.name(flat.outputs[0]), "m0_output_0");
}

}  // namespace
}  // namespace mithril::logical
