// Mithril's model-dict JSON format (see shared/conformance/README.md §2): load a model
// description into a Model. Errors name the bad field and its path in the document, e.g.
// "[model dict] model.submodels.m1.args: unknown argument 'foo' of Linear".
#pragma once

#include <string>

#include "mithril/logical/model.h"

namespace mithril::logical {

// `description` is a model name string or an object with name/args/submodels/connections/...
Model model_from_dict(const json& description, const std::string& path = "model");
Model load_model_dict(const std::string& file_path);  // reads JSON from a file

// The model as a model dict: library and primitive models as {"name", "args"}, composites with
// submodels, connections, exposed_keys and assigned_differentiabilities. Loading the result
// and saving again gives the same document.
json model_to_dict(const Model& model);
void save_model_dict(const Model& model, const std::string& file_path);  // atomic: temp file + rename

}  // namespace mithril::logical
