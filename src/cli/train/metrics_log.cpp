#include "cli/train/metrics_log.h"

#include <filesystem>

#include "cli/gnuplot.h"
#include "mithril/core/error.h"
#include "mithril/io/file.h"

namespace mithril::train {

void MetricsLog::write_csv(const std::string& path) const {
  std::string out = "epoch,step,train_loss,test_loss,test_accuracy,lr,seconds,samples_per_second\n";
  for (const EpochRow& r : rows_)
    out += fmt::format("{},{},{:.6g},{:.6g},{},{:.6g},{:.4f},{:.1f}\n", r.epoch, r.step, r.train_loss, r.test_loss,
                       r.test_accuracy < 0 ? std::string("") : fmt::format("{:.6f}", r.test_accuracy), r.lr, r.seconds,
                       r.samples_per_second);
  io::write_file_atomic(path, out, "metrics");
}

nlohmann::json MetricsLog::to_json() const {
  nlohmann::json rows = nlohmann::json::array();
  for (const EpochRow& r : rows_) {
    nlohmann::json j = {{"epoch", r.epoch}, {"step", r.step},       {"train_loss", r.train_loss},
                        {"test_loss", r.test_loss}, {"lr", r.lr}, {"seconds", r.seconds},
                        {"samples_per_second", r.samples_per_second}};
    j["test_accuracy"] = r.test_accuracy < 0 ? nlohmann::json(nullptr) : nlohmann::json(r.test_accuracy);
    rows.push_back(j);
  }
  return {{"epochs", rows}};
}

MetricsLog MetricsLog::from_json(const nlohmann::json& j) {
  MetricsLog log;
  MI_CHECK(j.is_object() && j.contains("epochs") && j["epochs"].is_array(), ValueError,
           "[metrics] expected {{\"epochs\": [...]}}");
  for (const auto& e : j["epochs"]) {
    EpochRow r;
    try {
      r.epoch = e.at("epoch").get<int64_t>();
      r.step = e.at("step").get<int64_t>();
      r.train_loss = e.at("train_loss").get<double>();
      r.test_loss = e.at("test_loss").get<double>();
      r.test_accuracy = e.at("test_accuracy").is_null() ? -1.0 : e.at("test_accuracy").get<double>();
      r.lr = e.at("lr").get<double>();
      r.seconds = e.at("seconds").get<double>();
      r.samples_per_second = e.at("samples_per_second").get<double>();
    } catch (const nlohmann::json::exception& x) {
      MI_THROW(ValueError, "[metrics] malformed epoch entry {}: {}", e.dump(), x.what());
    }
    log.add(r);
  }
  return log;
}

void MetricsLog::plot(const std::string& png_path, const std::string& title) const {
  MI_CHECK(!rows_.empty(), ValueError, "[plot] no epochs to plot");
  const std::string data = png_path + ".dat";
  std::string table;
  bool accuracy = false;
  for (const EpochRow& r : rows_) {
    table += fmt::format("{} {:.8g} {:.8g} {}\n", r.epoch, r.train_loss, r.test_loss,
                         r.test_accuracy < 0 ? std::string("NaN") : fmt::format("{:.6f}", 100 * r.test_accuracy));
    accuracy = accuracy || r.test_accuracy >= 0;
  }
  io::write_file_atomic(data, table, "plot");
  std::string script = fmt::format(
      "set terminal pngcairo size 1000,420 noenhanced\nset output '{}'\nset multiplot layout 1,{} title '{}'\n"
      "set xlabel 'epoch'\nset grid\nset title 'loss'\n"
      "plot '{}' using 1:2 with linespoints title 'train', '' using 1:3 with linespoints title 'test'\n",
      png_path, accuracy ? 2 : 1, title, data);
  if (accuracy)
    script += fmt::format("set title 'test accuracy (%)'\nplot '{}' using 1:4 with linespoints title 'test accuracy'\n", data);
  script += "unset multiplot\n";
  try {
    cli::run_gnuplot(script, png_path);
  } catch (...) {
    std::filesystem::remove(data);
    throw;
  }
  std::filesystem::remove(data);
}

}  // namespace mithril::train
