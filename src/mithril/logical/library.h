// The model library: Mithril's composite models (Linear, Layer, MLP, LayerNorm, ...) built
// from primitives with the composition API, so flattening gives Mithril's primitive graph
// and key names.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "mithril/logical/model.h"

namespace mithril::logical {

Model Linear(std::optional<int64_t> dimension = std::nullopt, bool use_bias = true);
Model Layer(const Model& activation, std::optional<int64_t> dimension = std::nullopt);
Model MLP(const std::vector<Model>& activations, const std::vector<int64_t>& dimensions);
Model LayerNorm(bool use_scale = true, bool use_bias = true, double eps = 1e-5);
Model ElementWiseAffine();
Model LogisticRegression();
Model LinearSVM();
Model KernelizedSVM(const Model& kernel);
Model PolynomialRegression(int64_t degree, std::optional<int64_t> dimension = std::nullopt);
Model L1();
Model L2();
Model QuadraticFormRegularizer();
Model MDS(int64_t prediction_dim, const std::string& input_type = "distances");

// Any model by Mithril class name (case-insensitive): library composites first, then
// primitives. `args` are the constructor arguments of a model dict; model-valued arguments
// (activation, activations, kernel) are model descriptions, resolved with `resolve_model`.
using ModelResolver = std::function<Model(const json& description)>;
Model make_model(const std::string& name, const json& args, const ModelResolver& resolve_model);
bool is_library_model(const std::string& name);

}  // namespace mithril::logical
