#include "cli/train/progress.h"

#include <unistd.h>

#include <fmt/format.h>

namespace mithril::train {

namespace {

std::string duration(double s) {
  if (s < 60) return fmt::format("{:.0f}s", s);
  return fmt::format("{}m{:02.0f}s", static_cast<int64_t>(s / 60), s - 60 * static_cast<double>(static_cast<int64_t>(s / 60)));
}

}  // namespace

Progress::Progress(int64_t epochs, std::FILE* out) : Progress(epochs, out, isatty(fileno(out)) != 0) {}

Progress::Progress(int64_t epochs, std::FILE* out, bool interactive)
    : out_(out), interactive_(interactive), epochs_(epochs) {}

void Progress::start_epoch(int64_t epoch) {
  epoch_ = epoch;
  epoch_start_ = std::chrono::steady_clock::now();
}

void Progress::step(int64_t batches_done, int64_t batches_total, int64_t samples_done, double loss) {
  if (!interactive_) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(samples_done) / elapsed : 0.0;
  const double frac = batches_total ? static_cast<double>(batches_done) / static_cast<double>(batches_total) : 1.0;
  const double eta = frac > 0 ? elapsed / frac * (1 - frac) : 0.0;
  constexpr int kWidth = 24;
  const int filled = static_cast<int>(frac * kWidth);
  fmt::print(out_, "\r\033[Kepoch {}/{} [{}{}] step {}/{} loss {:.4f} {:.0f} samples/s ETA {}", epoch_ + 1, epochs_,
             std::string(static_cast<size_t>(filled), '#'), std::string(static_cast<size_t>(kWidth - filled), '.'),
             batches_done, batches_total, loss, rate, duration(eta));
  std::fflush(out_);
}

void Progress::end_epoch(const EpochRow& row) {
  if (interactive_) fmt::print(out_, "\r\033[K");
  fmt::print(out_, "{}\n", format_epoch_line(row, epochs_));
  std::fflush(out_);
}

std::string format_epoch_line(const EpochRow& r, int64_t epochs) {
  std::string line = fmt::format("epoch {}/{}  step {}  train_loss {:.4f}  test_loss {:.4f}", r.epoch, epochs, r.step,
                                 r.train_loss, r.test_loss);
  if (r.test_accuracy >= 0) line += fmt::format("  test_accuracy {:.2f}%", 100 * r.test_accuracy);
  line += fmt::format("  lr {:.3g}  {:.2f}s  {:.0f} samples/s", r.lr, r.seconds, r.samples_per_second);
  return line;
}

}  // namespace mithril::train
