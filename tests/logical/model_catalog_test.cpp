// Model names and arguments: `mithril models`' catalog, the closest names of an unknown model,
// typed constructor arguments and the messages of malformed model dicts.
#include "mithril/logical/model_catalog.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "mithril/core/error.h"
#include "mithril/logical/library.h"
#include "mithril/logical/model_dict.h"
#include "mithril/logical/primitive.h"
#include "support/error_of.h"

namespace mithril::logical {
namespace {

using testing::error_of;

TEST(ModelCatalog, ListsEveryLibraryModelAndPrimitive) {
  const auto& catalog = model_catalog();
  size_t library = 0;
  for (const ModelInfo& m : catalog) library += m.library;
  EXPECT_EQ(library, 16u);
  EXPECT_EQ(catalog.size(), library + primitive_names().size());
  for (const ModelInfo& m : catalog) {
    EXPECT_EQ(is_library_model(m.name), m.library) << m.name;
    if (!m.library) EXPECT_TRUE(is_primitive(m.name)) << m.name;
  }
  EXPECT_EQ(catalog.front().name, "Linear");
  EXPECT_EQ(catalog.front().args, (std::vector<std::string>{"dimension", "use_bias"}));
  const std::string text = format_model_catalog();
  EXPECT_NE(text.find("Linear(dimension, use_bias)"), std::string::npos) << text;
  EXPECT_NE(text.find("Exponential(input)"), std::string::npos) << text;
}

// Every argument the catalog lists for a library model is one its loader accepts.
TEST(ModelCatalog, LibraryArgumentsAreTheLoadersArguments) {
  const ModelResolver resolve = [](const json& d) { return model_from_dict(d); };
  for (const ModelInfo& m : model_catalog()) {
    if (!m.library) continue;
    for (const std::string& arg : m.args) {
      const std::string e = [&] {
        try {
          make_model(m.name, json{{arg, nullptr}}, resolve);
        } catch (const Error& x) {
          return std::string(x.what());
        }
        return std::string();
      }();
      EXPECT_EQ(e.find("unknown argument"), std::string::npos) << m.name << "." << arg << ": " << e;
    }
  }
}

TEST(ModelCatalog, UnknownModelNamesTheClosest) {
  EXPECT_EQ(error_of<KeyError>([] { model_from_dict(json::parse(R"({"name": "Model", "submodels": {"e": "Exp"}})")); }),
            "[model dict] model.submodels.e: unknown model 'Exp' (closest: Exponential; `mithril models` lists every "
            "model)");
  EXPECT_EQ(error_of<AttributeError>([] { model_from_dict(json::parse(R"({"name": "Liner"})")); }),
            "[model dict] model: unknown model 'Liner' (closest: Linear, Layer, Sine; `mithril models` lists every model)");
}

TEST(ModelCatalog, ArgumentsAreTyped) {
  EXPECT_EQ(error_of<AttributeError>([] {
              model_from_dict(json::parse(R"({"name": "MLP", "args": {"activations": ["Relu"], "dimensions": [256.5]}})"));
            }),
            "[model dict] model: [MLP] argument 'dimensions' must be an integer, got 256.5");
  EXPECT_EQ(error_of<AttributeError>([] { model_from_dict(json::parse(R"({"name": "Linear", "args": {"dimension": "3"}})")); }),
            "[model dict] model: [Linear] argument 'dimension' must be an integer, got \"3\"");
  EXPECT_EQ(error_of<AttributeError>([] { model_from_dict(json::parse(R"({"name": "Linear", "args": {"use_bias": 1}})")); }),
            "[model dict] model: [Linear] argument 'use_bias' must be true or false, got 1");
  // nlohmann's type errors are named by the model's path.
  EXPECT_EQ(error_of<ValueError>([] { model_from_dict(json::parse(R"({"name": "Model", "exposed_keys": [1]})")); }),
            "[model dict] model: type must be string, but is number");
}

TEST(ModelDictFiles, DirectoriesDeepDocumentsAndAtomicSaves) {
  const auto dir = std::filesystem::temp_directory_path() / "mithril_model_dict_files";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "sub.json");
  EXPECT_EQ(error_of<ValueError>([&] { load_model_dict((dir / "sub.json").string()); }),
            "[model dict] " + (dir / "sub.json").string() + ": is a directory, not a file");
  {
    std::ofstream f(dir / "deep.json");
    f << R"({"name": "Linear", "args": {"dimension": )" << std::string(200000, '[');
  }
  EXPECT_EQ(error_of<ValueError>([&] { load_model_dict((dir / "deep.json").string()); }),
            "[model dict] " + (dir / "deep.json").string() + ": nesting deeper than 256 levels at byte 295");
  const std::string path = (dir / "linear.json").string();
  save_model_dict(Linear(3), path);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_EQ(model_to_dict(load_model_dict(path)), model_to_dict(Linear(3)));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mithril::logical
