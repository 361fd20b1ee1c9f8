#include "mithril/train/dataset.h"

#include <cmath>

#include "mithril/core/error.h"
#include "mithril/core/random.h"
#include "mithril/io/csv.h"
#include "mithril/io/idx.h"
#include "mithril/io/npy.h"

namespace mithril::train {

TensorDataset::TensorDataset(std::map<std::string, Tensor> fields) : fields_(std::move(fields)) {
  MI_CHECK(!fields_.empty(), ValueError, "[dataset] a tensor dataset needs at least one field");
  bool first = true;
  for (auto& [name, t] : fields_) {
    MI_CHECK(t.defined() && t.ndim() >= 1, ShapeError, "[dataset] field '{}' needs a sample axis, got shape {}", name,
             t.defined() ? shape_str(t.shape()) : "undefined");
    t = t.contiguous();
    if (first) size_ = t.dim(0);
    MI_CHECK(t.dim(0) == size_, ShapeError, "[dataset] field '{}' has {} samples but '{}' has {}", name, t.dim(0),
             fields_.begin()->first, size_);
    first = false;
  }
}

Sample TensorDataset::get(int64_t index) const {
  MI_CHECK(index >= 0 && index < size_, KeyError, "[dataset] sample {} is out of range (size {})", index, size_);
  Sample s;
  for (const auto& [name, t] : fields_) s[name] = t.slice(0, index, index + 1).squeeze(0);
  return s;
}

SubsetDataset::SubsetDataset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices)
    : base_(std::move(base)), indices_(std::move(indices)) {
  for (int64_t i : indices_)
    MI_CHECK(i >= 0 && i < base_->size(), KeyError, "[dataset] subset index {} is out of range (size {})", i,
             base_->size());
}

Sample SubsetDataset::get(int64_t index) const {
  MI_CHECK(index >= 0 && index < size(), KeyError, "[dataset] sample {} is out of range (size {})", index, size());
  return base_->get(indices_[static_cast<size_t>(index)]);
}

Split train_test_split(const std::shared_ptr<const Dataset>& dataset, double test_fraction, uint64_t seed) {
  MI_CHECK(test_fraction > 0 && test_fraction < 1, ValueError, "[dataset] test_fraction must lie in (0, 1), got {}",
           test_fraction);
  Rng rng = Rng::stream(seed, 0x5EED);
  const std::vector<int64_t> order = permutation(dataset->size(), rng);
  const auto n_test = static_cast<int64_t>(std::llround(test_fraction * static_cast<double>(dataset->size())));
  std::vector<int64_t> test(order.begin(), order.begin() + n_test), train(order.begin() + n_test, order.end());
  return {std::make_shared<SubsetDataset>(dataset, std::move(train)),
          std::make_shared<SubsetDataset>(dataset, std::move(test))};
}

std::shared_ptr<TensorDataset> load_csv(const std::string& path, const CsvOptions& options) {
  io::LabeledCsv csv = io::read_labeled_csv(path, {.label_column = options.label_column, .scale = options.scale});
  return std::make_shared<TensorDataset>(
      std::map<std::string, Tensor>{{"input", std::move(csv.features)}, {"target", std::move(csv.labels)}});
}

std::shared_ptr<TensorDataset> load_digits(const std::string& path) {
  auto d = load_csv(path, CsvOptions{.label_column = -1, .scale = 1.0 / 16.0});
  const Tensor& x = d->fields().at("input");
  MI_CHECK(x.dim(1) == 64, ValueError, "[digits] {}: expected 64 pixel columns and a label, got {} features", path,
           x.dim(1));
  return d;
}

std::shared_ptr<TensorDataset> load_npy_fields(const std::map<std::string, std::string>& field_to_path) {
  std::map<std::string, Tensor> fields;
  for (const auto& [field, path] : field_to_path) fields[field] = io::read_npy(path);
  return std::make_shared<TensorDataset>(std::move(fields));
}

std::shared_ptr<TensorDataset> load_npz_fields(const std::string& path,
                                               const std::map<std::string, std::string>& member_to_field) {
  std::vector<std::string> members;
  for (const auto& [member, field] : member_to_field) members.push_back(member);
  std::vector<Tensor> tensors = io::read_npz_members(path, members);
  std::map<std::string, Tensor> fields;
  size_t i = 0;
  for (const auto& [member, field] : member_to_field) fields[field] = std::move(tensors[i++]);
  return std::make_shared<TensorDataset>(std::move(fields));
}

std::shared_ptr<TensorDataset> load_idx(const std::string& images_path, const std::string& labels_path, double scale) {
  const Tensor images = io::read_idx(images_path), labels = io::read_idx(labels_path);
  MI_CHECK(labels.ndim() == 1 && labels.dtype() == DType::i32, ValueError,
           "[idx] {}: labels must be one integer per sample, got shape {} {}", labels_path, shape_str(labels.shape()),
           dtype_name(labels.dtype()));
  Tensor x = images.astype(DType::f32);
  float* p = x.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) p[i] = static_cast<float>(p[i] * scale);
  return std::make_shared<TensorDataset>(std::map<std::string, Tensor>{{"input", x}, {"target", labels}});
}

CharTextDataset::CharTextDataset(std::string text, int64_t context, int64_t stride, const std::string& vocabulary)
    : text_(std::move(text)), context_(context), stride_(stride) {
  MI_CHECK(context >= 1 && stride >= 1, ValueError, "[text] context ({}) and stride ({}) must be >= 1", context, stride);
  MI_CHECK(static_cast<int64_t>(text_.size()) > context, ValueError,
           "[text] the text has {} characters: it needs more than the context ({})", text_.size(), context);
  bool seen[256] = {};
  for (char c : vocabulary.empty() ? text_ : vocabulary) seen[static_cast<uint8_t>(c)] = true;
  for (int c = 0; c < 256; ++c) {
    code_[c] = seen[c] ? static_cast<int32_t>(vocab_.size()) : -1;
    if (seen[c]) vocab_.push_back(static_cast<char>(c));
  }
  for (size_t i = 0; i < text_.size(); ++i)
    MI_CHECK(seen[static_cast<uint8_t>(text_[i])], ValueError,
             "[text] character {} at offset {} is not in the vocabulary", static_cast<int>(static_cast<uint8_t>(text_[i])), i);
}

int64_t CharTextDataset::size() const {
  return (static_cast<int64_t>(text_.size()) - context_ - 1) / stride_ + 1;
}

int32_t CharTextDataset::encode(char c) const {
  const int32_t code = code_[static_cast<uint8_t>(c)];
  MI_CHECK(code >= 0, ValueError, "[text] character {} is not in the vocabulary", static_cast<int>(static_cast<uint8_t>(c)));
  return code;
}

Sample CharTextDataset::get(int64_t index) const {
  MI_CHECK(index >= 0 && index < size(), KeyError, "[text] sample {} is out of range (size {})", index, size());
  Tensor x = Tensor::empty({context_}, DType::i32), y = Tensor::empty({context_}, DType::i32);
  const auto start = static_cast<size_t>(index * stride_);
  for (int64_t i = 0; i < context_; ++i) {
    x.data<int32_t>()[i] = code_[static_cast<uint8_t>(text_[start + static_cast<size_t>(i)])];
    y.data<int32_t>()[i] = code_[static_cast<uint8_t>(text_[start + static_cast<size_t>(i) + 1])];
  }
  return {{"input", x}, {"target", y}};
}

double CharTextDataset::unigram_entropy() const {
  double counts[256] = {};
  for (char c : text_) counts[static_cast<uint8_t>(c)] += 1;
  double h = 0;
  const auto n = static_cast<double>(text_.size());
  for (double c : counts)
    if (c > 0) h -= c / n * std::log(c / n);
  return h;
}

}  // namespace mithril::train
