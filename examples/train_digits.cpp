// The training library from C++: the digits MLP of examples/digits_mlp.json with gradient
// accumulation, evaluated and checkpointed (built as build/examples/train_digits).
#include <fmt/format.h>

#include "mithril/train/models.h"
#include "mithril/train/trainer.h"

int main() {
  using namespace mithril;
  using namespace mithril::train;

  Network net = mlp_classifier(64, {128}, 10);  // keys w0, b0, w1, b1
  CompileOptions co;
  co.set_precision(DType::f32);
  Rng rng(0);
  Trainer trainer(compile(classification_objective(net.model), co), init_params(net.params, rng, DType::f32),
                  Optimizer({.name = "adam", .lr = 0.01}), TrainerOptions{.grad_accum_steps = 2});
  Split split = train_test_split(load_digits(), 0.2, /*seed=*/0);
  DataLoader train(split.train, {.batch_size = 16, .shuffle = true, .num_workers = 1});
  DataLoader test(split.test, {.batch_size = 256});
  for (int e = 0; e < 10; ++e) trainer.train_epoch(train);
  const EvalStats s = trainer.evaluate(test);
  fmt::print("after {} steps: test loss {:.4f}, test accuracy {:.2f}%\n", trainer.global_step(), s.loss, 100 * s.accuracy);
  trainer.save_checkpoint("train_digits.safetensors");
  return 0;
}
