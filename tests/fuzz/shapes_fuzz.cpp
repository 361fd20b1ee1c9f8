// `--shapes KEY=DIMS` specs, one per line.
#include "cli/run_io.h"
#include "fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mithril;
  return fuzz::run_reader([&] {
    std::vector<std::string> specs;
    std::string_view rest = fuzz::bytes_of(data, size);
    while (!rest.empty()) {
      const size_t nl = std::min(rest.find('\n'), rest.size());
      specs.emplace_back(rest.substr(0, nl));
      rest.remove_prefix(std::min(nl + 1, rest.size()));
    }
    (void)parse_shape_specs(specs);
  });
}
