#include "mithril/logical/model_catalog.h"

#include <algorithm>

#include "mithril/core/closest.h"
#include "mithril/core/error.h"
#include "mithril/logical/primitive.h"

namespace mithril::logical {
namespace {

// The arguments make_model (library.cpp) reads for each composite.
const std::vector<ModelInfo> kLibraryModels = {
    {"Linear", true, {"dimension", "use_bias"}},
    {"Layer", true, {"activation", "dimension"}},
    {"MLP", true, {"activations", "dimensions"}},
    {"LayerNorm", true, {"use_scale", "use_bias", "eps"}},
    {"ElementWiseAffine", true, {}},
    {"LogisticRegression", true, {}},
    {"LinearSVM", true, {}},
    {"KernelizedSVM", true, {"kernel"}},
    {"PolynomialRegression", true, {"degree", "dimension"}},
    {"L1", true, {}},
    {"L2", true, {}},
    {"QuadraticFormRegularizer", true, {}},
    {"MDS", true, {"prediction_dim", "input_type"}},
    {"ManyToOne", true, {"cell_type", "max_sequence_length"}},
    {"OneToMany", true, {"cell_type", "max_sequence_length", "teacher_forcing"}},
    {"EncoderDecoder", true,
     {"cell_type", "max_input_sequence_length", "max_target_sequence_length", "teacher_forcing"}},
};

}  // namespace

const std::vector<ModelInfo>& model_catalog() {
  static const std::vector<ModelInfo> catalog = [] {
    std::vector<ModelInfo> all = kLibraryModels;
    for (const std::string& name : primitive_names()) all.push_back({name, false, primitive_arguments(name)});
    return all;
  }();
  return catalog;
}

const ModelInfo* find_library_model(const std::string& name) {
  const std::string l = lowercase(name);
  const auto it = std::find_if(kLibraryModels.begin(), kLibraryModels.end(),
                               [&](const ModelInfo& m) { return lowercase(m.name) == l; });
  return it == kLibraryModels.end() ? nullptr : &*it;
}

void throw_unknown_model(const std::string& name) {
  std::vector<std::string> names;
  for (const ModelInfo& m : model_catalog()) names.push_back(m.name);
  const std::vector<std::string> near = closest_names(name, names);
  MI_THROW(KeyError, "unknown model '{}' ({}`mithril models` lists every model)", name,
           near.empty() ? std::string() : fmt::format("closest: {}; ", fmt::join(near, ", ")));
}

std::string format_model_catalog() {
  std::string out;
  for (const ModelInfo& m : model_catalog())
    out += fmt::format("{:<48} {}\n", fmt::format("{}({})", m.name, fmt::join(m.args, ", ")),
                       m.library ? "library" : "primitive");
  out += fmt::format("{} models; arguments are the keys of a model dict's \"args\"\n", model_catalog().size());
  return out;
}

}  // namespace mithril::logical
