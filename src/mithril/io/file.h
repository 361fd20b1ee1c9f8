// Whole-file reads and atomic writes shared by every reader and writer in io/ and train/.
#pragma once

#include <string>

namespace mithril::io {

// The bytes of a file; ValueError "[tag] path: cannot open file" when it cannot be read.
std::string read_file(const std::string& path, const char* tag);

// Writes `bytes` to `path` atomically: a temporary file next to it is written, flushed to disk
// (fsync) and renamed over `path`, so a reader (or a crash) sees the old file or the new one,
// never a partial file. ValueError naming the file and the failing step otherwise.
void write_file_atomic(const std::string& path, const std::string& bytes, const char* tag);

// Inflates gzip data (RFC 1952, as `gzip` writes it; concatenated members are joined).
// ValueError naming `what` for data that is not gzip or is truncated or corrupt.
std::string gunzip(const std::string& bytes, const std::string& what);

// read_file, inflated when the file name ends in ".gz".
std::string read_file_maybe_gz(const std::string& path, const char* tag);

}  // namespace mithril::io
