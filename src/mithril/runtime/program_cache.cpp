// Signatures (what a program is specialised on) and the program cache: one program per
// signature, or under jit = false one per kind, re-planned when the signature changes.
#include "mithril/runtime/physical_model_impl.h"

#include <mutex>

#include "mithril/core/error.h"
#include "mithril/runtime/input_checks.h"

namespace mithril {

std::string PhysicalModel::Impl::Signature::key() const {
  std::string k = gradients ? "g" : "f";
  size_t t = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    k += is_list[i] ? "|list" + std::to_string(counts[i]) : "|";
    for (uint32_t j = 0; j < counts[i]; ++j, ++t) k += std::string(dtype_name(dtypes[t])) + shape_str(shapes[t]);
  }
  for (const std::string& c : cotangent_keys) k += "|ct:" + c;
  return k;
}

bool PhysicalModel::Impl::Program::accepts(const std::vector<const Tensor*>& feed, const std::vector<uint32_t>& counts,
                                           const DataMap* output_gradients) const {
  if (signature.gradients != (output_gradients != nullptr) || counts != signature.counts) return false;
  for (size_t i = 0; i < feed.size(); ++i)
    if (feed[i]->dtype() != signature.dtypes[i] || feed[i]->shape() != signature.shapes[i]) return false;
  if (!output_gradients) return true;
  if (output_gradients->size() != signature.cotangent_keys.size()) return false;
  size_t i = 0;
  for (const auto& [key, gv] : *output_gradients)
    if (key != signature.cotangent_keys[i++]) return false;
  return true;
}

void PhysicalModel::Impl::cast_to_precision(std::vector<const Tensor*>& feed, std::vector<Tensor>& casts) const {
  casts.clear();
  if (options.static_types) return;
  const DType precision = options.precision();
  for (const Tensor*& t : feed) {
    if (!is_float(t->dtype()) || t->dtype() == precision) continue;
    if (casts.empty()) casts.reserve(feed.size());  // feed keeps pointers into it: no reallocation
    casts.push_back(t->astype(precision));
    t = &casts.back();
  }
}

PhysicalModel::Impl::Signature PhysicalModel::Impl::signature_of(const std::vector<const Tensor*>& feed,
                                                                 const std::vector<uint32_t>& counts,
                                                                 const DataMap* output_gradients) const {
  Signature sig;
  sig.counts = counts;
  size_t t = 0;
  for (size_t i = 0; i < input_keys.size(); ++i) {
    const bool list = input_is_list[i];
    sig.is_list.push_back(list);
    for (uint32_t j = 0; j < counts[i]; ++j, ++t) {
      const Tensor& x = *feed[t];
      if (options.static_shapes && options.safe_shapes) {
        const auto s = options.shapes.find(input_keys[i]);
        MI_CHECK(!list && s != options.shapes.end() && x.shape() == s->second, ShapeError,
                 "[evaluate] input '{}' has shape {} but the model was compiled with static shape {}", input_keys[i],
                 shape_str(x.shape()), s == options.shapes.end() ? "(none)" : shape_str(s->second));
      }
      MI_CHECK(!options.static_types || x.dtype() == options.precision(), DTypeError,
               "[evaluate] input '{}' has dtype {} but the model was compiled with static dtype {}", input_keys[i],
               dtype_name(x.dtype()), dtype_name(options.precision()));
      sig.shapes.push_back(x.shape());
      sig.dtypes.push_back(x.dtype());
    }
  }
  if (output_gradients) {
    sig.gradients = true;
    for (const auto& [key, gv] : *output_gradients) sig.cotangent_keys.push_back(key);
  }
  return sig;
}

PhysicalModel::Impl::Signature PhysicalModel::Impl::static_signature(bool gradients) const {
  Signature sig;
  std::vector<std::string> missing;
  for (size_t i = 0; i < input_keys.size(); ++i) {
    const std::string& key = input_keys[i];
    const auto s = options.shapes.find(key);
    MI_CHECK(!input_is_list[i], ValueError, "[compile] static_shapes: '{}' is a list of tensors, which has no single static shape", key);
    if (s == options.shapes.end()) {
      missing.push_back(key);
      continue;
    }
    sig.add_tensor(s->second, options.precision());
  }
  MI_CHECK(missing.empty(), KeyError, "[compile] static_shapes needs a shape for every input; missing: {}",
           fmt::join(missing, ", "));
  sig.set_all_cotangents(gradients, output_keys);
  return sig;
}

std::shared_ptr<const PhysicalModel::Impl::Program> PhysicalModel::Impl::program_for(const Signature& sig) const {
  const std::string key = sig.key();
  // jit=false: one slot per kind, whose program is replaced when the signature changes.
  const std::string slot = options.jit ? key : (sig.gradients ? "gradients" : "forward");
  {
    std::lock_guard<std::mutex> lock(cache_mutex);
    if (const auto it = programs.find(slot); it != programs.end() && (options.jit || it->second->signature.key() == key))
      return last_program = it->second;
  }
  std::shared_ptr<const Program> p;
  if (options.jit || !options.safe_shapes) {
    p = build_program(sig);
  } else {
    try {
      p = build_program(sig);
    } catch (const ShapeError&) {
      check_symbolic(sig);  // names the input that breaks the model's symbolic shapes, if one does
      throw;
    }
  }
  std::lock_guard<std::mutex> lock(cache_mutex);
  if (!options.jit) return last_program = programs[slot] = std::move(p);
  if (programs.size() >= kMaxPrograms) programs.clear();  // many shapes: start over rather than grow
  return last_program = programs.emplace(key, std::move(p)).first->second;
}

void PhysicalModel::Impl::check_symbolic(const Signature& sig) const {
  std::vector<KeyShape> fixed, given;
  for (const auto& [e, d] : constants)
    if (!d.is_list) fixed.push_back({e, name(e), d.tensor.shape()});
  size_t t = 0;
  for (size_t i = 0; i < input_keys.size(); t += sig.counts[i], ++i)
    if (!sig.is_list[i]) given.push_back({*flat.find(input_keys[i]), input_keys[i], sig.shapes[t]});
  check_symbolic_shapes(flat, fixed, given);
}

PhysicalModel::ProgramCacheStats PhysicalModel::program_cache() const {
  std::lock_guard<std::mutex> lock(impl_->cache_mutex);
  return {impl_->programs.size(), impl_->builds.load()};
}

}  // namespace mithril
