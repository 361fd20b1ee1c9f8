#include "mithril/train/optimizer.h"

#include <cmath>
#include <set>
#include <type_traits>

#include "mithril/core/error.h"
#include "mithril/train/float_data.h"

namespace mithril::train {

namespace {

double number(const nlohmann::json& j, const std::string& field) {
  MI_CHECK(j.is_number(), ValueError, "[optimizer] '{}' must be a number, got {}", field, j.dump());
  return j.get<double>();
}

// Calls rule(p, g, s) for each element with p, g and the slot values s[0..] as doubles, writing
// p and s back in the parameter's dtype.
template <typename Rule>
void apply(const std::string& key, Tensor& param, const Tensor& grad, std::vector<Tensor>& slots, Rule rule) {
  const Tensor grad_as_param = grad.dtype() == param.dtype() ? grad.contiguous() : grad.astype(param.dtype());
  with_float_data(param, "[optimizer] parameter ", key, "optimizers update f32 or f64 (master) weights", [&](auto* p) {
    using T = std::remove_pointer_t<decltype(p)>;
    const T* g = grad_as_param.data<T>();
    std::vector<T*> s;
    for (Tensor& t : slots) s.push_back(t.data<T>());
    double sv[2] = {0.0, 0.0};
    const int64_t n = param.numel();
    for (int64_t i = 0; i < n; ++i) {
      double x = static_cast<double>(p[i]);
      for (size_t k = 0; k < s.size(); ++k) sv[k] = static_cast<double>(s[k][i]);
      rule(x, static_cast<double>(g[i]), sv);
      p[i] = static_cast<T>(x);
      for (size_t k = 0; k < s.size(); ++k) s[k][i] = static_cast<T>(sv[k]);
    }
  });
}

}  // namespace

OptimizerConfig OptimizerConfig::from_json(const nlohmann::json& j) {
  MI_CHECK(j.is_object(), ValueError, "[optimizer] expects an object such as {{\"name\": \"adam\", \"lr\": 0.001}}, got {}",
           j.dump());
  OptimizerConfig c;
  for (const auto& [field, v] : j.items()) {
    if (field == "name") {
      MI_CHECK(v.is_string(), ValueError, "[optimizer] 'name' must be a string");
      c.name = v.get<std::string>();
    } else if (field == "lr") c.lr = number(v, field);
    else if (field == "weight_decay") c.weight_decay = number(v, field);
    else if (field == "momentum") c.momentum = number(v, field);
    else if (field == "dampening") c.dampening = number(v, field);
    else if (field == "nesterov") {
      MI_CHECK(v.is_boolean(), ValueError, "[optimizer] 'nesterov' must be true or false");
      c.nesterov = v.get<bool>();
    } else if (field == "betas") {
      MI_CHECK(v.is_array() && v.size() == 2, ValueError, "[optimizer] 'betas' must be [beta1, beta2]");
      c.beta1 = number(v[0], "betas");
      c.beta2 = number(v[1], "betas");
    } else if (field == "alpha") c.alpha = number(v, field);
    else if (field == "eps") c.eps = number(v, field);
    else
      MI_THROW(ValueError,
               "[optimizer] unknown field '{}' (valid: name, lr, weight_decay, momentum, dampening, nesterov, betas, "
               "alpha, eps)",
               field);
  }
  const std::set<std::string> known = {"sgd", "adam", "adamw", "rmsprop"};
  MI_CHECK(known.count(c.name), ValueError, "[optimizer] unknown optimizer '{}': expected sgd, adam, adamw or rmsprop",
           c.name);
  return c;
}

Optimizer::Optimizer(OptimizerConfig config) : config_(std::move(config)) {
  const OptimizerConfig& c = config_;
  MI_CHECK(c.name == "sgd" || c.name == "adam" || c.name == "adamw" || c.name == "rmsprop", ValueError,
           "[optimizer] unknown optimizer '{}': expected sgd, adam, adamw or rmsprop", c.name);
  MI_CHECK(c.lr >= 0 && c.weight_decay >= 0 && c.momentum >= 0, ValueError,
           "[optimizer] lr, weight_decay and momentum must be >= 0 (lr {}, weight_decay {}, momentum {})", c.lr,
           c.weight_decay, c.momentum);
  MI_CHECK(!c.nesterov || (c.momentum > 0 && c.dampening == 0), ValueError,
           "[optimizer] Nesterov momentum needs momentum > 0 and dampening 0");
  MI_CHECK(c.beta1 >= 0 && c.beta1 < 1 && c.beta2 >= 0 && c.beta2 < 1, ValueError,
           "[optimizer] betas must lie in [0, 1), got ({}, {})", c.beta1, c.beta2);
}

std::vector<std::string> Optimizer::slot_names() const {
  const std::string& n = config_.name;
  if (n == "sgd") return config_.momentum > 0 ? std::vector<std::string>{"momentum_buffer"} : std::vector<std::string>{};
  if (n == "rmsprop") {
    if (config_.momentum > 0) return {"square_avg", "momentum_buffer"};
    return {"square_avg"};
  }
  return {"exp_avg", "exp_avg_sq"};
}

void Optimizer::step(TensorMap& params, const TensorMap& grads, double lr) {
  const int64_t t = steps_ + 1;
  const OptimizerConfig& c = config_;
  const std::vector<std::string> names = slot_names();
  for (auto& [key, param] : params) {
    const auto it = grads.find(key);
    MI_CHECK(it != grads.end(), KeyError, "[optimizer] no gradient for parameter '{}'", key);
    MI_CHECK(it->second.shape() == param.shape(), ShapeError, "[optimizer] gradient of '{}' has shape {}, parameter {}",
             key, shape_str(it->second.shape()), shape_str(param.shape()));
    if (!param.is_contiguous()) param = param.contiguous();
    std::vector<Tensor>& slots = slots_[key];
    if (slots.size() != names.size()) {
      slots.clear();
      for (size_t i = 0; i < names.size(); ++i) slots.push_back(Tensor::zeros(param.shape(), param.dtype()));
    }
    const double wd = c.weight_decay;
    if (c.name == "sgd") {
      apply(key, param, it->second, slots, [&](double& p, double g, double* s) {
        g += wd * p;
        if (c.momentum > 0) {
          s[0] = t == 1 ? g : c.momentum * s[0] + (1 - c.dampening) * g;
          g = c.nesterov ? g + c.momentum * s[0] : s[0];
        }
        p -= lr * g;
      });
    } else if (c.name == "adam" || c.name == "adamw") {
      const bool decoupled = c.name == "adamw";
      const double bc1 = 1 - std::pow(c.beta1, static_cast<double>(t));
      const double bc2 = 1 - std::pow(c.beta2, static_cast<double>(t));
      apply(key, param, it->second, slots, [&](double& p, double g, double* s) {
        if (decoupled) p *= 1 - lr * wd;
        else g += wd * p;
        s[0] = c.beta1 * s[0] + (1 - c.beta1) * g;
        s[1] = c.beta2 * s[1] + (1 - c.beta2) * g * g;
        p -= lr * (s[0] / bc1) / (std::sqrt(s[1] / bc2) + c.eps);
      });
    } else {  // rmsprop
      apply(key, param, it->second, slots, [&](double& p, double g, double* s) {
        g += wd * p;
        s[0] = c.alpha * s[0] + (1 - c.alpha) * g * g;
        const double scaled = g / (std::sqrt(s[0]) + c.eps);
        if (c.momentum > 0) {
          s[1] = c.momentum * s[1] + scaled;
          p -= lr * s[1];
        } else {
          p -= lr * scaled;
        }
      });
    }
  }
  steps_ = t;
}

TensorMap Optimizer::state() const {
  TensorMap out;
  const std::vector<std::string> names = slot_names();
  for (const auto& [key, slots] : slots_)
    for (size_t i = 0; i < slots.size(); ++i) out[names[i] + "/" + key] = slots[i];
  return out;
}

void Optimizer::load_state(const TensorMap& state, int64_t steps) {
  const std::vector<std::string> names = slot_names();
  std::map<std::string, std::vector<Tensor>> slots;
  for (const auto& [name, t] : state) {
    const size_t slash = name.find('/');
    MI_CHECK(slash != std::string::npos, ValueError, "[optimizer] state entry '{}' is not '<slot>/<key>'", name);
    const std::string slot = name.substr(0, slash), key = name.substr(slash + 1);
    size_t i = 0;
    while (i < names.size() && names[i] != slot) ++i;
    MI_CHECK(i < names.size(), ValueError, "[optimizer] state slot '{}' does not belong to {} (slots: {})", slot,
             config_.name, fmt::join(names, ", "));
    auto& v = slots[key];
    v.resize(names.size());
    v[i] = t.clone();
  }
  for (const auto& [key, v] : slots)
    for (size_t i = 0; i < v.size(); ++i)
      MI_CHECK(v[i].defined(), ValueError, "[optimizer] state of '{}' lacks slot '{}'", key, names[i]);
  MI_CHECK(steps >= 0, ValueError, "[optimizer] step count {} is negative", steps);
  slots_ = std::move(slots);
  steps_ = steps;
}

}  // namespace mithril::train
