#include "mithril/train/data_loader.h"

#include <algorithm>
#include <cstring>

#include "mithril/core/error.h"
#include "mithril/core/random.h"

namespace mithril::train {

Batch collate(const std::vector<Sample>& samples, std::vector<int64_t> indices) {
  MI_CHECK(!samples.empty(), ValueError, "[collate] an empty batch");
  Batch b;
  const Sample& first = samples.front();
  const auto n = static_cast<int64_t>(samples.size());
  for (const auto& [name, t0] : first) {
    Shape shape = t0.shape();
    shape.insert(shape.begin(), n);
    Tensor out = Tensor::empty(shape, t0.dtype());
    const size_t bytes = t0.nbytes();
    auto* dst = static_cast<char*>(out.raw_data());
    for (size_t i = 0; i < samples.size(); ++i) {
      const auto it = samples[i].find(name);
      MI_CHECK(it != samples[i].end(), ValueError, "[collate] sample {} has no field '{}'", indices[i], name);
      const Tensor& t = it->second;
      MI_CHECK(t.shape() == t0.shape() && t.dtype() == t0.dtype(), ValueError,
               "[collate] field '{}' of sample {} is {} {} but sample {} has {} {}", name, indices[i], shape_str(t.shape()),
               dtype_name(t.dtype()), indices[0], shape_str(t0.shape()), dtype_name(t0.dtype()));
      const Tensor c = t.contiguous();
      if (bytes) std::memcpy(dst + i * bytes, c.raw_data(), bytes);
    }
    b.fields.emplace(name, std::move(out));
  }
  for (size_t i = 0; i < samples.size(); ++i)
    MI_CHECK(samples[i].size() == first.size(), ValueError, "[collate] sample {} has {} fields, sample {} has {}",
             indices[i], samples[i].size(), indices[0], first.size());
  b.indices = std::move(indices);
  return b;
}

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(options) {
  MI_CHECK(dataset_ != nullptr, ValueError, "[DataLoader] no dataset");
  MI_CHECK(options_.batch_size >= 1, ValueError, "[DataLoader] batch_size must be >= 1, got {}", options_.batch_size);
  MI_CHECK(options_.num_workers >= 0, ValueError, "[DataLoader] num_workers must be >= 0, got {}", options_.num_workers);
  MI_CHECK(options_.prefetch_factor >= 1, ValueError, "[DataLoader] prefetch_factor must be >= 1, got {}",
           options_.prefetch_factor);
  MI_CHECK(dataset_->size() > 0, ValueError, "[DataLoader] the dataset is empty");
  MI_CHECK(options_.world_size >= 1 && options_.rank >= 0 && options_.rank < options_.world_size, ValueError,
           "[DataLoader] rank {} is not a rank of a world of {}", options_.rank, options_.world_size);
}

DataLoader::~DataLoader() { stop(); }

int64_t DataLoader::num_batches() const {
  const int64_t n = dataset_->size(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

std::vector<int64_t> DataLoader::epoch_order(int64_t epoch) const {
  if (!options_.shuffle) {
    std::vector<int64_t> order(static_cast<size_t>(dataset_->size()));
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
    return order;
  }
  Rng rng = Rng::stream(options_.seed, static_cast<uint64_t>(epoch));
  return permutation(dataset_->size(), rng);
}

Batch DataLoader::load(int64_t batch) const {
  const int64_t begin = batch * options_.batch_size;
  const int64_t end = std::min<int64_t>(begin + options_.batch_size, static_cast<int64_t>(order_.size()));
  std::vector<int64_t> indices(order_.begin() + begin, order_.begin() + end);
  std::vector<Sample> samples;
  samples.reserve(indices.size());
  for (int64_t i : indices) {
    try {
      samples.push_back(dataset_->get(i));
    } catch (const std::exception& e) {
      MI_THROW(ValueError, "[DataLoader] loading sample {} (batch {}) failed: {}", i, batch, e.what());
    }
  }
  return collate(samples, std::move(indices));
}

void DataLoader::start_epoch(int64_t epoch, int64_t first_batch) {
  stop();
  MI_CHECK(first_batch >= 0 && first_batch <= num_batches(), ValueError,
           "[DataLoader] first batch {} is out of range ({} batches)", first_batch, num_batches());
  order_ = epoch_order(epoch);
  first_ = first_batch;
  const int64_t left = num_batches() - first_batch - options_.rank;
  end_ = left > 0 ? (left + options_.world_size - 1) / options_.world_size : 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    next_to_load_ = next_to_take_ = 0;
    stopping_ = false;
    ready_.clear();
    failed_.clear();
  }
  for (int w = 0; w < options_.num_workers; ++w) workers_.emplace_back([this] { worker(); });
}

void DataLoader::worker() {
  const int64_t limit = static_cast<int64_t>(options_.num_workers) * options_.prefetch_factor;
  while (true) {
    int64_t k = 0;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || next_to_load_ >= end_ || next_to_load_ < next_to_take_ + limit; });
      if (stopping_ || next_to_load_ >= end_) return;
      k = next_to_load_++;
      max_in_flight_ = std::max(max_in_flight_, next_to_load_ - next_to_take_);
    }
    std::optional<Batch> b;
    std::exception_ptr error;
    try {
      b = load(global_batch(k));
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (error) failed_[k] = error;
      else ready_[k] = std::move(*b);
    }
    cv_.notify_all();
  }
}

std::optional<Batch> DataLoader::next() {
  if (options_.num_workers == 0) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || next_to_take_ >= end_) return std::nullopt;
    max_in_flight_ = std::max<int64_t>(max_in_flight_, 1);
    return load(global_batch(next_to_take_++));
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_ || next_to_take_ >= end_) return std::nullopt;
  const int64_t k = next_to_take_;
  cv_.wait(lock, [&] { return stopping_ || ready_.count(k) || failed_.count(k); });
  if (stopping_) return std::nullopt;
  ++next_to_take_;
  if (const auto f = failed_.find(k); f != failed_.end()) {
    const std::exception_ptr e = f->second;
    failed_.erase(f);
    lock.unlock();
    cv_.notify_all();
    std::rethrow_exception(e);
  }
  Batch b = std::move(ready_.at(k));
  ready_.erase(k);
  lock.unlock();
  cv_.notify_all();  // a slot in the prefetch window is free
  return b;
}

void DataLoader::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
  std::lock_guard<std::mutex> lock(mu_);
  ready_.clear();
  failed_.clear();
}

int64_t DataLoader::max_in_flight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return max_in_flight_;
}

}  // namespace mithril::train
