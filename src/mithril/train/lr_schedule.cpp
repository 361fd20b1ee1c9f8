#include "mithril/train/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "mithril/core/error.h"

namespace mithril::train {

double LrSchedule::at(int64_t step) const {
  MI_CHECK(step >= 0, ValueError, "[lr schedule] step {} is negative", step);
  if (step < warmup_steps) return base_lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  const int64_t s = step - warmup_steps;
  if (kind == "constant") return base_lr;
  if (kind == "step") return base_lr * std::pow(gamma, static_cast<double>(s / step_size));
  if (kind == "cosine") {
    const int64_t span = std::max<int64_t>(1, total_steps - warmup_steps);
    const double progress = std::min(1.0, static_cast<double>(s) / static_cast<double>(span));
    return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
  }
  MI_THROW(ValueError, "[lr schedule] unknown kind '{}': expected constant, step or cosine", kind);
}

LrSchedule LrSchedule::from_json(const nlohmann::json& j, double base_lr, int64_t total_steps) {
  LrSchedule s;
  s.base_lr = base_lr;
  s.total_steps = total_steps;
  if (j.is_null()) return s;
  MI_CHECK(j.is_object(), ValueError, "[lr schedule] expects an object such as {{\"kind\": \"cosine\"}}, got {}", j.dump());
  auto integer = [](const nlohmann::json& v, const std::string& f) {
    MI_CHECK(v.is_number_integer() && v.get<int64_t>() >= 0, ValueError,
             "[lr schedule] '{}' must be a non-negative integer, got {}", f, v.dump());
    return v.get<int64_t>();
  };
  auto number = [](const nlohmann::json& v, const std::string& f) {
    MI_CHECK(v.is_number(), ValueError, "[lr schedule] '{}' must be a number, got {}", f, v.dump());
    return v.get<double>();
  };
  for (const auto& [field, v] : j.items()) {
    if (field == "kind") {
      MI_CHECK(v.is_string(), ValueError, "[lr schedule] 'kind' must be a string");
      s.kind = v.get<std::string>();
    } else if (field == "warmup_steps") s.warmup_steps = integer(v, field);
    else if (field == "step_size") s.step_size = integer(v, field);
    else if (field == "gamma") s.gamma = number(v, field);
    else if (field == "min_lr") s.min_lr = number(v, field);
    else MI_THROW(ValueError, "[lr schedule] unknown field '{}' (valid: kind, warmup_steps, step_size, gamma, min_lr)", field);
  }
  MI_CHECK(s.kind == "constant" || s.kind == "step" || s.kind == "cosine", ValueError,
           "[lr schedule] unknown kind '{}': expected constant, step or cosine", s.kind);
  MI_CHECK(s.step_size > 0, ValueError, "[lr schedule] step_size must be > 0");
  return s;
}

}  // namespace mithril::train
