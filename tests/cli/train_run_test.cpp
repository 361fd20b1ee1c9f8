// The `mithril train` pieces that have no numbers of their own to check: config validation,
// progress output (terminal bar vs. log lines) and the metrics files.
#include "cli/train/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "cli/train/metrics_log.h"
#include "cli/train/progress.h"
#include "mithril/core/error.h"
#include "mithril/io/file.h"

namespace mithril::train {
namespace {

void expect_config_error(const nlohmann::json& j, const std::string& fragment) {
  try {
    TrainConfig::from_json(j, "t", "");
    FAIL() << "no error for " << j.dump();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(TrainConfig, DefaultsAndValidation) {
  const nlohmann::json base = {{"model", "mlp"}, {"dataset", {{"kind", "digits"}}}};
  const TrainConfig c = TrainConfig::from_json(base, "digits", "examples");
  EXPECT_EQ(c.output_dir, "runs/digits");
  EXPECT_EQ(c.checkpoint_dir, "runs/digits");
  EXPECT_EQ(c.resolve("x.json"), "examples/x.json");
  EXPECT_EQ(c.resolve("/abs/x.json"), "/abs/x.json");
  auto with = [&](const std::string& k, const nlohmann::json& v) {
    nlohmann::json j = base;
    j[k] = v;
    return j;
  };
  EXPECT_EQ(TrainConfig::from_json(with("mixed_precision", true), "t", "").precision, "bf16");
  expect_config_error(with("epoch", 3), "unknown field 'epoch'");
  expect_config_error(with("epochs", 0), "'epochs' must be an integer >= 1");
  expect_config_error(with("batch_size", "32"), "'batch_size' must be an integer");
  expect_config_error(with("precision", "f16"), "'precision' must be f32, f64 or bf16");
  expect_config_error(with("optimizer", {{"name", "adagrad"}}), "unknown optimizer 'adagrad'");
  expect_config_error(with("dataset", {{"path", "x"}}), "'dataset' must be an object with a 'kind'");
  expect_config_error({{"model", "mlp"}}, "'model' and 'dataset' are required");
}

std::string captured(const std::function<void(std::FILE*)>& write) {
  std::FILE* f = std::tmpfile();
  write(f);
  std::rewind(f);
  std::string s;
  for (int c; (c = std::fgetc(f)) != EOF;) s.push_back(static_cast<char>(c));
  std::fclose(f);
  return s;
}

TEST(Progress, BarOnATerminalLinesOtherwise) {
  const EpochRow row{.epoch = 2, .step = 90, .train_loss = 0.5, .test_loss = 0.25, .test_accuracy = 0.975, .lr = 0.001,
                     .seconds = 1.5, .samples_per_second = 1000};
  const std::string bar = captured([&](std::FILE* f) {
    Progress p(3, f, true);
    p.start_epoch(1);
    p.step(5, 10, 160, 0.75);
    p.end_epoch(row);
  });
  EXPECT_NE(bar.find("\r\033[Kepoch 2/3 [############............] step 5/10 loss 0.7500"), std::string::npos) << bar;
  EXPECT_NE(bar.find("ETA"), std::string::npos);
  const std::string log = captured([&](std::FILE* f) {
    Progress p(3, f, false);
    p.start_epoch(1);
    p.step(5, 10, 160, 0.75);
    p.end_epoch(row);
  });
  EXPECT_EQ(log,
            "epoch 2/3  step 90  train_loss 0.5000  test_loss 0.2500  test_accuracy 97.50%  lr 0.001  1.50s  1000 "
            "samples/s\n");
}

TEST(MetricsLog, CsvAndJsonRoundTrip) {
  MetricsLog log;
  log.add({.epoch = 1, .step = 10, .train_loss = 1.25, .test_loss = 1.5, .test_accuracy = -1, .lr = 0.1, .seconds = 2,
           .samples_per_second = 50});
  log.add({.epoch = 2, .step = 20, .train_loss = 0.75, .test_loss = 1, .test_accuracy = 0.5, .lr = 0.05, .seconds = 2,
           .samples_per_second = 50});
  const std::string path = (std::filesystem::temp_directory_path() / "mithril_metrics.csv").string();
  log.write_csv(path);
  EXPECT_EQ(io::read_file(path, "test"),
            "epoch,step,train_loss,test_loss,test_accuracy,lr,seconds,samples_per_second\n"
            "1,10,1.25,1.5,,0.1,2.0000,50.0\n2,20,0.75,1,0.500000,0.05,2.0000,50.0\n");
  const MetricsLog back = MetricsLog::from_json(log.to_json());
  ASSERT_EQ(back.rows().size(), 2u);
  EXPECT_EQ(back.rows()[0].test_accuracy, -1);
  EXPECT_EQ(back.rows()[1].test_accuracy, 0.5);
  EXPECT_THROW(MetricsLog::from_json({{"epochs", {{{"epoch", 1}}}}}), ValueError);
}

}  // namespace
}  // namespace mithril::train
