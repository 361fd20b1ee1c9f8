// NumPy .npz archives: ZIP directory and local headers, stored and deflated members, CRC-32.
#include "fuzz_target.h"
#include "mithril/io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mithril;
  return fuzz::run_reader([&] { (void)io::parse_npz(fuzz::bytes_of(data, size), "fuzz input"); });
}
