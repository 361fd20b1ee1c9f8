// The exact messages users see for composition errors, shape conflicts found while composing,
// and model-dict loading errors (which name the bad field and its path in the document).
#include <gtest/gtest.h>

#include "mithril/core/error.h"
#include "mithril/logical/flatten.h"
#include "mithril/logical/library.h"
#include "mithril/logical/model_dict.h"
#include "support/error_of.h"

namespace mithril::logical {
namespace {

using mithril::testing::error_of;

TEST(CompositionErrors, NameTheModelAndTheKey) {
  Model m;
  m |= prim("Relu").connect({{"input", "x"}, {"output", "y"}});
  m.expose({"z"});
  EXPECT_EQ(error_of<KeyError>([&] { flatten(m); }), "[Model] cannot expose unknown key 'z'");

  Model n;
  n |= prim("Relu").connect({{"input", IOKey{.connect = {std::string("nowhere")}}}});
  EXPECT_EQ(error_of<KeyError>([&] { flatten(n); }), "[Model] no key named 'nowhere' to connect to");

  Model o;
  o |= prim("Relu").connect({{"input", IOKey{.connect = {SubPort{"m9", "output"}}}}});
  EXPECT_EQ(error_of<KeyError>([&] { flatten(o); }), "[Model] no submodel named 'm9' to connect to");

  Model p;
  p |= prim("Relu").connect({{"output", IOKey{.expose = true}}});
  EXPECT_EQ(error_of<ValueError>([&] { flatten(p); }),
            "[Model] an exposed key needs a name (port 'output' of 'm0')");

  Model q;
  q |= prim("Relu");
  EXPECT_EQ(error_of<KeyError>([&] { q.add(prim("Relu"), {}, "m0"); }), "[Model] a submodel named 'm0' already exists");
  Model relu = prim("Relu");
  EXPECT_EQ(error_of<ValueError>([&] { relu.add(prim("Relu")); }),
            "[Relu] submodels cannot be added to a primitive model");

  Model r;
  r |= prim("Relu").connect({{"input", "x"}, {"output", "y"}});
  r |= prim("Relu").connect({{"input", "x"}, {"output", "y"}});
  EXPECT_EQ(error_of<ValueError>([&] { flatten(r); }),
            "[Model] 'output' of 'm0' (Relu) and 'output' of 'm1' (Relu) are both outputs of models (connected as 'y')");
}

TEST(CompositionErrors, SetShapesOfAnUnknownKey) {
  Model m;
  m |= prim("Relu").connect({{"input", "x"}, {"output", "y"}});
  m.set_shapes({{"w", {2}}});  // structural errors are reported when the model is flattened (compile)
  EXPECT_EQ(error_of<KeyError>([&] { flatten(m); }), "[Model] set_shapes: no key named 'w'");
}

TEST(ShapeErrors, AnIOKeyShapeConflictingWithATemplate) {
  Model m;
  EXPECT_EQ(error_of<ShapeError>(
                [&] { m |= Linear(3).connect({{"input", "x"}, {"weight", IOKey{.name = "w", .shape = json{4, 2}}}}); }),
            "[shapes] key 'w': [3, d_in] from set_shapes of 'm0' (Linear) conflicts with [4, 2] from the IOKey of "
            "port 'weight' of 'm0' (Linear): dim 0 is 3 vs 4");
}

TEST(ShapeErrors, AReductionOutputIsAScalar) {
  Model m;
  m |= prim("Sum").connect({{"input", "x"}, {"output", IOKey{.name = "y", .expose = true}}});
  EXPECT_EQ(error_of<ShapeError>([&] { m.set_shapes({{"y", {3}}}); }),
            "[shapes] key 'y': [3] from set_shapes of Model conflicts with [] from 'm0' (Sum), port 'output': rank 1 "
            "vs 0");
}

TEST(ShapeErrors, RulesNameTheBlockAndBothShapes) {
  auto flatten_y = [](const Model& block) {
    Model m;
    m |= block.connect({{"input", "x"}, {"output", IOKey{.name = "y", .expose = true}}});
    return m;
  };
  Model f = flatten_y(Model::primitive("Flatten", {{"start_dim", 1}}));
  f.set_shapes({{"y", {8, 7}}});
  EXPECT_EQ(error_of<ShapeError>([&] { f.set_shapes({{"x", {8, 3, 2}}}); }),
            "[shapes] key 'y': [8, 7] from set_shapes of Model conflicts with [8, 6] from 'm0' (Flatten), port "
            "'output': dim 1 is 7 vs 6");
  Model s = flatten_y(Model::primitive("Sum", {{"axis", 1}}));
  EXPECT_EQ(error_of<ShapeError>([&] { s.set_shapes({{"x", {2, 3}}, {"y", {3}}}); }),
            "[shapes] key 'y': [3] from set_shapes of Model conflicts with [2] from 'm0' (Sum), port 'output': dim 0 "
            "is 3 vs 2");
  Model mm;
  mm |= prim("MatrixMultiply").connect({{"left", "a"}, {"right", "b"}, {"output", IOKey{.name = "c", .expose = true}}});
  EXPECT_EQ(error_of<ShapeError>([&] { mm.set_shapes({{"a", {2, 3, 4, 5}}, {"b", {4, 5, 6}}}); }),
            "[shapes] batch dims of left [2, 3, 4, 5] and right [4, 5, 6] of 'm0' (MatrixMultiply) cannot be "
            "broadcast: dims 3 and 4 cannot be broadcast");
}

TEST(ShapeErrors, ARejectedAddLeavesTheModelAsItWas) {
  Model m;
  m |= prim("Relu").connect({{"input", "x"}, {"output", "h"}});
  EXPECT_THROW(m |= Linear(3).connect({{"input", "h"}, {"weight", IOKey{.name = "w", .shape = json{4, 2}}}}),
               ShapeError);
  EXPECT_EQ(m.submodel_names(), std::vector<std::string>{"m0"});
  m |= Linear(3).connect({{"input", "h"}, {"weight", "w"}});  // a valid add still works
  EXPECT_EQ(m.submodel_names(), (std::vector<std::string>{"m0", "m1"}));
  EXPECT_NO_THROW(flatten(m));
}

TEST(ShapeErrors, RejectedShapesAreNotKept) {
  Model m;
  m |= prim("Sum").connect({{"input", "x"}, {"output", IOKey{.name = "y", .expose = true}}});
  EXPECT_THROW(m.set_shapes({{"y", {3}}}), ShapeError);
  EXPECT_NO_THROW(m.set_shapes({{"x", {2, 3}}}));  // checked without the rejected shapes
  EXPECT_NO_THROW(m |= prim("Relu").connect({{"input", "y"}}));
}

TEST(CompositionErrors, AFailedAddKeepsALibraryModelsArgs) {
  Model lin = Linear(3);
  const json dict = model_to_dict(lin);
  EXPECT_THROW(lin.add(prim("Relu"), {}, lin.submodel_names().front()), KeyError);
  EXPECT_THROW(lin.add(prim("Relu"), {{"input", IOKey{.name = "weight", .shape = json{4}}}}), ShapeError);
  EXPECT_EQ(model_to_dict(lin), dict);
  lin |= prim("Relu");  // a successful add makes it a plain composite
  EXPECT_FALSE(model_to_dict(lin).contains("args"));
  EXPECT_TRUE(model_to_dict(lin).contains("submodels"));
}

TEST(ModelDictErrors, NameTheFieldAndItsPath) {
  auto load = [](const char* text) { return [text] { model_from_dict(json::parse(text)); }; };
  EXPECT_EQ(error_of<KeyError>(load(R"({"args": {}})")), "[model dict] model: missing the model 'name'");
  EXPECT_EQ(error_of<ValueError>(load(R"(3)")), "[model dict] model: expected a model name or an object, got 3");
  EXPECT_EQ(error_of<KeyError>(load(R"({"name": "Model", "submodels": {"m1": "Relu"},
                                          "connections": {"m1": {"input": {"key": {"nam": "x"}}}}})")),
            "[model dict] model.connections.m1.input.key: unknown field 'nam' of a key");
  EXPECT_EQ(error_of<KeyError>(load(R"({"name": "Model", "submodels": {"m1": "Relu"},
                                          "connections": {"m1": {"input": {"value": 1}}}})")),
            "[model dict] model.connections.m1.input: expected 'key' or 'tensor' in connection {\"value\":1}");
  EXPECT_EQ(error_of<KeyError>(load(R"({"name": "Model", "submodels": {"m1": "Relu"},
                                          "connections": {"m2": {"input": "x"}}})")),
            "[model dict] model.connections: no submodel named 'm2'");
  EXPECT_EQ(error_of<AttributeError>(load(R"({"name": "Model", "submodels": {"m1": {"name": "Nope"}}})")),
            "[model dict] model.submodels.m1: unknown model 'Nope' (`mithril models` lists every model)");
  EXPECT_EQ(error_of<ValueError>(load(R"({"name": "Model", "submodels": {"m1": "Relu"},
                                            "assigned_differentiabilities": [["input", 1]]})")),
            "[model dict] model.assigned_differentiabilities: expected [key, bool], got [\"input\",1]");
  EXPECT_EQ(error_of<ValueError>(load(R"({"name": "Relu", "assigned_shapes": [[["input"]]]})")),
            "[model dict] model.assigned_shapes: expected [key, shape], got [\"input\"]");
  EXPECT_EQ(error_of<ValueError>(load(R"({"name": "Model", "submodels": {"m1": "Relu"},
                                            "assigned_shapes": [[[["m1", 0], [2]]]]})")),
            "[model dict] model.assigned_shapes: key [\"m1\",0] must be a key name (submodel port references are "
            "not supported for shapes)");
}

TEST(ModelDictErrors, ManyToOneHasNoTeacherForcing) {
  auto load = [](const char* name, bool teacher_forcing) {
    json args = {{"cell_type", {{"name", "LSTMCell"}}}, {"max_sequence_length", 2}};
    if (teacher_forcing) args["teacher_forcing"] = true;
    return model_from_dict(json{{"name", name}, {"args", args}});
  };
  EXPECT_EQ(error_of<AttributeError>([&] { load("ManyToOne", true); }),
            "[model dict] model: [ManyToOne] unknown argument 'teacher_forcing' (valid: cell_type, max_sequence_length)");
  EXPECT_NO_THROW(load("ManyToOne", false));
  EXPECT_NO_THROW(load("OneToMany", true));
}

TEST(ModelDictErrors, AssignedShapesAreCheckedWhenLoaded) {
  const char* text = R"({"name": "Model", "submodels": {"m1": {"name": "Linear", "args": {"dimension": 3}}},
                         "connections": {"m1": {"input": "x", "weight": "w"}},
                         "assigned_shapes": [[["w", [4, 2]]]]})";
  EXPECT_EQ(error_of<ShapeError>([&] { model_from_dict(json::parse(text)); }),
            "[shapes] key 'w': [3, d_in] from set_shapes of 'm1' (Linear) conflicts with [4, 2] from set_shapes of "
            "Model: dim 0 is 3 vs 4");
}

TEST(ModelDictErrors, WhatCannotBeSavedIsNamed) {
  // A composite's port has no index in the dict's [submodel, index] form.
  Model m;
  m |= make_model("Linear", {{"dimension", 2}}, nullptr).connect({{"input", "x"}});
  m.set_differentiability(SubPort{"m0", "input"}, true);
  EXPECT_EQ(error_of<ValueError>([&] { model_to_dict(m); }),
            "[model dict] cannot save the differentiability of 'm0.input': not a primitive port");
  EXPECT_EQ(error_of<ValueError>([&] { save_model_dict(prim("Relu"), "/nonexistent/dir/model.json"); }),
            "[model dict] /nonexistent/dir/model.json: cannot write temporary file '/nonexistent/dir/model.json.tmp': No "
            "such file or directory");
}

TEST(ModelDict, AssignedShapesRoundTrip) {
  // Only the user's shapes are saved: a library model's own templates come back with it.
  Model linear = make_model("Linear", {{"dimension", 3}}, nullptr);
  linear.set_shapes({{"input", {"N", 5}}});
  Model m;
  m |= linear.connect({{"input", "x"}, {"output", IOKey{.name = "y", .expose = true}}});
  m.set_shapes({{"x", {8, 5}}});
  const json d = model_to_dict(m);
  EXPECT_EQ(d.at("assigned_shapes"), json::parse(R"([[["x", [8, 5]]]])"));
  EXPECT_EQ(d.at("submodels").at("m0").at("assigned_shapes"), json::parse(R"([[["input", ["N", 5]]]])"));
  EXPECT_EQ(model_to_dict(model_from_dict(d)), d);
  // A bare [key, shape] pair is one assignment of its own.
  json pair = d;
  pair["assigned_shapes"] = json::parse(R"([["x", [8, 5]]])");
  EXPECT_EQ(model_to_dict(model_from_dict(pair)), d);
}

}  // namespace
}  // namespace mithril::logical
