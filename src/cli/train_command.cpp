// `mithril train CONFIG.json`: one training run (src/mithril/train/run.h) with command-line
// overrides for the epochs, the precision and resuming, the final metrics as JSON and a plot of the curves.
#include "cli/commands.h"
#include "cli/train/run.h"

namespace mithril::cli {

void add_train_command(CLI::App& app, int& status) {
  struct Args {
    std::string config, metrics_out, plot, precision, options;
    int64_t epochs = 0;
    bool resume = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "train", "Train a model from a JSON config (model, dataset, optimizer, epochs, ...; see docs/TRAINING.md)");
  cmd->add_option("config", args->config, "Training config (JSON), e.g. examples/digits_mlp.json")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--metrics-out", args->metrics_out, "Write the final metrics to this file as one JSON object");
  cmd->add_option("--plot", args->plot, "Write a PNG of the loss and accuracy curves (gnuplot)");
  cmd->add_option("--epochs", args->epochs, "Train for this many epochs instead of the config's")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--precision", args->precision,
                  "Train in f32, f64 or bf16 (mixed precision: bf16 compute, float32 master weights) "
                  "instead of the config's")
      ->check(CLI::IsMember({"f32", "f64", "bf16"}));
  cmd->add_flag("--resume", args->resume, "Continue from the checkpoint in the run's checkpoint_dir, if any");
  cmd->add_option("--options", args->options,
                  "Compile options (JSON file or inline JSON); '{\"parallelism\": \"data\"}' under mpirun -np N "
                  "trains over N ranks");
  cmd->callback([args, &status] {
    train::RunOptions o;
    if (args->epochs > 0) o.epochs = args->epochs;
    if (args->resume) o.resume = true;
    o.metrics_out = args->metrics_out;
    o.plot = args->plot;
    o.compile_options = args->options;
    train::TrainConfig config = train::TrainConfig::load(args->config);
    if (!args->precision.empty()) config.precision = args->precision;
    train::run_training(config, o);
    status = 0;
  });
}

}  // namespace mithril::cli
