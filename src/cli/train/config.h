// The run configuration of `mithril train CONFIG.json`: which model (a built-in network or a
// Mithril model dict), which data, the optimizer and schedule, the loop settings, precision and
// where checkpoints and metrics go. Every field is validated when read; an unknown field or a
// wrong type is a ValueError naming the field. docs/TRAINING.md lists the fields.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mithril/train/lr_schedule.h"
#include "mithril/train/optimizer.h"

namespace mithril::train {

struct TrainConfig {
  std::string name;                 // the config file's stem ("digits_mlp")
  std::string base_dir;             // the config file's directory: relative paths start here
  nlohmann::json model;             // "mlp" | "lenet" | "char_gpt" | a model dict | "file.json"
  nlohmann::json model_args = nlohmann::json::object();
  nlohmann::json params = nlohmann::json::object();  // model dicts: key -> {shape, init, scale}
  std::string loss = "cross_entropy";                // or "squared_error"
  nlohmann::json dataset;                            // {"kind": ..., ...}
  OptimizerConfig optimizer;
  nlohmann::json schedule;  // LrSchedule::from_json
  int64_t epochs = 10;
  int64_t batch_size = 32;
  int64_t gradient_accumulation_steps = 1;
  // f32, f64 or bf16: mixed precision, bf16 compute on float32 master weights ("mixed_precision":
  // true in the file is the same as "precision": "bf16").
  std::string precision = "f32";
  double clip_norm = 0.0, clip_value = 0.0;
  uint64_t seed = 0;
  int num_workers = 1, prefetch_factor = 2;
  std::string output_dir;            // metrics.csv, metrics.json, final.safetensors; default runs/<name>
  std::string checkpoint_dir;        // default output_dir
  int64_t checkpoint_every_steps = 0;  // 0: at the end of every epoch only
  bool resume = false;               // continue from checkpoint_dir/last.safetensors when present
  nlohmann::json sample = nullptr;   // text models: {"prompt", "length", "temperature"}

  static TrainConfig from_json(const nlohmann::json& j, const std::string& name, const std::string& base_dir);
  static TrainConfig load(const std::string& path);
  std::string resolve(const std::string& path) const;  // relative to base_dir
};

// ValueError "[config] unknown field 'hiden' in 'model_args (mlp)', did you mean 'hidden'? (valid:
// hidden)" for a field of `object` not in `valid`; `where` names the object.
void check_known_fields(const nlohmann::json& object, const std::string& where, const std::vector<std::string>& valid);

}  // namespace mithril::train
