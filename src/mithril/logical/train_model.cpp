#include "mithril/logical/train_model.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <regex>
#include <set>

#include "mithril/core/error.h"
#include "mithril/logical/flatten.h"
#include "mithril/ops/shape.h"

// Size normalisation D of a regularization term on key p (README section 3): for every loss
// whose value depends on p, the product of the sizes its Mean/Min/Max steps reduce (Sum steps do
// not count, so a Sum-only loss contributes 1), then the geometric mean over those losses.
//
// Design: the sizes are only known from the data, so D is computed inside the graph by a private
// primitive ("RegularizationScale", one per regularized key) whose ports are wired to the input of
// every counting reduce step of the dependent losses (the steps' axes, constructor arguments, are
// captured when the model is built). compile() builds the graph per evaluation with concrete
// shapes, so the primitive reads the shapes of those tensors and emits D as a graph constant: it
// takes no part in the gradient, exactly like Mithril's shape-derived factor. Which losses depend
// on p is decided when the model is built, by reachability over the flattened wrapped model (the
// loss value depends on the keys its model output depends on, plus its target key).

namespace mithril::logical {
namespace {

PortDef port(std::string name, PortKind kind) {
  PortDef p;
  p.name = std::move(name);
  p.kind = kind;
  return p;
}

bool has_port(const Model& m, const std::string& port) {
  const PrimitiveDef* def = m.primitive_def();
  return def != nullptr && def->port(port) != nullptr;
}

// Reduce steps that divide by (or select among) the reduced elements count towards D.
bool counts_size(const Model& step) {
  const std::string n = lowercase(step.name());
  return n == "mean" || n == "min" || n == "max";
}

// What the training wrapper needs to know about the wrapped model's keys.
struct WrappedKeys {
  std::vector<std::string> named;    // every named key, internal ones included
  std::vector<std::string> inputs;   // named input keys (candidates for regex regularizations)
  std::vector<std::string> outputs;  // declared output keys, in order
  std::map<std::string, std::set<std::string>> depends_on;  // named key -> named inputs it depends on

  // Keys of the training model: the wrapped model's inputs and declared outputs, connected under
  // their names. Its internal keys stay internal, as in Mithril.
  bool visible(const std::string& k) const {
    return std::count(inputs.begin(), inputs.end(), k) || std::count(outputs.begin(), outputs.end(), k);
  }
};

WrappedKeys wrapped_keys(const Model& model) {
  const FlatModel flat = flatten(model);
  WrappedKeys w;
  // Input dependencies of every edge, propagated through the calls in topological order.
  std::vector<std::set<std::string>> deps(flat.edges.size());
  for (const auto& [name, e] : flat.keys) {
    const Edge& edge = flat.edges[static_cast<size_t>(e)];
    if (!edge.user_named || name != edge.name) continue;
    w.named.push_back(name);
    if (edge.producer < 0) {
      w.inputs.push_back(name);
      deps[static_cast<size_t>(e)].insert(name);
    }
  }
  for (const PrimCall& call : flat.calls) {
    std::set<std::string> in;
    for (const PortDef& p : call.def.ports)
      if (p.kind != PortKind::output) {
        const auto& d = deps[static_cast<size_t>(call.ports.at(p.name))];
        in.insert(d.begin(), d.end());
      }
    for (const PortDef& p : call.def.ports)
      if (p.kind == PortKind::output) deps[static_cast<size_t>(call.ports.at(p.name))] = in;
  }
  for (const auto& [name, e] : flat.keys)
    if (flat.edges[static_cast<size_t>(e)].user_named) w.depends_on[name] = deps[static_cast<size_t>(e)];
  // Mithril's output keys are declared: a primitive's or library model's outputs, or the keys a
  // user composite exposes. A user composite exposing nothing has none (compile() falls back to
  // its canonical outputs only when it is compiled on its own).
  const ModelImpl& impl = *model.impl();
  bool exposes = !impl.exposed.empty();
  for (const Submodel& sub : impl.submodels)
    for (const auto& [port, conn] : sub.connections)
      exposes = exposes || (conn.kind == Connection::Kind::key && conn.key.expose);
  if (model.is_primitive() || model.name() != "Model" || exposes)
    for (EdgeId e : flat.outputs)
      if (flat.edges[static_cast<size_t>(e)].user_named) w.outputs.push_back(flat.name(e));
  return w;
}

// atleast_1d of each per-loss value, concatenated along axis 0 (the combiner's input).
Model loss_concat(size_t n) {
  PrimitiveDef def;
  def.name = "Concat";
  for (size_t i = 0; i < n; ++i) def.ports.push_back(port("input" + std::to_string(i + 1), PortKind::tensor_input));
  def.ports.push_back(port("output", PortKind::output));
  def.build = [n](Graph&, const PortValues& in) {
    std::vector<Var> parts;
    for (size_t i = 0; i < n; ++i) {
      const Var v = *in.at("input" + std::to_string(i + 1)).tensor;
      parts.push_back(v.shape().empty() ? ops::reshape(v, {1}) : v);
    }
    return std::map<std::string, Var>{{"output", ops::concat(parts, 0)}};
  };
  return Model(def);
}

// A Mean/Min/Max reduce step: its local name and its `axis` (null: all axes).
struct SizeStep {
  std::string local;
  json axis;
};

// One loss of the training model, as the size normalisation needs it.
struct LossInfo {
  SubPort value;                      // the reduced loss value L_i
  std::vector<SizeStep> size_steps;   // its Mean/Min/Max steps
  std::set<std::string> depends_on;   // named keys of the training model L_i depends on
};

// D for one regularized key, from the dependent losses' counting steps (see the file comment).
// Ports: input_<l>_<s>, the tensor reduced by step s of dependent loss l.
Model regularization_scale(const std::vector<const LossInfo*>& losses) {
  PrimitiveDef def;
  def.name = "RegularizationScale";
  std::vector<std::vector<json>> steps;  // per dependent loss, the axis of each counting step
  for (size_t l = 0; l < losses.size(); ++l) {
    steps.emplace_back();
    for (size_t s = 0; s < losses[l]->size_steps.size(); ++s) {
      steps.back().push_back(losses[l]->size_steps[s].axis);
      def.ports.push_back(port("input_" + std::to_string(l) + "_" + std::to_string(s), PortKind::tensor_input));
    }
  }
  def.ports.push_back(port("output", PortKind::output));
  def.build = [steps](Graph& graph, const PortValues& in) {
    double product = 1.0;
    DType dtype = DType::f64;
    for (size_t l = 0; l < steps.size(); ++l)
      for (size_t s = 0; s < steps[l].size(); ++s) {
        const Var x = *in.at("input_" + std::to_string(l) + "_" + std::to_string(s)).tensor;
        const Shape shape = x.shape();
        dtype = x.dtype();
        const json& axis = steps[l][s];
        Axes axes;
        if (axis.is_null()) {
          for (size_t d = 0; d < shape.size(); ++d) axes.push_back(static_cast<int64_t>(d));
        } else if (axis.is_array()) {
          axes = normalize_axes(axis.get<Axes>(), static_cast<int64_t>(shape.size()), "RegularizationScale");
        } else {
          axes = {normalize_axis(axis.get<int64_t>(), static_cast<int64_t>(shape.size()), "RegularizationScale")};
        }
        for (int64_t a : axes) product *= static_cast<double>(shape[static_cast<size_t>(a)]);
      }
    const double d = steps.size() == 1 ? product : std::pow(product, 1.0 / static_cast<double>(steps.size()));
    return std::map<std::string, Var>{{"output", graph.constant(Tensor::scalar(d, dtype))}};
  };
  return Model(def);
}

}  // namespace

TrainModel::TrainModel(Model model) : model_(std::move(model)) {}

void TrainModel::add_loss(LossSpec spec) { losses_.push_back(std::move(spec)); }

void TrainModel::add_regularization(RegularizationSpec spec) { regularizations_.push_back(std::move(spec)); }

void TrainModel::set_loss_combiner(Model combiner) { combiner_ = std::move(combiner); }

Model TrainModel::build() const {
  MI_CHECK(!losses_.empty(), ValueError, "[TrainModel] requires at least one loss");
  const WrappedKeys keys = wrapped_keys(model_);
  auto is_key = [&](const std::string& k) { return std::count(keys.named.begin(), keys.named.end(), k) > 0; };

  Model t;
  t.set_name("TrainModel");
  std::map<std::string, Connection> model_conns;
  for (const std::string& k : keys.named)
    if (keys.visible(k)) model_conns.emplace(k, Connection(k));
  t.add(model_, std::move(model_conns), "model");

  // Losses and their reduce steps.
  std::vector<LossInfo> losses;
  for (size_t i = 0; i < losses_.size(); ++i) {
    const LossSpec& spec = losses_[i];
    // A loss on an internal key (not a declared output) reads a new input of that name, as in
    // Mithril, where the wrapped model's internal keys are not keys of the training model.
    MI_CHECK(is_key(spec.output_key), KeyError, "[TrainModel] the model has no output '{}' to attach a loss to",
             spec.output_key);
    const std::string local = "loss" + std::to_string(i);
    const std::string out_port = canonical_port(spec.loss, false);
    std::map<std::string, Connection> conns{{canonical_port(spec.loss, true), Connection(spec.output_key)},
                                            {out_port, anonymous()}};
    LossInfo info;
    if (keys.visible(spec.output_key)) info.depends_on = keys.depends_on.at(spec.output_key);
    info.depends_on.insert(spec.output_key);
    if (spec.target_key) {
      MI_CHECK(has_port(spec.loss, "target") || !spec.loss.is_primitive(), ValueError,
               "[TrainModel] loss {} has no target port for target key '{}'", spec.loss.name(), *spec.target_key);
      conns.emplace("target", Connection(*spec.target_key));
      info.depends_on.insert(*spec.target_key);
      if (keys.visible(*spec.target_key)) {
        const auto& d = keys.depends_on.at(*spec.target_key);
        info.depends_on.insert(d.begin(), d.end());
      }
    }
    t.add(spec.loss, std::move(conns), local);
    SubPort prev{local, out_port};
    const std::vector<Model> steps = spec.reduce_steps.empty() ? std::vector<Model>{Model::primitive("Mean")}
                                                               : spec.reduce_steps;
    for (size_t s = 0; s < steps.size(); ++s) {
      const std::string step_local = local + "_reduce" + std::to_string(s);
      const std::string step_out = canonical_port(steps[s], false);
      t.add(steps[s], {{canonical_port(steps[s], true), ref(prev)}, {step_out, anonymous()}}, step_local);
      if (counts_size(steps[s])) {
        const PortDef* axis = steps[s].is_primitive() ? steps[s].primitive_def()->port("axis") : nullptr;
        info.size_steps.push_back({step_local, axis && axis->default_value ? *axis->default_value : json()});
      }
      prev = {step_local, step_out};
    }
    info.value = prev;
    losses.push_back(std::move(info));
  }

  // The loss: L_1, or combiner(concat(atleast_1d(L_i))).
  const bool regularized = !regularizations_.empty();
  const Connection final_key = Connection("final_cost");
  SubPort loss_value = losses.front().value;
  if (losses.size() > 1) {
    std::map<std::string, Connection> conns{{"output", anonymous()}};
    for (size_t i = 0; i < losses.size(); ++i) conns.emplace("input" + std::to_string(i + 1), ref(losses[i].value));
    t.add(loss_concat(losses.size()), std::move(conns), "loss_concat");
    const Model combiner = combiner_.value_or(Model::primitive("Sum"));
    const std::string out_port = canonical_port(combiner, false);
    t.add(combiner, {{canonical_port(combiner, true), ref("loss_concat", "output")},
                     {out_port, regularized ? anonymous() : final_key}},
          "loss_combiner");
    loss_value = {"loss_combiner", out_port};
  } else if (!regularized) {
    t.add(Model::primitive("Buffer"), {{"input", ref(loss_value)}, {"output", final_key}}, "final_cost");
  }

  // Regularization terms coef * R / D, added to the loss.
  std::map<std::string, std::optional<std::string>> scales;  // regularized key -> D's local name (none: D = 1)
  auto scale_of = [&](const std::string& key) -> std::optional<std::string> {
    if (const auto it = scales.find(key); it != scales.end()) return it->second;
    std::vector<const LossInfo*> dependent;
    for (const LossInfo& l : losses)
      if (l.depends_on.count(key)) dependent.push_back(&l);
    const bool counts = std::any_of(dependent.begin(), dependent.end(),
                                    [](const LossInfo* l) { return !l->size_steps.empty(); });
    std::optional<std::string> local;
    if (counts) {  // otherwise every factor is 1
      local = "scale_" + key;
      std::map<std::string, Connection> conns{{"output", anonymous()}};
      for (size_t l = 0; l < dependent.size(); ++l)
        for (size_t s = 0; s < dependent[l]->size_steps.size(); ++s)
          conns.emplace("input_" + std::to_string(l) + "_" + std::to_string(s),
                        ref(dependent[l]->size_steps[s].local, "input"));
      t.add(regularization_scale(dependent), std::move(conns), *local);
    }
    scales.emplace(key, local);
    return local;
  };

  std::vector<SubPort> terms;
  for (const RegularizationSpec& spec : regularizations_) {
    std::vector<std::string> targets;
    if (spec.regex) {
      const std::regex pattern(spec.input, std::regex::ECMAScript);
      for (const std::string& k : keys.inputs)
        if (std::regex_search(k, pattern)) targets.push_back(k);
      MI_CHECK(!targets.empty(), KeyError,
               "[TrainModel] no input key of the model matches the regularization pattern '{}'", spec.input);
    } else {
      MI_CHECK(is_key(spec.input), KeyError, "[TrainModel] the model has no key '{}' to regularize", spec.input);
      targets.push_back(spec.input);
    }
    const json coef = spec.coef.is_object() && spec.coef.contains("tensor") ? spec.coef.at("tensor") : spec.coef;
    for (const std::string& key : targets) {
      const std::string local = "reg" + std::to_string(terms.size());
      const std::string out_port = canonical_port(spec.regularizer, false);
      std::map<std::string, Connection> conns{{"input", Connection(key)}, {out_port, anonymous()}};
      for (const auto& [port, model_key] : spec.other_ports) conns.emplace(port, Connection(model_key));
      t.add(spec.regularizer, std::move(conns), local);
      // A regularizer may give a one-element matrix (QuadraticFormRegularizer: [1,1]); the cost is a scalar.
      t.add(Model::primitive("Sum"), {{"input", ref(local, out_port)}, {"output", anonymous()}}, local + "_sum");
      t.add(Model::primitive("Multiply"),
            {{"left", ref(local + "_sum", "output")}, {"right", Connection::tensor(coef)}, {"output", anonymous()}},
            local + "_coef");
      SubPort term{local + "_coef", "output"};
      if (const auto scale = scale_of(key)) {
        t.add(Model::primitive("Divide"),
              {{"numerator", ref(term)}, {"denominator", ref(*scale, "output")}, {"output", anonymous()}},
              local + "_normalized");
        term = {local + "_normalized", "output"};
      }
      terms.push_back(term);
    }
  }
  SubPort acc = loss_value;
  for (size_t i = 0; i < terms.size(); ++i) {
    const std::string local = "add_reg" + std::to_string(i);
    t.add(Model::primitive("Add"),
          {{"left", ref(acc)}, {"right", ref(terms[i])}, {"output", i + 1 == terms.size() ? final_key : anonymous()}},
          local);
    acc = {local, "output"};
  }

  std::vector<std::string> exposed = keys.outputs;
  exposed.push_back("final_cost");
  t.expose(exposed);
  return t;
}

}  // namespace mithril::logical
