// Test accuracy of the digits MLP (examples/digits_mlp.json: 64-128-10, Adam 0.01, cosine, 40
// epochs) and the digits LeNet (examples/digits_cnn.json: Adam 0.003, 30 epochs) trained in
// float32, then evaluated on the held-out 20% with our float32 cpu backend and with the ggml
// backend's q8_0 and q4_0 weights (closing note of the ggml backend).
//
//   ./build/bench/quant_accuracy
#include <fmt/format.h>

#include "mithril/backends/cpu/cpu_backend.h"
#include "mithril/backends/ggml/ggml_backend.h"
#include "mithril/train/lr_schedule.h"
#include "mithril/train/models.h"
#include "mithril/train/trainer.h"

using namespace mithril;
using namespace mithril::train;

namespace {

// Every test sample at once: argmax of the logits against the labels.
double accuracy(const Network& net, const TensorMap& params, BackendPtr backend, const Dataset& test, const Shape& sample) {
  CompileOptions o;
  o.inference = true;
  for (const auto& [k, t] : params) o.constant_tensors[k] = Data(t);
  const PhysicalModel pm = compile(net.model, std::move(backend), o);
  const int64_t n = test.size();
  Shape xs{n};
  xs.insert(xs.end(), sample.begin(), sample.end());
  Tensor x = Tensor::empty(xs, DType::f32);
  std::vector<int64_t> labels;
  const int64_t per = numel(sample);
  for (int64_t i = 0; i < n; ++i) {
    const Sample s = test.get(i);
    const Tensor xi = s.at("input").astype(DType::f32);
    std::copy(xi.data<float>(), xi.data<float>() + per, x.data<float>() + i * per);
    labels.push_back(static_cast<int64_t>(s.at("target").to_doubles()[0]));
  }
  const Tensor y = pm.evaluate({{"input", x}}).at("output").tensor.astype(DType::f32);
  const int64_t c = y.shape()[1];
  int64_t right = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* row = y.data<float>() + i * c;
    right += std::max_element(row, row + c) - row == labels[static_cast<size_t>(i)];
  }
  return 100.0 * static_cast<double>(right) / static_cast<double>(n);
}

void run(const char* name, Network net, double lr, int epochs, const Shape& sample) {
  CompileOptions co;
  co.set_precision(DType::f32);
  Rng rng(0);
  auto digits = load_digits();
  if (sample.size() > 1) {  // images: every input reshaped to the sample shape
    std::map<std::string, Tensor> f = digits->fields();
    Shape s{f.at("input").shape()[0]};
    s.insert(s.end(), sample.begin(), sample.end());
    f["input"] = f.at("input").reshape(s);
    digits = std::make_shared<TensorDataset>(f);
  }
  const Split split = train_test_split(digits, 0.2, 0);
  DataLoader train(split.train, {.batch_size = 32, .shuffle = true, .num_workers = 1});
  Trainer trainer(compile(classification_objective(net.model), co), init_params(net.params, rng, DType::f32),
                  Optimizer({.name = "adam", .lr = lr}),
                  TrainerOptions{.schedule = {.kind = "cosine", .base_lr = lr, .total_steps = epochs * ((split.train->size() + 31) / 32)}});
  for (int e = 0; e < epochs; ++e) trainer.train_epoch(train);
  const double f32 = accuracy(net, trainer.params(), CpuBackend::make({.precision = DType::f32}), *split.test, sample);
  const double q8 = accuracy(net, trainer.params(), GgmlBackend::make({.quantize = "q8_0"}), *split.test, sample);
  const double q4 = accuracy(net, trainer.params(), GgmlBackend::make({.quantize = "q4_0"}), *split.test, sample);
  fmt::print("{:<12} test accuracy ({} samples): f32 {:.2f}%  q8_0 {:.2f}% ({:+.2f})  q4_0 {:.2f}% ({:+.2f})\n", name,
             split.test->size(), f32, q8, q8 - f32, q4, q4 - f32);
}

}  // namespace

int main() {
  run("digits MLP", mlp_classifier(64, {128}, 10), 0.01, 40, {64});
  run("digits LeNet", lenet(1, 8, 10, 8, 16, 64), 0.003, 30, {1, 8, 8});
  return 0;
}
