// safetensors files: header length, header JSON, dtypes, offsets.
#include "fuzz_target.h"
#include "mithril/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mithril;
  return fuzz::run_reader([&] { (void)io::parse_safetensors(fuzz::bytes_of(data, size), "fuzz input"); });
}
