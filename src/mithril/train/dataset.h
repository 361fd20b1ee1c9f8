// Datasets: indexable collections of samples. A sample maps field names ("input", "target", ...)
// to tensors without the batch axis; the DataLoader stacks samples into batches. Readers for the
// file formats the examples use (CSV, NPY/NPZ, MNIST-style IDX, the handwritten digits CSV that
// Debian's python3-sklearn ships, plain text for character models) build in-memory datasets.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mithril/core/tensor.h"

namespace mithril::train {

using Sample = std::map<std::string, Tensor>;

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // Sample `index` in [0, size()); may be called from several loader threads at once.
  virtual Sample get(int64_t index) const = 0;
};

// Fields held in memory, each with the samples along axis 0 (all fields the same length).
class TensorDataset : public Dataset {
 public:
  explicit TensorDataset(std::map<std::string, Tensor> fields);
  int64_t size() const override { return size_; }
  Sample get(int64_t index) const override;
  const std::map<std::string, Tensor>& fields() const { return fields_; }

 private:
  std::map<std::string, Tensor> fields_;
  int64_t size_ = 0;
};

// The samples of `base` at `indices`, in that order.
class SubsetDataset : public Dataset {
 public:
  SubsetDataset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices);
  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  Sample get(int64_t index) const override;

 private:
  std::shared_ptr<const Dataset> base_;
  std::vector<int64_t> indices_;
};

// A seeded shuffle of the samples cut into (train, test) with round(test_fraction * size) test
// samples.
struct Split {
  std::shared_ptr<const Dataset> train, test;
};
Split train_test_split(const std::shared_ptr<const Dataset>& dataset, double test_fraction, uint64_t seed);

// Numeric CSV (optionally gzip-compressed, by a ".gz" name; read by io/csv.h): one sample per row;
// `label_column` (negative counts from the end) becomes `target` (i32), the other columns `input`
// (f32 [F], multiplied by `scale`). A first row that is not numeric is taken as a header.
struct CsvOptions {
  int64_t label_column = -1;
  double scale = 1.0;
};
std::shared_ptr<TensorDataset> load_csv(const std::string& path, const CsvOptions& options = {});

// The 8x8 handwritten digits (1797 samples, 64 pixel values 0..16 and a label per row) as Debian's
// python3-sklearn ships them; `input` is f32 [64] scaled to [0, 1], `target` i32.
inline constexpr const char* kDigitsPath = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz";
std::shared_ptr<TensorDataset> load_digits(const std::string& path = kDigitsPath);

// Fields from NumPy files: one .npy per field, or the members of an .npz by field (member -> field).
std::shared_ptr<TensorDataset> load_npy_fields(const std::map<std::string, std::string>& field_to_path);
std::shared_ptr<TensorDataset> load_npz_fields(const std::string& path, const std::map<std::string, std::string>& member_to_field);

// MNIST-style IDX files (io/idx.h), optionally gzip-compressed: images [N, ...] (f32, multiplied
// by `scale`) as `input`, labels [N] (i32) as `target`.
std::shared_ptr<TensorDataset> load_idx(const std::string& images_path, const std::string& labels_path,
                                        double scale = 1.0 / 255.0);

// Character-level language modelling data: the vocabulary is the given one or, when empty, the
// text's distinct bytes (sorted); a character outside a given vocabulary is a ValueError;
// sample i is the window starting at i * stride: `input` i32 [context] and `target` i32
// [context], the same window shifted by one character.
class CharTextDataset : public Dataset {
 public:
  CharTextDataset(std::string text, int64_t context, int64_t stride, const std::string& vocabulary = "");
  int64_t size() const override;
  Sample get(int64_t index) const override;
  const std::string& vocabulary() const { return vocab_; }
  int32_t encode(char c) const;  // ValueError for a character outside the vocabulary
  const std::string& text() const { return text_; }
  // The empirical per-character entropy of the text in nats (the loss of a model that ignores
  // context).
  double unigram_entropy() const;

 private:
  std::string text_, vocab_;
  int32_t code_[256];
  int64_t context_, stride_;
};

}  // namespace mithril::train
