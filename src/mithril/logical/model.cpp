#include "mithril/logical/model.h"

#include <algorithm>

#include "mithril/core/error.h"
#include "mithril/logical/shape_inference.h"

namespace mithril::logical {

Connection Connection::scalar(json v) {
  Connection c{IOKey{}};
  c.kind = Kind::scalar;
  c.value = std::move(v);
  return c;
}

Connection Connection::tensor(json data) {
  Connection c{IOKey{}};
  c.kind = Kind::tensor;
  c.value = std::move(data);
  return c;
}

Model prim(const std::string& name, const json& args) { return Model::primitive(name, args); }

Connection ref(const std::string& submodel, const std::string& port) {
  IOKey k;
  k.connect.push_back(SubPort{submodel, port});
  return Connection(k);
}

Connection ref(const SubPort& port) { return ref(port.submodel, port.port); }

Connection anonymous() { return Connection(IOKey{}); }

Model::Model() : impl_(std::make_shared<ModelImpl>()) {}

Model::Model(PrimitiveDef primitive) : impl_(std::make_shared<ModelImpl>()) {
  impl_->name = primitive.name;
  impl_->primitive = std::move(primitive);
}

Model Model::primitive(const std::string& name, const json& args) {
  Model m(make_primitive(name, args));
  m.set_args(args);
  return m;
}

void Model::detach() {
  if (impl_.use_count() > 1) impl_ = std::make_shared<ModelImpl>(*impl_);
}

void Model::drop_args() {
  if (impl_->primitive) return;  // a primitive's args are its attributes, never its structure
  impl_->args.reset();
  impl_->model_args.clear();
  impl_->constructor_shape_sets = impl_->constructor_differentiabilities = impl_->constructor_exposed = 0;
}

std::string canonical_port(const Model& m, bool input) {
  if (const PrimitiveDef* def = m.primitive_def()) {
    const auto names = input ? def->input_names() : def->output_names();
    const std::string preferred = input ? "input" : "output";
    if (std::find(names.begin(), names.end(), preferred) != names.end()) return preferred;
    MI_CHECK(!names.empty(), KeyError, "[{}] has no {} port", m.name(), input ? "input" : "output");
    return names.front();
  }
  return input ? kCanonicalInput : kCanonicalOutput;
}

Model& Model::add(const Model& sub, std::map<std::string, Connection> connections, std::string local_name) {
  MI_CHECK(!is_primitive(), ValueError, "[{}] submodels cannot be added to a primitive model", name());
  if (local_name.empty()) local_name = fmt::format("m{}", impl_->submodels.size());
  MI_CHECK(!impl_->local_names.count(local_name), KeyError, "[{}] a submodel named '{}' already exists", name(),
           local_name);
  detach();
  impl_->submodels.push_back({local_name, sub, std::move(connections)});
  impl_->local_names.insert(local_name);
  try {
    check_added_submodel(*this, impl_->shape_check);  // shape conflicts are reported where they are made
  } catch (...) {
    impl_->submodels.pop_back();  // a rejected submodel leaves the model as it was
    impl_->local_names.erase(local_name);
    throw;
  }
  drop_args();  // only once the submodel is in: a failed add keeps a library model's args
  return *this;
}

Model& Model::operator|=(const Block& block) { return add(block.model, block.connections); }
Model& Model::operator|=(const Model& sub) { return add(sub); }

Model& Model::operator+=(const Block& block) {
  std::map<std::string, Connection> conns = block.connections;
  if (!impl_->submodels.empty()) {
    const Submodel& prev = impl_->submodels.back();
    const std::string in_port = canonical_port(block.model, true);
    const std::string prev_out = canonical_port(prev.model, false);
    auto it = conns.find(in_port);
    if (it == conns.end()) {
      IOKey k;
      k.connect.push_back(SubPort{prev.local_name, prev_out});
      conns.emplace(in_port, Connection(k));
    } else {
      MI_CHECK(it->second.kind == Connection::Kind::key, ValueError,
               "[{}] += cannot wire the canonical input '{}' of {}: it is connected to a value", name(), in_port,
               block.model.name());
      it->second.key.connect.push_back(SubPort{prev.local_name, prev_out});
    }
  }
  return add(block.model, std::move(conns));
}

Model& Model::operator+=(const Model& sub) { return *this += Block(sub, {}); }

Block Model::connect(std::map<std::string, Connection> connections) const { return Block(*this, std::move(connections)); }

void Model::expose(const std::vector<std::string>& keys) {
  detach();
  for (const auto& k : keys)
    if (std::find(impl_->exposed.begin(), impl_->exposed.end(), k) == impl_->exposed.end()) impl_->exposed.push_back(k);
}

void Model::set_differentiability(const std::string& key, bool differentiable) {
  detach();
  impl_->differentiabilities.emplace_back(key, differentiable);
}

void Model::set_differentiability(const SubPort& port, bool differentiable) {
  detach();
  impl_->differentiabilities.emplace_back(port, differentiable);
}

void Model::set_shapes(const std::map<std::string, json>& shapes) {
  detach();
  impl_->shape_check.reset();  // a model with shapes of its own is checked whole (check_added_submodel)
  impl_->shape_sets.push_back(shapes);
  try {
    check_model_shapes(*this);
  } catch (...) {
    impl_->shape_sets.pop_back();  // rejected shapes are not kept, so later checks do not fail on them
    throw;
  }
}

void Model::set_canonical_input(const SubPort& port) {
  detach();
  drop_args();
  impl_->canonical_input = port;
}

void Model::set_canonical_output(const SubPort& port) {
  detach();
  drop_args();
  impl_->canonical_output = port;
}

void Model::set_name(std::string name) {
  detach();
  if (name != impl_->name) drop_args();  // the dict name says which constructor the args are for
  impl_->name = std::move(name);
}

void Model::set_args(json args, std::vector<std::pair<std::string, Model>> model_args) {
  detach();
  impl_->args = std::move(args);
  impl_->model_args = std::move(model_args);
  impl_->shape_check.reset();  // a finished library model rarely grows: free what its adds kept
  impl_->constructor_shape_sets = impl_->shape_sets.size();
  impl_->constructor_differentiabilities = impl_->differentiabilities.size();
  impl_->constructor_exposed = impl_->exposed.size();
}

const std::string& Model::name() const { return impl_->name; }
bool Model::is_primitive() const { return impl_->primitive.has_value(); }
const PrimitiveDef* Model::primitive_def() const { return impl_->primitive ? &*impl_->primitive : nullptr; }

std::vector<std::string> Model::submodel_names() const {
  std::vector<std::string> out;
  for (const Submodel& s : impl_->submodels) out.push_back(s.local_name);
  return out;
}

}  // namespace mithril::logical
