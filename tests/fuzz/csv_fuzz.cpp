// Labeled numeric CSV, plain or gzip-compressed; the first byte picks the label column.
#include "fuzz_target.h"
#include "mithril/io/csv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mithril;
  if (size == 0) return 0;
  const io::LabeledCsvOptions options{.label_column = static_cast<int8_t>(data[0]) % 8, .scale = 1.0};
  return fuzz::run_reader([&] {
    (void)io::parse_labeled_csv(fuzz::maybe_gunzip(fuzz::bytes_of(data + 1, size - 1)), "fuzz input", options);
  });
}
