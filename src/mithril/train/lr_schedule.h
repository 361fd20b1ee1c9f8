// Learning-rate schedules: constant, step decay and cosine annealing, each optionally preceded by
// a linear warm-up. The learning rate is a pure function of the optimizer step, so a resumed run
// gets the same rates as an uninterrupted one.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace mithril::train {

struct LrSchedule {
  std::string kind = "constant";  // constant, step, cosine
  double base_lr = 1e-3;
  int64_t warmup_steps = 0;  // linear warm-up: step s < warmup uses base_lr * (s + 1) / warmup
  int64_t step_size = 1;     // step: base_lr * gamma^floor((s - warmup) / step_size)
  double gamma = 0.1;
  int64_t total_steps = 0;   // cosine: anneals from base_lr to min_lr over [warmup, total_steps)
  double min_lr = 0.0;

  // The learning rate of optimizer step `step` (0 for the first update).
  double at(int64_t step) const;

  // {"kind": "cosine", "warmup_steps": 100, "min_lr": 0} (fields as above, base_lr and
  // total_steps come from the run); unknown fields are a ValueError.
  static LrSchedule from_json(const nlohmann::json& j, double base_lr, int64_t total_steps);
};

}  // namespace mithril::train
