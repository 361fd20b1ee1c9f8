// What every fuzz target shares: a reader under test either returns or throws a mithril::Error;
// anything else (another exception, a crash, a sanitizer report, a leak) is a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mithril/core/error.h"
#include "mithril/io/file.h"

namespace mithril::fuzz {

inline std::string_view bytes_of(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// gzip data is inflated first, as the readers of ".gz" files do.
inline std::string maybe_gunzip(std::string_view bytes) {
  if (bytes.size() >= 2 && static_cast<uint8_t>(bytes[0]) == 0x1f && static_cast<uint8_t>(bytes[1]) == 0x8b)
    return io::gunzip(std::string(bytes), "fuzz input");
  return std::string(bytes);
}

// Runs the reader; mithril::Error is the expected answer to bad input.
template <typename F>
int run_reader(F&& read) {
  try {
    read();
  } catch (const Error&) {
  }
  return 0;
}

}  // namespace mithril::fuzz
