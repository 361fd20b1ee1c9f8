#include "mithril/logical/library.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <utility>

#include "mithril/core/error.h"
#include "mithril/logical/model_catalog.h"

namespace mithril::logical {
namespace {

void trainable(Model& m, std::initializer_list<const char*> keys) {
  for (const char* k : keys) m.set_differentiability(std::string(k), true);
}

// The last step of every library constructor: the model remembers its constructor arguments
// as a model dict writes them, all of them with their defaults (absent ones as null), so that
// model_to_dict saves {"name", "args"} and loading calls the same constructor (make_model).
// Model-valued arguments (activation, kernel, cell) hold a null place in `args` and are written
// there as their own model dicts when saving.
Model with_args(Model m, json args, std::vector<std::pair<std::string, Model>> model_args = {}) {
  m.set_args(std::move(args), std::move(model_args));
  return m;
}

json optional_arg(std::optional<int64_t> v) { return v ? json(*v) : json(nullptr); }

}  // namespace

Model Linear(std::optional<int64_t> dimension, bool use_bias) {
  Model m;
  m.set_name("Linear");
  m.add(prim("Transpose"), {{"input", "weight"}, {"output", anonymous()}}, "transpose");
  if (use_bias) {
    m.add(prim("MatrixMultiply"), {{"left", "input"}, {"right", ref("transpose", "output")}, {"output", anonymous()}},
          "matmul");
    m.add(prim("Add"), {{"left", ref("matmul", "output")}, {"right", "bias"}, {"output", "output"}}, "add");
    trainable(m, {"weight", "bias"});
  } else {
    m.add(prim("MatrixMultiply"), {{"left", "input"}, {"right", ref("transpose", "output")}, {"output", "output"}},
          "matmul");
    trainable(m, {"weight"});
  }
  m.set_canonical_input({"matmul", "left"});
  m.set_canonical_output({use_bias ? "add" : "matmul", "output"});
  const json d_out = dimension ? json(*dimension) : json("d_out");
  std::map<std::string, json> shapes = {
      {"input", {"N,...", "d_in"}}, {"weight", {d_out, "d_in"}}, {"output", {"N,...", d_out}}};
  if (use_bias) shapes["bias"] = {d_out};
  m.set_shapes(shapes);
  return with_args(m, {{"dimension", optional_arg(dimension)}, {"use_bias", use_bias}});
}

Model Layer(const Model& activation, std::optional<int64_t> dimension) {
  Model m;
  m.set_name("Layer");
  m.add(Linear(dimension), {{"input", "input"}, {"weight", "weight"}, {"bias", "bias"}, {"output", anonymous()}},
        "linear");
  m.add(activation, {{canonical_port(activation, true), ref("linear", "output")},
                     {canonical_port(activation, false), "output"}},
        "activation");
  m.set_canonical_input({"linear", "input"});
  return with_args(m, {{"activation", nullptr}, {"dimension", optional_arg(dimension)}}, {{"/activation", activation}});
}

Model MLP(const std::vector<Model>& activations, const std::vector<int64_t>& dimensions) {
  MI_CHECK(activations.size() == dimensions.size(), AttributeError,
           "[MLP] {} activations given for {} dimensions", activations.size(), dimensions.size());
  Model m;
  m.set_name("MLP");
  for (size_t i = 0; i < dimensions.size(); ++i) {
    const std::string idx = std::to_string(i);
    const std::string local = "layer" + idx;
    Connection in = i == 0 ? Connection("input") : ref("layer" + std::to_string(i - 1), "output");
    Connection out = i + 1 == dimensions.size() ? Connection("output") : anonymous();
    m.add(Layer(activations[i], dimensions[i]),
          {{"input", in}, {"weight", "weight" + idx}, {"bias", "bias" + idx}, {"output", out}}, local);
  }
  if (!dimensions.empty()) m.set_canonical_input({"layer0", "input"});
  std::vector<std::pair<std::string, Model>> model_args;
  for (size_t i = 0; i < activations.size(); ++i)
    model_args.emplace_back("/activations/" + std::to_string(i), activations[i]);
  return with_args(m, {{"activations", json::array()}, {"dimensions", dimensions}}, std::move(model_args));
}

Model LayerNorm(bool use_scale, bool use_bias, double eps) {
  Model m;
  m.set_name("LayerNorm");
  const json last_axis = {{"axis", -1}, {"keepdim", true}};
  m.add(prim("Mean", last_axis), {{"input", "input"}, {"output", anonymous()}}, "mean");
  m.add(prim("Subtract"), {{"left", "input"}, {"right", ref("mean", "output")}, {"output", anonymous()}}, "center");
  m.add(prim("Variance", last_axis), {{"input", "input"}, {"output", anonymous()}}, "variance");
  m.add(prim("Add"), {{"left", ref("variance", "output")}, {"right", Connection::tensor(eps)}, {"output", anonymous()}},
        "add_eps");
  m.add(prim("Sqrt"), {{"input", ref("add_eps", "output")}, {"output", anonymous()}}, "sqrt");
  std::string last = "normalize";
  m.add(prim("Divide"), {{"numerator", ref("center", "output")}, {"denominator", ref("sqrt", "output")},
                         {"output", (use_scale || use_bias) ? anonymous() : Connection("output")}},
        last);
  if (use_scale) {
    m.add(prim("Multiply"), {{"left", ref(last, "output")}, {"right", "weight"},
                             {"output", use_bias ? anonymous() : Connection("output")}},
          "scale");
    last = "scale";
    trainable(m, {"weight"});
  }
  if (use_bias) {
    m.add(prim("Add"), {{"left", ref(last, "output")}, {"right", "bias"}, {"output", "output"}}, "shift");
    trainable(m, {"bias"});
  }
  m.set_canonical_input({"mean", "input"});
  std::map<std::string, json> shapes = {{"input", {"N,...", "d"}}, {"output", {"N,...", "d"}}};
  if (use_scale) shapes["weight"] = {"d"};
  if (use_bias) shapes["bias"] = {"d"};
  m.set_shapes(shapes);
  return with_args(m, {{"use_scale", use_scale}, {"use_bias", use_bias}, {"eps", eps}});
}

Model ElementWiseAffine() {
  Model m;
  m.set_name("ElementWiseAffine");
  m.add(prim("Multiply"), {{"left", "input"}, {"right", "weight"}, {"output", anonymous()}}, "scale");
  m.add(prim("Add"), {{"left", ref("scale", "output")}, {"right", "bias"}, {"output", "output"}}, "shift");
  trainable(m, {"weight", "bias"});
  return with_args(m, json::object());
}

namespace {
// output = Linear(dimension=1)(input); `second` = fn(output) exposed as `second_name`.
Model linear_with_head(const char* name, const char* head, const char* second_name) {
  Model m;
  m.set_name(name);
  m.add(Linear(1), {{"input", "input"}, {"weight", "weight"}, {"bias", "bias"}, {"output", "output"}}, "linear");
  m.add(prim(head), {{"input", ref("linear", "output")}, {"output", second_name}}, "head");
  m.expose({"output", second_name});
  m.set_canonical_input({"linear", "input"});
  m.set_canonical_output({"linear", "output"});
  return with_args(m, json::object());
}
}  // namespace

Model LogisticRegression() { return linear_with_head("LogisticRegression", "Sigmoid", "probs_output"); }
Model LinearSVM() { return linear_with_head("LinearSVM", "Sign", "decision_output"); }

Model KernelizedSVM(const Model& kernel) {
  Model m;
  m.set_name("KernelizedSVM");
  std::map<std::string, Connection> kc;
  if (const PrimitiveDef* def = kernel.primitive_def()) {
    for (const std::string& p : def->input_names()) kc.emplace(p, Connection(p));
    kc.emplace(canonical_port(kernel, false), Connection("kernel"));
  } else {
    kc = {{"input1", "input1"}, {"input2", "input2"}, {kCanonicalOutput, "kernel"}};
  }
  m.add(kernel, kc, "kernel_model");
  m.add(Linear(1), {{"input", "kernel"}, {"weight", "weight"}, {"bias", "bias"}, {"output", "output"}}, "linear");
  m.expose({"kernel", "output"});
  m.set_canonical_input({"kernel_model", "input1"});
  m.set_canonical_output({"linear", "output"});
  return with_args(m, {{"kernel", nullptr}}, {{"/kernel", kernel}});
}

Model PolynomialRegression(int64_t degree, std::optional<int64_t> dimension) {
  Model m;
  m.set_name("PolynomialRegression");
  m.add(prim("PolynomialFeatures", {{"degree", degree}}), {{"input", "input"}, {"output", anonymous()}}, "features");
  m.add(Linear(dimension), {{"input", ref("features", "output")}, {"weight", "weight"}, {"bias", "bias"},
                            {"output", "output"}},
        "linear");
  m.set_canonical_input({"features", "input"});
  return with_args(m, {{"degree", degree}, {"dimension", optional_arg(dimension)}});
}

Model L1() {
  Model m;
  m.set_name("L1");
  m.add(prim("Absolute"), {{"input", "input"}, {"output", anonymous()}}, "abs");
  m.add(prim("Sum"), {{"input", ref("abs", "output")}, {"output", "output"}}, "sum");
  return with_args(m, json::object());
}

Model L2() {
  Model m;
  m.set_name("L2");
  m.add(prim("Square"), {{"input", "input"}, {"output", anonymous()}}, "square");
  m.add(prim("Sum"), {{"input", ref("square", "output")}, {"output", anonymous()}}, "sum");
  m.add(prim("Multiply"), {{"left", ref("sum", "output")}, {"right", Connection::tensor(0.5)}, {"output", "output"}},
        "half");
  return with_args(m, json::object());
}

Model QuadraticFormRegularizer() {
  Model m;
  m.set_name("QuadraticFormRegularizer");
  m.add(prim("Transpose"), {{"input", "input"}, {"output", anonymous()}}, "transpose");
  m.add(prim("MatrixMultiply"), {{"left", "input"}, {"right", "kernel"}, {"output", anonymous()}}, "left_product");
  m.add(prim("MatrixMultiply"), {{"left", ref("left_product", "output")}, {"right", ref("transpose", "output")},
                                 {"output", anonymous()}},
        "form");
  m.add(prim("Multiply"), {{"left", ref("form", "output")}, {"right", Connection::tensor(0.5)}, {"output", "output"}},
        "half");
  m.set_canonical_input({"left_product", "left"});
  return with_args(m, json::object());
}

Model MDS(int64_t prediction_dim, const std::string& input_type) {
  (void)prediction_dim;  // the coordinates' second dim; shapes come from the data
  MI_CHECK(input_type == "distances" || input_type == "powered_distances" || input_type == "points", AttributeError,
           "[MDS] unknown input_type '{}': expected distances, powered_distances or points", input_type);
  Model m;
  m.set_name("MDS");
  const json no_root = {{"get_final_distance", false}};
  Connection distances("input");
  if (input_type == "points") {
    m.add(prim("EncoderDistanceMatrix", no_root),
          {{"input1", "input"}, {"input2", "input"}, {"norm", "norm"}, {"output", anonymous()}}, "input_distances");
    distances = ref("input_distances", "output");
  }
  m.add(prim("EncoderDistanceMatrix", no_root),
        {{"input1", "coords"}, {"input2", "coords"}, {"norm", "norm"}, {"output", anonymous()}}, "coord_distances");
  m.add(prim("MDSCore", {{"exact_distances", input_type == "distances"}}),
        {{"distances", distances}, {"pred_distances", ref("coord_distances", "output")}, {"norm", "norm"},
         {"output", "output"}},
        "core");
  m.add(prim("Buffer"), {{"input", "coords"}, {"output", "predicted_coords"}}, "coords");
  m.expose({"output", "predicted_coords"});
  trainable(m, {"coords"});
  return with_args(m, {{"prediction_dim", prediction_dim}, {"input_type", input_type}});
}

namespace {

// A recurrent cell's ports by role: `state` outputs X are read back through inputs prev_X
// (hidden, and cell for LSTMCell); `shared` are the other inputs (weights), one key for all steps.
struct CellPorts {
  std::vector<std::string> states, shared;
};

CellPorts cell_ports(const Model& cell) {
  const PrimitiveDef* def = cell.primitive_def();
  MI_CHECK(def && def->port("input") && def->port("output") && def->port("hidden_compl"), AttributeError,
           "[RNN] cell_type must be a recurrent cell (RNNCell, LSTMCell), got {}", cell.name());
  CellPorts c;
  for (const std::string& p : def->input_names()) {
    if (p.rfind("prev_", 0) == 0) c.states.push_back(p.substr(5));
    else if (p != "input") c.shared.push_back(p);
  }
  return c;
}

std::string cell_name(size_t i) { return "cell" + std::to_string(i); }

// Adds step i of an unrolled recurrence: `conns` (its input and outputs) plus the weights, one
// key for all steps, and the states, initial_<state> at step 0, else the previous step's.
void add_cell_step(Model& m, const Model& cell, const CellPorts& ports, size_t i, std::map<std::string, Connection> conns) {
  for (const std::string& k : ports.shared) conns.emplace(k, k);
  for (const std::string& s : ports.states)
    conns.emplace("prev_" + s, i == 0 ? Connection("initial_" + s) : ref(cell_name(i - 1), s));
  m.add(cell, conns, cell_name(i));
}

}  // namespace

Model ManyToOne(const Model& cell, int64_t max_sequence_length) {
  MI_CHECK(max_sequence_length >= 1, AttributeError, "[ManyToOne] max_sequence_length must be at least 1, got {}",
           max_sequence_length);
  const CellPorts ports = cell_ports(cell);
  const auto steps = static_cast<size_t>(max_sequence_length);
  Model m;
  m.set_name("ManyToOne");
  std::vector<std::string> outputs;
  for (size_t i = 0; i < steps; ++i) {
    add_cell_step(m, cell, ports, i, {{"input", "input" + std::to_string(i)}, {"output", "output" + std::to_string(i)}});
    outputs.push_back("output" + std::to_string(i));
  }
  // The final hidden state of every sequence, longest first: the last step's hidden rows, then
  // the rows each earlier step's shorter batch left behind (hidden_compl of the next step).
  std::map<std::string, Connection> parts = {{"input1", ref(cell_name(steps - 1), "hidden")}};
  for (size_t i = steps - 1, n = 2; i >= 1; --i, ++n) parts.emplace("input" + std::to_string(n), ref(cell_name(i), "hidden_compl"));
  m.add(prim("ToList", {{"n", static_cast<int64_t>(parts.size())}}), parts, "hidden_list");
  m.add(prim("Concat", {{"axis", 0}}), {{"input", ref("hidden_list", "output")}, {"output", "hidden_concat"}},
        "hidden_concat");
  outputs.push_back("hidden_concat");
  m.expose(outputs);
  m.set_canonical_input({cell_name(0), "input"});
  m.set_canonical_output({"hidden_concat", "output"});
  return with_args(m, {{"cell_type", nullptr}, {"max_sequence_length", max_sequence_length}}, {{"/cell_type", cell}});
}

Model OneToMany(const Model& cell, int64_t max_sequence_length, bool teacher_forcing) {
  MI_CHECK(max_sequence_length >= 1, AttributeError, "[OneToMany] max_sequence_length must be at least 1, got {}",
           max_sequence_length);
  const CellPorts ports = cell_ports(cell);
  const auto steps = static_cast<size_t>(max_sequence_length);
  Model m;
  m.set_name("OneToMany");
  std::vector<std::string> outputs;
  for (size_t i = 0; i < steps; ++i) {
    const std::string idx = std::to_string(i);
    std::map<std::string, Connection> conns = {{"output", "output" + idx}};
    if (i == 0) {
      conns.emplace("input", "input");
    } else {
      // Step i reads the first N_i rows (N_i = batch of target i) of the previous output, or
      // of the previous target with teacher forcing.
      const Connection source = teacher_forcing ? Connection("target" + std::to_string(i - 1))
                                                : ref(cell_name(i - 1), "output");
      m.add(prim("LeadingSlice"), {{"input", source}, {"like", "target" + idx}, {"output", anonymous()}},
            "step_input" + idx);
      conns.emplace("input", ref("step_input" + idx, "output"));
    }
    add_cell_step(m, cell, ports, i, std::move(conns));
    outputs.push_back("output" + idx);
  }
  m.expose(outputs);
  m.set_canonical_input({cell_name(0), "input"});
  m.set_canonical_output({cell_name(steps - 1), "output"});
  return with_args(m,
                   {{"cell_type", nullptr}, {"max_sequence_length", max_sequence_length}, {"teacher_forcing", teacher_forcing}},
                   {{"/cell_type", cell}});
}

Model EncoderDecoder(const Model& cell, int64_t max_input_sequence_length, int64_t max_target_sequence_length,
                     bool teacher_forcing) {
  const CellPorts ports = cell_ports(cell);
  Model m;
  m.set_name("EncoderDecoder");
  // The encoder keeps its key names; its outputs stay internal, only its final hidden state is used.
  std::map<std::string, Connection> enc;
  for (int64_t i = 0; i < max_input_sequence_length; ++i) enc.emplace("input" + std::to_string(i), "input" + std::to_string(i));
  for (const std::string& k : ports.shared) enc.emplace(k, k);
  for (const std::string& s : ports.states) enc.emplace("initial_" + s, "initial_" + s);
  m.add(ManyToOne(cell, max_input_sequence_length), enc, "encoder");
  // `indices` reorders the encoder's sequences (longest first) into the decoder's order.
  m.add(prim("PermuteTensor"), {{"input", ref("encoder", "hidden_concat")}, {"indices", "indices"},
                                {"output", anonymous()}},
        "permutation");
  // The decoder's keys get a "decoder_" prefix, except the targets; its outputs are the model's.
  std::map<std::string, Connection> dec = {{"initial_hidden", ref("permutation", "output")},
                                           {"input", "decoder_input"}};
  for (const std::string& k : ports.shared) dec.emplace(k, "decoder_" + k);
  for (const std::string& s : ports.states)
    if (s != "hidden") dec.emplace("initial_" + s, "decoder_initial_" + s);
  std::vector<std::string> outputs;
  for (int64_t i = 0; i < max_target_sequence_length; ++i) {
    const std::string idx = std::to_string(i);
    if (i > 0 || teacher_forcing) dec.emplace("target" + idx, "target" + idx);  // target0 feeds step 1 (forcing)
    dec.emplace("output" + idx, "output" + idx);
    outputs.push_back("output" + idx);
  }
  m.add(OneToMany(cell, max_target_sequence_length, teacher_forcing), dec, "decoder");
  m.expose(outputs);
  m.set_canonical_input({"encoder", kCanonicalInput});
  m.set_canonical_output({"decoder", kCanonicalOutput});
  return with_args(m,
                   {{"cell_type", nullptr},
                    {"max_input_sequence_length", max_input_sequence_length},
                    {"max_target_sequence_length", max_target_sequence_length},
                    {"teacher_forcing", teacher_forcing}},
                   {{"/cell_type", cell}});
}

bool is_library_model(const std::string& name) { return find_library_model(name) != nullptr; }

const std::vector<std::string>& library_model_names() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    for (const ModelInfo& m : model_catalog())
      if (m.library) names.push_back(m.name);
    return names;
  }();
  return kNames;
}

Model make_model(const std::string& name, const json& args, const ModelResolver& resolve_model) {
  const std::string l = lowercase(name);
  std::set<std::string> used;
  auto arg = [&](const char* key) -> const json* {
    used.insert(key);
    const auto it = args.find(key);
    return it == args.end() || it->is_null() ? nullptr : &*it;
  };
  // Typed readers: a dimension of 256.5 or "256" is an error, not 256.
  auto integer = [&](const char* key, const json& v) {
    MI_CHECK(v.is_number_integer(), AttributeError, "[{}] argument '{}' must be an integer, got {}", name, key,
             v.dump());
    return v.get<int64_t>();
  };
  auto opt_int = [&](const char* key) -> std::optional<int64_t> {
    const json* v = arg(key);
    return v ? std::optional<int64_t>(integer(key, *v)) : std::nullopt;
  };
  auto opt_bool = [&](const char* key, bool fallback) {
    const json* v = arg(key);
    MI_CHECK(!v || v->is_boolean(), AttributeError, "[{}] argument '{}' must be true or false, got {}", name, key,
             v ? v->dump() : "");
    return v ? v->get<bool>() : fallback;
  };
  // The constructor recorded its arguments (with_args), so the model saves as it does when
  // built in C++; here only unknown arguments are rejected.
  const ModelInfo* info = find_library_model(name);
  auto check_args = [&](Model m) {
    for (const auto& [k, v] : args.items())
      MI_CHECK(used.count(k), AttributeError, "[{}] unknown argument '{}' (valid: {})", m.name(), k,
               info->args.empty() ? std::string("none") : fmt::format("{}", fmt::join(info->args, ", ")));
    return m;
  };
  MI_CHECK(args.is_object() || args.is_null(), AttributeError, "[{}] arguments must be a JSON object, got {}", name,
           args.dump());
  if (info == nullptr) {
    if (!is_primitive(name)) throw_unknown_model(name);
    return Model::primitive(name, args);
  }
  if (l == "linear") {
    return check_args(Linear(opt_int("dimension"), opt_bool("use_bias", true)));
  }
  if (l == "layer") {
    const json* act = arg("activation");
    MI_CHECK(act != nullptr, AttributeError, "[Layer] missing argument 'activation'");
    return check_args(Layer(resolve_model(*act), opt_int("dimension")));
  }
  if (l == "mlp") {
    const json* acts = arg("activations");
    const json* dims = arg("dimensions");
    MI_CHECK(acts && dims && acts->is_array() && dims->is_array(), AttributeError,
             "[MLP] needs list arguments 'activations' and 'dimensions'");
    std::vector<Model> am;
    for (const json& a : *acts) am.push_back(resolve_model(a));
    std::vector<int64_t> dv;
    for (const json& v : *dims) dv.push_back(integer("dimensions", v));
    return check_args(MLP(am, dv));
  }
  if (l == "layernorm") {
    const bool use_scale = opt_bool("use_scale", true), use_bias = opt_bool("use_bias", true);
    const json* e = arg("eps");
    MI_CHECK(!e || e->is_number(), AttributeError, "[LayerNorm] argument 'eps' must be a number, got {}",
             e ? e->dump() : "");
    return check_args(LayerNorm(use_scale, use_bias, e ? e->get<double>() : 1e-5));
  }
  if (l == "elementwiseaffine") return check_args(ElementWiseAffine());
  if (l == "logisticregression") return check_args(LogisticRegression());
  if (l == "linearsvm") return check_args(LinearSVM());
  if (l == "kernelizedsvm") {
    const json* k = arg("kernel");
    MI_CHECK(k != nullptr, AttributeError, "[KernelizedSVM] missing argument 'kernel'");
    return check_args(KernelizedSVM(resolve_model(*k)));
  }
  if (l == "polynomialregression") {
    const json* d = arg("degree");
    MI_CHECK(d != nullptr, AttributeError, "[PolynomialRegression] missing argument 'degree'");
    return check_args(PolynomialRegression(integer("degree", *d), opt_int("dimension")));
  }
  if (l == "l1") return check_args(L1());
  if (l == "l2") return check_args(L2());
  if (l == "quadraticformregularizer") return check_args(QuadraticFormRegularizer());
  if (l == "manytoone" || l == "onetomany" || l == "encoderdecoder") {
    const json* c = arg("cell_type");
    MI_CHECK(c != nullptr, AttributeError, "[{}] missing argument 'cell_type'", name);
    const Model cell = resolve_model(*c);
    auto required_int = [&](const char* key) {
      const auto v = opt_int(key);
      MI_CHECK(v.has_value(), AttributeError, "[{}] missing argument '{}'", name, key);
      return *v;
    };
    if (l == "manytoone") return check_args(ManyToOne(cell, required_int("max_sequence_length")));
    // Read only by the models that take it, so that ManyToOne reports it as unknown.
    const bool teacher_forcing = opt_bool("teacher_forcing", false);
    if (l == "onetomany") return check_args(OneToMany(cell, required_int("max_sequence_length"), teacher_forcing));
    return check_args(EncoderDecoder(cell, required_int("max_input_sequence_length"),
                                     required_int("max_target_sequence_length"), teacher_forcing));
  }
  MI_ASSERT(l == "mds");
  const json* t = arg("input_type");
  const auto pd = opt_int("prediction_dim");
  MI_CHECK(!t || t->is_string(), AttributeError, "[MDS] argument 'input_type' must be a string, got {}",
           t ? t->dump() : "");
  return check_args(MDS(pd.value_or(2), t ? t->get<std::string>() : "distances"));
}

}  // namespace mithril::logical
