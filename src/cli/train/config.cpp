#include "cli/train/config.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <vector>

#include "mithril/core/closest.h"
#include "mithril/core/error.h"
#include "mithril/io/file.h"
#include "mithril/io/json_parse.h"

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

// The fields each object of the config may have; anything else is a typo that would otherwise
// train with a default silently.
const std::vector<std::string> kTopFields = {
    "model", "model_args", "params", "loss", "dataset", "optimizer", "schedule", "epochs", "batch_size",
    "gradient_accumulation_steps", "precision", "mixed_precision", "clip_norm", "clip_value", "seed", "num_workers",
    "prefetch_factor", "output_dir", "checkpoint_dir", "checkpoint_every_steps", "resume", "sample", "description"};
const std::map<std::string, std::vector<std::string>> kModelArgs = {
    {"mlp", {"hidden"}}, {"lenet", {"conv1", "conv2", "hidden"}}, {"char_gpt", {"d_model", "heads", "layers", "mlp_ratio"}}};
const std::vector<std::string> kTensorDatasetFields = {"input_shape", "test_fraction", "split_seed"};
const std::map<std::string, std::vector<std::string>> kDatasetFields = {
    {"digits", {"path"}},
    {"csv", {"path", "test_path", "label_column", "scale"}},
    {"npz", {"path", "test_path", "fields"}},
    {"npy", {"fields"}},
    {"idx", {"images", "labels", "test_images", "test_labels", "scale"}},
    {"text", {"paths", "context", "stride", "test_fraction"}}};

std::vector<std::string> dataset_fields(const std::string& kind) {
  std::vector<std::string> valid = {"kind"};
  const auto it = kDatasetFields.find(kind);
  MI_CHECK(it != kDatasetFields.end(), ValueError,
           "[config] unknown dataset kind '{}': expected digits, csv, npz, npy, idx or text", kind);
  valid.insert(valid.end(), it->second.begin(), it->second.end());
  if (kind != "text") valid.insert(valid.end(), kTensorDatasetFields.begin(), kTensorDatasetFields.end());
  return valid;
}

}  // namespace

void check_known_fields(const nlohmann::json& object, const std::string& where, const std::vector<std::string>& valid) {
  MI_CHECK(object.is_object(), ValueError, "[config] '{}' must be an object, got {}", where, object.dump());
  for (const auto& [field, v] : object.items()) {
    if (std::find(valid.begin(), valid.end(), field) != valid.end()) continue;
    const std::vector<std::string> near = closest_names(field, valid, 1);
    MI_THROW(ValueError, "[config] unknown field '{}' in '{}'{} (valid: {})", field, where,
             near.empty() ? std::string() : fmt::format(", did you mean '{}'?", near[0]),
             valid.empty() ? std::string("none") : fmt::format("{}", fmt::join(valid, ", ")));
  }
}

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
    else check_known_fields(nlohmann::json{{field, v}}, "the config", kTopFields);
  }
  // The objects read later, when data and model are built, are checked here: before any data is read.
  MI_CHECK(c.dataset.at("kind").is_string(), ValueError, "[config] 'dataset.kind' must be a string");
  check_known_fields(c.dataset, "dataset", dataset_fields(c.dataset.at("kind").get<std::string>()));
  if (c.model.is_string() && kModelArgs.count(c.model.get<std::string>())) {
    const std::string& net = c.model.get_ref<const std::string&>();
    check_known_fields(c.model_args, "model_args (" + net + ")", kModelArgs.at(net));
  } else {
    MI_CHECK(c.model_args.empty(), ValueError,
             "[config] 'model_args' apply to the built-in networks (mlp, lenet, char_gpt) only; a model dict takes its "
             "arguments in the dict");
  }
  for (const auto& [key, spec] : c.params.items()) check_known_fields(spec, "params." + key, {"shape", "init", "scale"});
  if (!c.sample.is_null()) check_known_fields(c.sample, "sample", {"prompt", "length", "temperature"});
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
  const nlohmann::json j = io::parse_json(text, fmt::format("[config] {}", path));
  const std::filesystem::path p(path);
  return from_json(j, p.stem().string(), p.parent_path().string());
}

std::string TrainConfig::resolve(const std::string& path) const {
  const std::filesystem::path p(path);
  if (p.is_absolute() || base_dir.empty()) return path;
  return (std::filesystem::path(base_dir) / p).string();
}

}  // namespace mithril::train
