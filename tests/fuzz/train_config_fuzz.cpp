// `mithril train` configs: every field and object of TrainConfig::from_json.
#include "cli/train/config.h"
#include "fuzz_target.h"
#include "mithril/io/json_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mithril;
  return fuzz::run_reader([&] {
    const auto j = io::parse_json(fuzz::bytes_of(data, size), "[config] fuzz input");
    (void)train::TrainConfig::from_json(j, "fuzz", "");
  });
}
