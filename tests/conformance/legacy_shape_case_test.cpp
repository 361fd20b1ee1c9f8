// The legacy shape-test format (shape_directed_test.json): conversion to the current model-dict
// format and the comparison of inferred shapes by legacy key name.
#include "mithril/conformance/legacy_shape_case.h"

#include <gtest/gtest.h>

#include "mithril/core/error.h"
#include "mithril/logical/model_dict.h"

namespace mithril::conformance {
namespace {

// Checks a legacy case the way the conformance runner does (no training wrapper here).
std::optional<std::string> check(const json& legacy) {
  const LegacyShapeCase c = from_legacy_shape_case(legacy);
  const logical::FlatModel flat = logical::flatten(logical::model_from_dict(c.model));
  logical::SymbolicShapes shapes(flat);
  for (const auto& [key, shape] : c.key_shapes) shapes.constrain(*flat.find(key), shape, key);
  return compare_legacy_shapes(flat, shapes, c.expected);
}

const char* kComposite = R"({
  "model": {"name": "Model",
            "submodels": {"m1": {"name": "Multiply", "args": {"shapes": {"rhs": [2, 2]}}}, "m2": {"name": "Divide"}},
            "connections": {"m1": {"input": 2.0, "rhs": "in1"},
                            "m2": {"rhs": [["m1", "output"]], "output": "output", "input": [[2.0]]}}},
  "results": {"in1": [2, 2], "Multiply_0_input": [1], "Multiply_0_output": [2, 2], "Divide_1_input": [1, 1],
              "output": [2, 2]}})";

TEST(LegacyShapeCase, ConvertsPortsConnectionsAndShapes) {
  const LegacyShapeCase c = from_legacy_shape_case(json::parse(kComposite));
  const json& m = c.model;
  EXPECT_EQ(m.at("submodels").at("m1").at("assigned_shapes"), json::parse(R"([[["right", [2, 2]]]])"));
  EXPECT_FALSE(m.at("submodels").at("m1").contains("args"));
  EXPECT_EQ(m.at("connections").at("m1").at("left"), json::parse(R"({"tensor": 2.0})"));
  EXPECT_EQ(m.at("connections").at("m2").at("denominator"), json::parse(R"({"key": {"connect": [["m1", "output"]]}})"));
  EXPECT_EQ(m.at("connections").at("m2").at("numerator"), json::parse(R"({"tensor": [[2.0]]})"));
  EXPECT_TRUE(c.key_shapes.empty());
}

TEST(LegacyShapeCase, ComparesByLegacyNames) {
  // A legacy [1] is a 0-d value of ours (the scalar 2.0); [[2.0]] keeps its shape.
  EXPECT_EQ(check(json::parse(kComposite)), std::nullopt);
  json wrong = json::parse(kComposite);
  wrong["results"]["Multiply_0_output"] = {2, 3};
  EXPECT_EQ(check(wrong), "'Multiply_0_output' (port 'output' of 'm1' (Multiply)): expected [2,3] but inference "
                          "gives [2, 2]");
}

TEST(LegacyShapeCase, NullDimsMustStayUnknownAndSymbolsMatchOneToOne) {
  const char* text = R"({"model": {"name": "Flatten", "args": {"start_dim": 1}},
                         "static_shapes": {"input": [null, 5, 20, 30]},
                         "results": {"input": [null, 5, 20, 30], "output": [null, 3000]}})";
  EXPECT_EQ(check(json::parse(text)), std::nullopt);
  json symbols = json::parse(text);
  symbols["results"] = {{"input", {"N", 5, 20, 30}}, {"output", {"N", 3000}}};
  EXPECT_EQ(check(symbols), std::nullopt);
  symbols["results"]["output"] = {"M", 3000};  // a second symbol for the same dim
  EXPECT_NE(check(symbols), std::nullopt);
  json known = json::parse(text);
  known["static_shapes"]["input"] = {8, 5, 20, 30};
  EXPECT_EQ(check(known), "'input' (input): expected [null,5,20,30] but inference gives [8, 5, 20, 30]; 'output' "
                          "(output): expected [null,3000] but inference gives [8, 3000]");
}

TEST(LegacyShapeCase, LinearWeightsAreComparedReversed) {
  const char* text = R"({"model": {"name": "Linear", "args": {"dimension": 2}},
                         "static_shapes": {"input": [10, 3]},
                         "results": {"w": [3, 2], "b": [2], "output": [10, 2]}})";
  EXPECT_EQ(check(json::parse(text)), std::nullopt);
}

TEST(LegacyShapeCase, OlderDescriptionsAreRejectedByName) {
  const json legacy = json::parse(R"({"model": {"model": "KernelizedSVM"}, "results": {}})");
  EXPECT_THROW(from_legacy_shape_case(legacy), ValueError);
}

}  // namespace
}  // namespace mithril::conformance
