// Model-dict JSON: parsing (nesting limit), model_from_dict, and saving what was loaded.
#include "fuzz_target.h"
#include "mithril/io/json_parse.h"
#include "mithril/logical/model_dict.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mithril;
  return fuzz::run_reader([&] {
    const auto d = io::parse_ordered_json(fuzz::bytes_of(data, size), "[model dict] fuzz input");
    const logical::Model m = logical::model_from_dict(d);
    (void)logical::model_to_dict(m);
  });
}
