#include "cli/train/run.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "cli/parallel_run.h"
#include "cli/train/metrics_log.h"
#include "cli/train/progress.h"
#include "mithril/core/checked.h"
#include "mithril/core/error.h"
#include "mithril/io/file.h"
#include "mithril/io/json_parse.h"
#include "mithril/logical/model_dict.h"
#include "mithril/logical/train_model.h"
#include "mithril/runtime/compile_options.h"
#include "mithril/train/dataset.h"
#include "mithril/train/models.h"
#include "mithril/train/trainer.h"

namespace mithril::train {

namespace {

using json = nlohmann::json;

// Reads dataset fields with messages naming "dataset.<field>".
struct Fields {
  const json& j;
  std::string str(const std::string& f, const std::string& fallback = "") const {
    if (!j.contains(f)) {
      MI_CHECK(!fallback.empty(), ValueError, "[config] dataset '{}' needs '{}'", j.value("kind", ""), f);
      return fallback;
    }
    MI_CHECK(j[f].is_string(), ValueError, "[config] dataset.{} must be a string", f);
    return j[f].get<std::string>();
  }
  double num(const std::string& f, double fallback) const {
    if (!j.contains(f)) return fallback;
    MI_CHECK(j[f].is_number(), ValueError, "[config] dataset.{} must be a number", f);
    return j[f].get<double>();
  }
  int64_t integer(const std::string& f, int64_t fallback) const {
    if (!j.contains(f)) return fallback;
    MI_CHECK(j[f].is_number_integer() && j[f].get<int64_t>() >= 1, ValueError, "[config] dataset.{} must be an integer >= 1",
             f);
    return j[f].get<int64_t>();
  }
  std::map<std::string, std::string> map(const std::string& f) const {
    MI_CHECK(j.contains(f) && j[f].is_object(), ValueError, "[config] dataset.{} must be an object of strings", f);
    std::map<std::string, std::string> m;
    for (const auto& [k, v] : j[f].items()) {
      MI_CHECK(v.is_string(), ValueError, "[config] dataset.{}.{} must be a string", f, k);
      m[k] = v.get<std::string>();
    }
    return m;
  }
};

struct Data {
  std::shared_ptr<const Dataset> train, test;
  Shape input_shape;        // one sample's input
  int64_t classes = 0;      // 1 + the largest target (classification); the vocabulary for text
  std::shared_ptr<const CharTextDataset> text;  // text models: vocabulary, entropy, sampling
};

int64_t num_classes(const TensorDataset& d) {
  const auto it = d.fields().find("target");
  MI_CHECK(it != d.fields().end(), ValueError, "[config] the dataset has no 'target' field");
  if (is_float(it->second.dtype())) return 0;
  double m = -1;
  for (double v : it->second.to_doubles()) m = std::max(m, v);
  return static_cast<int64_t>(m) + 1;
}

// An optional "input_shape" reshapes every sample's input (e.g. 64 pixels -> [1, 8, 8]).
std::shared_ptr<TensorDataset> reshaped(const std::shared_ptr<TensorDataset>& d, const json& spec) {
  auto fields = d->fields();
  Tensor& x = fields.at("input");
  if (spec.contains("input_shape")) {
    Shape s = {x.dim(0)};
    for (const auto& v : spec["input_shape"]) {
      MI_CHECK(v.is_number_integer(), ValueError, "[config] dataset.input_shape must list integers");
      s.push_back(v.get<int64_t>());
    }
    MI_CHECK(numel(s) == x.numel(), ShapeError, "[config] dataset.input_shape {} does not hold a sample of shape {}",
             spec["input_shape"].dump(), shape_str(Shape(x.shape().begin() + 1, x.shape().end())));
    x = x.reshape(s);
  }
  if (is_float(x.dtype()) && x.dtype() != DType::f32) x = x.astype(DType::f32);
  return std::make_shared<TensorDataset>(std::move(fields));
}

Data tensor_data(const TrainConfig& c, std::shared_ptr<TensorDataset> train, std::shared_ptr<TensorDataset> test) {
  const Fields f{c.dataset};
  Data d;
  train = reshaped(train, c.dataset);
  d.classes = num_classes(*train);
  const Tensor& x = train->fields().at("input");
  d.input_shape = Shape(x.shape().begin() + 1, x.shape().end());
  if (test) {
    test = reshaped(test, c.dataset);
    d.classes = std::max(d.classes, num_classes(*test));
    d.train = train;
    d.test = test;
  } else {
    const auto seed = static_cast<uint64_t>(f.num("split_seed", static_cast<double>(c.seed)));
    const Split s = train_test_split(train, f.num("test_fraction", 0.2), seed);
    d.train = s.train;
    d.test = s.test;
  }
  return d;
}

Data text_data(const TrainConfig& c) {
  const Fields f{c.dataset};
  MI_CHECK(c.dataset.contains("paths") && c.dataset["paths"].is_array() && !c.dataset["paths"].empty(), ValueError,
           "[config] a text dataset needs 'paths': a list of text files");
  std::string text;
  for (const auto& p : c.dataset["paths"]) {
    MI_CHECK(p.is_string(), ValueError, "[config] dataset.paths must list file names");
    if (!text.empty()) text += "\n";
    text += io::read_file_maybe_gz(c.resolve(p.get<std::string>()), "text");
  }
  const int64_t context = f.integer("context", 64);
  const double test_fraction = f.num("test_fraction", 0.1);
  MI_CHECK(test_fraction > 0 && test_fraction < 1, ValueError, "[config] dataset.test_fraction must lie in (0, 1)");
  const auto cut = static_cast<size_t>(static_cast<double>(text.size()) * (1 - test_fraction));
  auto all = std::make_shared<const CharTextDataset>(text, context, context);
  auto train = std::make_shared<CharTextDataset>(text.substr(0, cut), context, f.integer("stride", 1), all->vocabulary());
  // The test windows do not overlap: every test character is predicted once.
  auto test = std::make_shared<CharTextDataset>(text.substr(cut), context, context, all->vocabulary());
  Data d;
  d.train = train;
  d.test = test;
  d.text = all;
  d.classes = static_cast<int64_t>(all->vocabulary().size());
  d.input_shape = {context};
  return d;
}

Data build_data(const TrainConfig& c) {
  const Fields f{c.dataset};
  const std::string kind = f.str("kind");
  if (kind == "digits") return tensor_data(c, load_digits(c.resolve(f.str("path", kDigitsPath))), nullptr);
  if (kind == "text") return text_data(c);
  auto optional_test = [&](auto load) -> std::shared_ptr<TensorDataset> {
    return c.dataset.contains("test_path") ? load(c.resolve(f.str("test_path"))) : nullptr;
  };
  if (kind == "csv") {
    const CsvOptions o{.label_column = static_cast<int64_t>(f.num("label_column", -1)), .scale = f.num("scale", 1.0)};
    auto load = [&](const std::string& p) { return load_csv(p, o); };
    return tensor_data(c, load(c.resolve(f.str("path"))), optional_test(load));
  }
  if (kind == "npz") {
    const auto members = f.map("fields");
    auto load = [&](const std::string& p) { return load_npz_fields(p, members); };
    return tensor_data(c, load(c.resolve(f.str("path"))), optional_test(load));
  }
  if (kind == "npy") {
    auto files = f.map("fields");
    for (auto& [field, p] : files) p = c.resolve(p);
    return tensor_data(c, load_npy_fields(files), nullptr);
  }
  if (kind == "idx") {
    const double scale = f.num("scale", 1.0 / 255.0);
    auto train = load_idx(c.resolve(f.str("images")), c.resolve(f.str("labels")), scale);
    std::shared_ptr<TensorDataset> test;
    if (c.dataset.contains("test_images"))
      test = load_idx(c.resolve(f.str("test_images")), c.resolve(f.str("test_labels")), scale);
    return tensor_data(c, train, test);
  }
  MI_THROW(ValueError, "[config] unknown dataset kind '{}': expected digits, csv, npz, npy, idx or text", kind);
}

int64_t arg_int(const json& args, const std::string& key, int64_t fallback) {
  if (!args.contains(key)) return fallback;
  MI_CHECK(args[key].is_number_integer() && args[key].get<int64_t>() >= 1, ValueError,
           "[config] model_args.{} must be an integer >= 1", key);
  return args[key].get<int64_t>();
}

// A list of integers >= min: a dimension of 256.5 is an error, not 256.
std::vector<int64_t> int_list(const json& v, const std::string& field, int64_t min) {
  const auto ok = [&](const json& x) { return x.is_number_integer() && x.get<int64_t>() >= min; };
  MI_CHECK(v.is_array() && std::all_of(v.begin(), v.end(), ok), ValueError,
           "[config] {} must be a list of integers >= {}, got {}", field, min, v.dump());
  return v.get<std::vector<int64_t>>();
}

Network build_network(const TrainConfig& c, const Data& d) {
  const json& a = c.model_args;
  if (c.model.is_string()) {
    const std::string name = c.model.get<std::string>();
    if (name == "mlp") {
      std::vector<int64_t> hidden = {128};
      if (a.contains("hidden")) hidden = int_list(a["hidden"], "model_args.hidden", 1);
      MI_CHECK(d.input_shape.size() == 1, ShapeError, "[config] mlp needs flat inputs, got samples of shape {}",
               shape_str(d.input_shape));
      return mlp_classifier(d.input_shape[0], hidden, d.classes);
    }
    if (name == "lenet") {
      MI_CHECK(d.input_shape.size() == 3 && d.input_shape[1] == d.input_shape[2], ShapeError,
               "[config] lenet needs square images [C, H, W] (dataset.input_shape), got {}", shape_str(d.input_shape));
      return lenet(d.input_shape[0], d.input_shape[1], d.classes, arg_int(a, "conv1", 8), arg_int(a, "conv2", 16),
                   arg_int(a, "hidden", 64));
    }
    if (name == "char_gpt") {
      MI_CHECK(d.text != nullptr, ValueError, "[config] char_gpt needs a text dataset");
      return char_gpt({.vocab = d.classes, .context = d.input_shape[0], .d_model = arg_int(a, "d_model", 64),
                       .heads = arg_int(a, "heads", 4), .layers = arg_int(a, "layers", 2),
                       .mlp_ratio = arg_int(a, "mlp_ratio", 4)});
    }
  }
  Network net;
  if (c.model.is_string()) {
    const std::string path = c.model.get<std::string>();
    MI_CHECK(path.size() > 5 && path.substr(path.size() - 5) == ".json", ValueError,
             "[config] model '{}' is neither a built-in network (mlp, lenet, char_gpt) nor a model dict file (.json)", path);
    net.model = logical::load_model_dict(c.resolve(path));
  } else {
    net.model = logical::model_from_dict(c.model, "model");
  }
  for (const auto& [key, spec] : c.params.items()) {
    MI_CHECK(spec.is_object() && spec.contains("shape"), ValueError, "[config] params.{} needs a 'shape'", key);
    ParamInit p;
    p.shape = int_list(spec["shape"], "params." + key + ".shape", 0);
    checked_numel(p.shape, fmt::format("[config] params.{}.shape", key));
    p.kind = spec.value("init", std::string("uniform"));
    const int64_t fan_in = p.shape.size() >= 2 ? numel(p.shape) / p.shape[0] : std::max<int64_t>(1, numel(p.shape));
    p.scale = spec.value("scale", 1.0 / std::sqrt(static_cast<double>(fan_in)));
    net.params[key] = p;
  }
  return net;
}

logical::Model objective(const TrainConfig& c, const logical::Model& net) {
  if (c.loss == "cross_entropy") return classification_objective(net);
  logical::TrainModel tm(net);
  tm.add_loss({logical::Model::primitive("SquaredError"), "output", "target", {logical::Model::primitive("Mean")}});
  return tm.build();
}

// Continues `prompt` by `length` characters, sampling from softmax(logits / temperature).
std::string sample_text(const CharTextDataset& text, const Network& net, const TensorMap& params, const json& spec,
                        Rng rng) {
  const std::string prompt = spec.value("prompt", std::string("\n"));
  const int64_t length = spec.value("length", int64_t{200});
  const double temperature = spec.value("temperature", 0.8);
  MI_CHECK(!prompt.empty() && length >= 0 && temperature > 0, ValueError,
           "[config] sample needs a non-empty prompt, length >= 0 and temperature > 0");
  CompileOptions co;
  co.inference = true;
  co.set_precision(DType::f32);
  const PhysicalModel pm = compile(net.model, co);
  const Tensor& pos = params.at("pos_emb");
  const int64_t context = pos.dim(0);
  std::vector<int32_t> ids;
  for (char ch : prompt) ids.push_back(text.encode(ch));
  std::string out = prompt;
  for (int64_t i = 0; i < length; ++i) {
    const auto t = static_cast<int64_t>(std::min<size_t>(ids.size(), static_cast<size_t>(context)));
    std::vector<int32_t> window(ids.end() - t, ids.end());
    DataMap in;
    for (const auto& [k, v] : params) in[k] = v;
    in["pos_emb"] = pos.slice(0, 0, t).contiguous();
    in["input"] = Tensor::from_vector(window, {1, t});
    const Tensor logits = pm.evaluate(in).at("output").tensor;  // [1, V, t]
    const int64_t v = logits.dim(1);
    std::vector<double> p(static_cast<size_t>(v));
    double m = -INFINITY;
    for (int64_t k = 0; k < v; ++k) m = std::max(m, p[static_cast<size_t>(k)] = logits.at({0, k, t - 1}) / temperature);
    double sum = 0;
    for (double& x : p) sum += (x = std::exp(x - m));
    double r = rng.uniform() * sum;
    int64_t pick = 0;
    while (pick < v - 1 && (r -= p[static_cast<size_t>(pick)]) > 0) ++pick;
    ids.push_back(static_cast<int32_t>(pick));
    out.push_back(text.vocabulary()[static_cast<size_t>(pick)]);
  }
  return out;
}

}  // namespace

json run_training(const TrainConfig& config, const RunOptions& options) {
  const auto run_start = std::chrono::steady_clock::now();
  const int64_t epochs = options.epochs.value_or(config.epochs);
  const bool resume = options.resume.value_or(config.resume);
  CompileOptions co = options.compile_options.empty() ? CompileOptions{} : load_compile_options(options.compile_options);
  const cli::ParallelRun par = cli::parallel_run(co, "train");
  // Only rank 0 prints; the others' progress goes nowhere.
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> devnull(par.leader() ? nullptr : std::fopen("/dev/null", "w"),
                                                          [](std::FILE* f) { return f ? std::fclose(f) : 0; });
  std::FILE* out = par.leader() ? options.out : devnull.get();

  const Data data = build_data(config);
  const Network net = build_network(config, data);
  const bool mixed = config.precision == "bf16";
  const DType master = config.precision == "f64" ? DType::f64 : DType::f32;
  co.set_precision(mixed ? DType::bf16 : master);
  const PhysicalModel model = compile(objective(config, net.model), co);
  Rng init_rng = Rng::stream(config.seed, 1);
  const TensorMap params = init_params(net.params, init_rng, master);
  int64_t parameter_count = 0;
  for (const auto& [k, t] : params) parameter_count += t.numel();

  DataLoader train_loader(data.train, {.batch_size = config.batch_size, .shuffle = true, .num_workers = config.num_workers,
                                       .prefetch_factor = config.prefetch_factor, .seed = config.seed,
                                       .rank = par.rank, .world_size = par.world});
  DataLoader test_loader(data.test, {.batch_size = std::max<int64_t>(config.batch_size, 256),
                                     .num_workers = config.num_workers, .prefetch_factor = config.prefetch_factor,
                                     .rank = par.rank, .world_size = par.world});
  const int64_t per_step = config.gradient_accumulation_steps * par.world;
  const int64_t steps_per_epoch = (train_loader.num_batches() + per_step - 1) / per_step;
  TrainerOptions to;
  to.grad_accum_steps = config.gradient_accumulation_steps;
  to.schedule = LrSchedule::from_json(config.schedule, config.optimizer.lr, steps_per_epoch * epochs);
  to.clip_norm = config.clip_norm;
  to.clip_value = config.clip_value;
  to.reducer = par.reducer;
  Trainer trainer(model, params, Optimizer(config.optimizer), to);
  trainer.set_rng(Rng::stream(config.seed, 2));

  if (par.leader()) {
    std::filesystem::create_directories(config.output_dir);
    std::filesystem::create_directories(config.checkpoint_dir);
  }
  const std::string last = (std::filesystem::path(config.checkpoint_dir) / "last.safetensors").string();
  const std::string metrics_json = (std::filesystem::path(config.output_dir) / "metrics.json").string();
  const std::string metrics_csv = (std::filesystem::path(config.output_dir) / "metrics.csv").string();
  MetricsLog log;
  const std::map<std::string, std::string> meta = {{"config", config.name}, {"data_seed", std::to_string(config.seed)}};
  if (resume && std::filesystem::exists(last)) {
    trainer.load_checkpoint(last);
    if (std::filesystem::exists(metrics_json)) {
      log = MetricsLog::from_json(io::parse_json(io::read_file(metrics_json, "metrics"), "[metrics] " + metrics_json));
      std::vector<EpochRow> rows = log.rows();
      rows.erase(std::remove_if(rows.begin(), rows.end(), [&](const EpochRow& r) { return r.epoch > trainer.epoch(); }),
                 rows.end());
      log.set_rows(rows);
    }
    fmt::print(out, "resumed from {} at epoch {}, batch {}, step {}\n", last, trainer.epoch() + 1,
               trainer.batch_in_epoch(), trainer.global_step());
  }
  fmt::print(out, "{}: {} parameters, {} train / {} test samples, {} batches of {} per epoch{}, precision {}{}\n",
             config.name, parameter_count, data.train->size(), data.test->size(), train_loader.num_batches(),
             config.batch_size, per_step > 1 ? fmt::format(" ({} per step)", per_step) : std::string(),
             mixed ? "bf16 compute / f32 master weights" : std::string(dtype_name(master)),
             par.reducer ? fmt::format(", data parallel over {} ranks (mesh {}{})", par.world, par.mesh.str(),
                                       co.deterministic ? ", deterministic reduction" : "")
                         : std::string());
  std::fflush(out);

  Progress progress(epochs, out);
  double train_seconds = 0;
  int64_t train_samples = 0;
  EvalStats final_eval;
  // The state after the last epoch goes to `last` and to final.safetensors: one serialization.
  std::vector<std::string> final_paths;
  double final_train_loss = log.rows().empty() ? 0 : log.rows().back().train_loss;
  if (!log.rows().empty()) final_eval = {log.rows().back().test_loss, log.rows().back().test_accuracy, data.test->size()};
  while (trainer.epoch() < epochs) {
    progress.start_epoch(trainer.epoch());
    int64_t samples = 0;
    double last_lr = 0;
    const EpochStats e = trainer.train_epoch(train_loader, [&](const StepStats& s, int64_t done, int64_t total) {
      samples += s.samples;
      last_lr = s.lr;
      progress.step(done, total, samples, s.loss);
      // The end of the epoch is checkpointed below, after its metrics are logged.
      if (par.leader() && config.checkpoint_every_steps > 0 &&
          trainer.global_step() % config.checkpoint_every_steps == 0 && done < total)
        trainer.save_checkpoint(last, meta);
    });
    train_seconds += e.seconds;
    train_samples += e.samples;
    final_eval = trainer.evaluate(test_loader);
    final_train_loss = e.loss;
    EpochRow row{trainer.epoch(), trainer.global_step(), e.loss, final_eval.loss, final_eval.accuracy, last_lr,
                 e.seconds, e.seconds > 0 ? static_cast<double>(e.samples) / e.seconds : 0.0};
    log.add(row);
    progress.end_epoch(row);
    if (!par.leader()) continue;
    log.write_csv(metrics_csv);
    io::write_file_atomic(metrics_json, log.to_json().dump(1) + "\n", "metrics");
    if (trainer.epoch() < epochs) trainer.save_checkpoint(last, meta);
    else final_paths.push_back(last);
  }
  final_paths.push_back((std::filesystem::path(config.output_dir) / "final.safetensors").string());
  if (par.leader()) trainer.save_checkpoint(final_paths, meta);

  json m;
  m["config"] = config.name;
  m["epochs"] = epochs;
  m["steps"] = trainer.global_step();
  m["train_loss"] = final_train_loss;
  m["test_loss"] = final_eval.loss;
  m["test_accuracy"] = final_eval.accuracy < 0 ? json(nullptr) : json(final_eval.accuracy);
  m["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
  m["train_seconds"] = train_seconds;
  const int64_t epochs_run = static_cast<int64_t>(log.rows().size());
  double logged_seconds = 0;
  for (const EpochRow& r : log.rows()) logged_seconds += r.seconds;
  m["seconds_per_epoch"] = epochs_run ? logged_seconds / static_cast<double>(epochs_run) : 0.0;
  m["samples_per_second"] = train_seconds > 0 ? static_cast<double>(train_samples) / train_seconds : 0.0;
  m["parameters"] = parameter_count;
  m["precision"] = config.precision;
  m["world_size"] = par.world;
  m["communication_seconds"] = par.reducer ? par.reducer->comm().stats().seconds : 0.0;
  if (data.text) {
    m["unigram_entropy"] = data.text->unigram_entropy();
    if (!config.sample.is_null()) {
      const std::string s = sample_text(*data.text, net, trainer.params(), config.sample, trainer.rng());
      m["sample"] = s;
      fmt::print(out, "sample:\n{}\n", s);
    }
  }
  fmt::print(out, "{}: test_loss {:.4f}{}, {:.1f}s, {:.0f} samples/s; metrics in {}\n", config.name, final_eval.loss,
             final_eval.accuracy >= 0 ? fmt::format(", test_accuracy {:.2f}%", 100 * final_eval.accuracy) : std::string(),
             m["seconds"].get<double>(), m["samples_per_second"].get<double>(), metrics_csv);
  if (!par.leader()) return m;
  if (!options.metrics_out.empty()) io::write_file_atomic(options.metrics_out, m.dump(1) + "\n", "metrics");
  if (!options.plot.empty()) {
    log.plot(options.plot, config.name);
    fmt::print(out, "plot written to {}\n", options.plot);
  }
  return m;
}

}  // namespace mithril::train
