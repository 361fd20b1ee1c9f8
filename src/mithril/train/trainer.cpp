#include "mithril/train/trainer.h"

#include <chrono>
#include <cmath>
#include <type_traits>

#include "mithril/core/error.h"
#include "mithril/train/float_data.h"
#include "mithril/train/grad_clip.h"

namespace mithril::train {

namespace {

// acc += g (same shape; g converted to acc's dtype, the parameter's f32 or f64), element by
// element in that dtype.
void add_into(const std::string& key, Tensor& acc, const Tensor& g) {
  const Tensor c = g.dtype() == acc.dtype() ? g.contiguous() : g.astype(acc.dtype());
  with_float_data(acc, "[trainer] parameter ", key, "master weights are f32 or f64", [&](auto* a) {
    const auto* b = c.data<std::remove_pointer_t<decltype(a)>>();
    for (int64_t i = 0; i < acc.numel(); ++i) a[i] += b[i];
  });
}

double scalar_of(const DataMap& outputs, const std::string& key) {
  const auto it = outputs.find(key);
  MI_CHECK(it != outputs.end() && !it->second.is_list, KeyError, "[trainer] the model has no tensor output '{}'", key);
  const Tensor& t = it->second.tensor;
  MI_CHECK(t.numel() == 1, ShapeError, "[trainer] loss output '{}' must be a scalar, got shape {}", key,
           shape_str(t.shape()));
  return t.item();
}

// Number of positions where argmax over axis 1 of scores [N, C, ...] equals target [N, ...].
int64_t count_correct(const Tensor& scores, const Tensor& target) {
  const Shape& s = scores.shape();
  const int64_t n = s[0], c = s[1];
  const int64_t inner = scores.numel() / std::max<int64_t>(1, n * c);
  MI_CHECK(target.numel() == n * inner, ShapeError, "[trainer] target of shape {} does not match scores of shape {}",
           shape_str(target.shape()), shape_str(s));
  const std::vector<double> x = scores.to_doubles(), t = target.to_doubles();
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < inner; ++j) {
      int64_t best = 0;
      for (int64_t k = 1; k < c; ++k)
        if (x[static_cast<size_t>((i * c + k) * inner + j)] > x[static_cast<size_t>((i * c + best) * inner + j)]) best = k;
      correct += static_cast<double>(best) == t[static_cast<size_t>(i * inner + j)];
    }
  return correct;
}

}  // namespace

Trainer::Trainer(PhysicalModel model, TensorMap params, Optimizer optimizer, TrainerOptions options)
    : model_(std::move(model)), params_(std::move(params)), optimizer_(std::move(optimizer)), options_(std::move(options)) {
  options_.schedule.base_lr = optimizer_.config().lr;
  MI_CHECK(options_.grad_accum_steps >= 1, ValueError, "[trainer] gradient_accumulation_steps must be >= 1, got {}",
           options_.grad_accum_steps);
  for (const std::string& key : model_.trainable_keys())
    MI_CHECK(params_.count(key), KeyError, "[trainer] no initial value for trainable key '{}'", key);
  for (auto& [key, t] : params_) {
    MI_CHECK(std::find(model_.trainable_keys().begin(), model_.trainable_keys().end(), key) !=
                 model_.trainable_keys().end(),
             KeyError, "[trainer] parameter '{}' is not a trainable key of the model (trainable: {})", key,
             fmt::join(model_.trainable_keys(), ", "));
    MI_CHECK(t.dtype() == DType::f32 || t.dtype() == DType::f64, DTypeError,
             "[trainer] parameter '{}' is {}: master weights are f32 or f64", key, dtype_name(t.dtype()));
    t = t.clone();  // the trainer owns its weights
  }
  // Every rank starts from rank 0's weights, whatever each was given.
  if (options_.reducer)
    for (auto& [key, t] : params_) options_.reducer->comm().broadcast(t, 0);
}

void Trainer::check_shard(const DataLoader& loader) const {
  const int rank = options_.reducer ? options_.reducer->comm().rank() : 0;
  MI_CHECK(loader.options().world_size == world_size() && loader.options().rank == rank, ValueError,
           "[trainer] the DataLoader yields the shard of rank {} of {}, but this trainer runs as rank {} of {}",
           loader.options().rank, loader.options().world_size, rank, world_size());
}

DataMap Trainer::param_inputs() const {
  DataMap in;
  for (const auto& [key, t] : params_) in[key] = t;
  return in;
}

DataMap Trainer::inputs_for(const DataMap& params, const Batch& batch) const {
  DataMap in = params;
  for (const auto& [key, t] : batch.fields) in[key] = t;
  return in;
}

StepStats Trainer::step(const std::vector<Batch>& micro_batches) {
  MI_CHECK(!micro_batches.empty() || options_.reducer, ValueError, "[trainer] a step needs at least one micro-batch");
  int64_t total = 0;
  for (const Batch& b : micro_batches) total += b.size();
  // Under data parallelism the weights are shares of every rank's samples.
  std::vector<bool> contributes(1, true);
  if (options_.reducer) {
    const Tensor counts = options_.reducer->comm().all_gather(Tensor::scalar(static_cast<double>(total), DType::i64));
    contributes.clear();
    total = 0;
    for (const int64_t c : std::vector<int64_t>(counts.data<int64_t>(), counts.data<int64_t>() + counts.numel())) {
      contributes.push_back(c > 0);
      total += c;
    }
    MI_CHECK(total > 0, ValueError, "[trainer] a data-parallel step without samples on any rank");
  }
  const DType run = model_.precision();
  TensorMap grads;
  StepStats stats;
  stats.samples = total;
  const DataMap params = param_inputs();
  for (const Batch& b : micro_batches) {
    const double weight = static_cast<double>(b.size()) / static_cast<double>(total);
    const auto r = model_.evaluate(inputs_for(params, b), {{options_.loss_key, Tensor::scalar(weight, run)}});
    const double loss = scalar_of(r.outputs, options_.loss_key);
    MI_CHECK(std::isfinite(loss), ValueError, "[trainer] the loss is {} at step {} (batch of samples {}...)", loss,
             global_step(), b.indices.empty() ? -1 : b.indices.front());
    stats.loss += weight * loss;
    for (const auto& [key, g] : r.gradients) {
      MI_CHECK(!g.is_list, ValueError, "[trainer] trainable key '{}' is a list: not supported", key);
      auto it = grads.find(key);
      if (it == grads.end()) grads[key] = g.tensor.astype(params_.at(key).dtype());
      else add_into(key, it->second, g.tensor);
    }
  }
  if (options_.reducer) {
    // Every rank sends every gradient, zeros where it had none (no samples, or a key without one).
    for (const auto& [key, p] : params_)
      if (!grads.count(key)) grads[key] = Tensor::zeros(p.shape(), p.dtype());
    options_.reducer->reduce(grads, contributes);
    // The step loss in rank order, the same on every rank.
    const Tensor losses = options_.reducer->comm().all_gather(Tensor::scalar(stats.loss, DType::f64));
    stats.loss = 0;
    for (int64_t r = 0; r < losses.numel(); ++r) stats.loss += losses.data<double>()[r];
  }
  if (options_.clip_value > 0) clip_grad_value(grads, options_.clip_value);
  if (options_.clip_norm > 0) clip_grad_norm(grads, options_.clip_norm);
  stats.lr = options_.schedule.at(optimizer_.steps());
  optimizer_.step(params_, grads, stats.lr);
  return stats;
}

EpochStats Trainer::train_epoch(DataLoader& loader, const StepCallback& on_step) {
  const auto t0 = std::chrono::steady_clock::now();
  EpochStats e;
  check_shard(loader);
  loader.start_epoch(epoch_, batch_in_epoch_);
  const int64_t total = loader.num_batches();
  // A step covers grad_accum_steps batches of every rank: this many consecutive global batches.
  const int64_t per_step = options_.grad_accum_steps * world_size();
  std::vector<Batch> micro;
  while (batch_in_epoch_ < total) {
    micro.clear();
    while (static_cast<int64_t>(micro.size()) < options_.grad_accum_steps) {
      std::optional<Batch> b = loader.next();
      if (!b) break;
      micro.push_back(std::move(*b));
    }
    if (micro.empty() && !options_.reducer) break;
    const StepStats s = step(micro);
    batch_in_epoch_ += std::min(per_step, total - batch_in_epoch_);
    e.loss += s.loss * static_cast<double>(s.samples);
    e.samples += s.samples;
    ++e.steps;
    if (on_step) on_step(s, batch_in_epoch_, total);
  }
  loader.stop();
  e.loss = e.samples ? e.loss / static_cast<double>(e.samples) : 0.0;
  ++epoch_;
  batch_in_epoch_ = 0;
  e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return e;
}

DataMap Trainer::forward(const Batch& batch) { return model_.evaluate(inputs_for(param_inputs(), batch)); }

EvalStats Trainer::evaluate(DataLoader& loader) {
  EvalStats s;
  int64_t correct = 0, positions = 0;
  bool measurable = true;
  loader.start_epoch(0);
  const DataMap params = param_inputs();
  while (std::optional<Batch> b = loader.next()) {
    const DataMap out = model_.evaluate(inputs_for(params, *b));
    s.loss += scalar_of(out, options_.loss_key) * static_cast<double>(b->size());
    s.samples += b->size();
    const auto o = out.find(options_.output_key);
    const auto t = b->fields.find(options_.target_key);
    measurable = measurable && o != out.end() && !o->second.is_list && t != b->fields.end() &&
                 o->second.tensor.ndim() >= 2 && !is_float(t->second.dtype());
    if (!measurable) continue;
    correct += count_correct(o->second.tensor, t->second);
    positions += t->second.numel();
  }
  loader.stop();
  if (options_.reducer && loader.options().world_size > 1) {
    check_shard(loader);
    const Tensor all = options_.reducer->comm().all_gather(Tensor::from_doubles(
        {s.loss, static_cast<double>(s.samples), static_cast<double>(correct), static_cast<double>(positions),
         measurable ? 1.0 : 0.0},
        {5}, DType::f64));
    const double* v = all.data<double>();
    s.loss = 0;
    s.samples = correct = positions = 0;
    for (int64_t r = 0; r < all.dim(0); ++r) {
      s.loss += v[r * 5];
      s.samples += static_cast<int64_t>(v[r * 5 + 1]);
      correct += static_cast<int64_t>(v[r * 5 + 2]);
      positions += static_cast<int64_t>(v[r * 5 + 3]);
      measurable = measurable && v[r * 5 + 4] != 0;
    }
  }
  s.loss = s.samples ? s.loss / static_cast<double>(s.samples) : 0.0;
  if (measurable && positions > 0) s.accuracy = static_cast<double>(correct) / static_cast<double>(positions);
  return s;
}

Checkpoint Trainer::checkpoint() const {
  Checkpoint c;
  c.params = params_;
  c.optimizer_state = optimizer_.state();
  c.optimizer = optimizer_.config().name;
  c.step = optimizer_.steps();
  c.epoch = epoch_;
  c.batch = batch_in_epoch_;
  c.rng_state = rng_.state_string();
  return c;
}

void Trainer::save_checkpoint(const std::string& path, const std::map<std::string, std::string>& extra) const {
  save_checkpoint(std::vector<std::string>{path}, extra);
}

void Trainer::save_checkpoint(const std::vector<std::string>& paths,
                              const std::map<std::string, std::string>& extra) const {
  Checkpoint c = checkpoint();
  c.extra = extra;
  write_checkpoint(paths, c);
}

void Trainer::restore(const Checkpoint& c) {
  MI_CHECK(c.optimizer == optimizer_.config().name, ValueError,
           "[trainer] the checkpoint was written by optimizer '{}', this run uses '{}'", c.optimizer,
           optimizer_.config().name);
  MI_CHECK(c.params.size() == params_.size(), ValueError, "[trainer] the checkpoint holds {} parameters, the model has {}",
           c.params.size(), params_.size());
  TensorMap params;
  for (const auto& [key, t] : params_) {
    const auto it = c.params.find(key);
    MI_CHECK(it != c.params.end(), KeyError, "[trainer] the checkpoint has no parameter '{}'", key);
    MI_CHECK(it->second.shape() == t.shape() && it->second.dtype() == t.dtype(), ValueError,
             "[trainer] checkpoint parameter '{}' is {} {}, the model's is {} {}", key, shape_str(it->second.shape()),
             dtype_name(it->second.dtype()), shape_str(t.shape()), dtype_name(t.dtype()));
    params[key] = it->second.clone();
  }
  optimizer_.load_state(c.optimizer_state, c.step);
  params_ = std::move(params);
  epoch_ = c.epoch;
  batch_in_epoch_ = c.batch;
  rng_ = Rng::from_state_string(c.rng_state);
}

}  // namespace mithril::train
