#include "cli/train/config.h"

#include <filesystem>

#include "mithril/core/error.h"
#include "mithril/io/file.h"

namespace mithril::train {

namespace {

int64_t get_int(const nlohmann::json& v, const std::string& field, int64_t min) {
  MI_CHECK(v.is_number_integer() && v.get<int64_t>() >= min, ValueError, "[config] '{}' must be an integer >= {}, got {}",
           field, min, v.dump());
  return v.get<int64_t>();
}

double get_number(const nlohmann::json& v, const std::string& field) {
  MI_CHECK(v.is_number() && v.get<double>() >= 0, ValueError, "[config] '{}' must be a number >= 0, got {}", field,
           v.dump());
  return v.get<double>();
}

std::string get_string(const nlohmann::json& v, const std::string& field) {
  MI_CHECK(v.is_string(), ValueError, "[config] '{}' must be a string, got {}", field, v.dump());
  return v.get<std::string>();
}

bool get_bool(const nlohmann::json& v, const std::string& field) {
  MI_CHECK(v.is_boolean(), ValueError, "[config] '{}' must be true or false, got {}", field, v.dump());
  return v.get<bool>();
}

}  // namespace

TrainConfig TrainConfig::from_json(const nlohmann::json& j, const std::string& name, const std::string& base_dir) {
  MI_CHECK(j.is_object(), ValueError, "[config] a training config is a JSON object");
  TrainConfig c;
  c.name = name;
  c.base_dir = base_dir;
  MI_CHECK(j.contains("model") && j.contains("dataset"), ValueError, "[config] 'model' and 'dataset' are required");
  for (const auto& [field, v] : j.items()) {
    if (field == "model") c.model = v;
    else if (field == "model_args") {
      MI_CHECK(v.is_object(), ValueError, "[config] 'model_args' must be an object");
      c.model_args = v;
    } else if (field == "params") {
      MI_CHECK(v.is_object(), ValueError, "[config] 'params' must be an object");
      c.params = v;
    } else if (field == "loss") c.loss = get_string(v, field);
    else if (field == "dataset") {
      MI_CHECK(v.is_object() && v.contains("kind"), ValueError, "[config] 'dataset' must be an object with a 'kind'");
      c.dataset = v;
    } else if (field == "optimizer") c.optimizer = OptimizerConfig::from_json(v);
    else if (field == "schedule") c.schedule = v;
    else if (field == "epochs") c.epochs = get_int(v, field, 1);
    else if (field == "batch_size") c.batch_size = get_int(v, field, 1);
    else if (field == "gradient_accumulation_steps") c.gradient_accumulation_steps = get_int(v, field, 1);
    else if (field == "precision") c.precision = get_string(v, field);
    else if (field == "mixed_precision") {
      if (get_bool(v, field)) c.precision = "bf16";
    } else if (field == "clip_norm") c.clip_norm = get_number(v, field);
    else if (field == "clip_value") c.clip_value = get_number(v, field);
    else if (field == "seed") c.seed = static_cast<uint64_t>(get_int(v, field, 0));
    else if (field == "num_workers") c.num_workers = static_cast<int>(get_int(v, field, 0));
    else if (field == "prefetch_factor") c.prefetch_factor = static_cast<int>(get_int(v, field, 1));
    else if (field == "output_dir") c.output_dir = get_string(v, field);
    else if (field == "checkpoint_dir") c.checkpoint_dir = get_string(v, field);
    else if (field == "checkpoint_every_steps") c.checkpoint_every_steps = get_int(v, field, 0);
    else if (field == "resume") c.resume = get_bool(v, field);
    else if (field == "sample") c.sample = v;
    else if (field == "description") continue;  // free text for readers of the file
    else MI_THROW(ValueError, "[config] unknown field '{}'", field);
  }
  MI_CHECK(c.precision == "f32" || c.precision == "f64" || c.precision == "bf16", ValueError,
           "[config] 'precision' must be f32, f64 or bf16 (mixed precision), got '{}'", c.precision);
  MI_CHECK(c.loss == "cross_entropy" || c.loss == "squared_error", ValueError,
           "[config] 'loss' must be cross_entropy or squared_error, got '{}'", c.loss);
  if (c.output_dir.empty()) c.output_dir = "runs/" + name;
  if (c.checkpoint_dir.empty()) c.checkpoint_dir = c.output_dir;
  return c;
}

TrainConfig TrainConfig::load(const std::string& path) {
  const std::string text = io::read_file(path, "config");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    MI_THROW(ValueError, "[config] {}: not valid JSON: {}", path, e.what());
  }
  const std::filesystem::path p(path);
  return from_json(j, p.stem().string(), p.parent_path().string());
}

std::string TrainConfig::resolve(const std::string& path) const {
  const std::filesystem::path p(path);
  if (p.is_absolute() || base_dir.empty()) return path;
  return (std::filesystem::path(base_dir) / p).string();
}

}  // namespace mithril::train
