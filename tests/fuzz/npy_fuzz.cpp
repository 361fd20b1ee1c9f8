// NumPy .npy files: magic, version, header dict, dtype, shape, data length.
#include "fuzz_target.h"
#include "mithril/io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mithril;
  return fuzz::run_reader([&] { (void)io::parse_npy(fuzz::bytes_of(data, size), "fuzz input"); });
}
