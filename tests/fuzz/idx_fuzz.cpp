// MNIST-style IDX files, plain or gzip-compressed.
#include "fuzz_target.h"
#include "mithril/io/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mithril;
  return fuzz::run_reader([&] { (void)io::parse_idx(fuzz::maybe_gunzip(fuzz::bytes_of(data, size)), "fuzz input"); });
}
