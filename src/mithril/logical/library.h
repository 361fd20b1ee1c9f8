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
// Recurrent sequence models over a cell (RNNCell or LSTMCell), unrolled over a maximum length,
// with Mithril's key names. Sequences are sorted longest first and step t sees a batch of N_t
// rows (README 4.4). The cell's weights are one set of keys shared by all steps.
// ManyToOne: inputs input0.., initial_<state>; outputs output0.. and hidden_concat (the final
// hidden state of every sequence: [M, 1, d_hid]).
Model ManyToOne(const Model& cell, int64_t max_sequence_length);
// OneToMany: input, initial_<state>, target1.. (their first dim is the batch of each step);
// step t reads the previous step's output, or target t-1 with teacher forcing; outputs output0...
Model OneToMany(const Model& cell, int64_t max_sequence_length, bool teacher_forcing = false);
// EncoderDecoder: a ManyToOne encoder whose hidden_concat, reordered by `indices`
// (PermuteTensor), is the initial hidden state of a OneToMany decoder; decoder keys are prefixed
// "decoder_" (decoder_input, decoder_w_ih, ...) except the targets; outputs are the decoder's.
Model EncoderDecoder(const Model& cell, int64_t max_input_sequence_length, int64_t max_target_sequence_length,
                     bool teacher_forcing = false);

// Any model by Mithril class name (case-insensitive): library composites first, then
// primitives. `args` are the constructor arguments of a model dict; model-valued arguments
// (activation, activations, kernel) are model descriptions, resolved with `resolve_model`.
using ModelResolver = std::function<Model(const json& description)>;
Model make_model(const std::string& name, const json& args, const ModelResolver& resolve_model);
bool is_library_model(const std::string& name);
// The library composites by Mithril class name, as make_model knows them (the Python package
// makes one class of each).
const std::vector<std::string>& library_model_names();

}  // namespace mithril::logical
