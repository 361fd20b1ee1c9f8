// Compile-options JSON (ml.compile keywords, the backend object, shapes).
#include "fuzz_target.h"
#include "mithril/io/json_parse.h"
#include "mithril/runtime/compile_options.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mithril;
  return fuzz::run_reader([&] {
    const auto j = io::parse_ordered_json(fuzz::bytes_of(data, size), "[compile options] fuzz input");
    (void)compile_options_to_json(compile_options_from_json(j));
  });
}
