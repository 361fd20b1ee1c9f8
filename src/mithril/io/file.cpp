#include "mithril/io/file.h"

#include <fcntl.h>
#include <zlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "mithril/core/checked.h"
#include "mithril/core/error.h"

namespace mithril::io {

std::string read_file(const std::string& path, const char* tag) {
  // A directory opens as a stream and then fails inside libstdc++ with "basic_filebuf::underflow".
  std::error_code ec;
  MI_CHECK(!std::filesystem::is_directory(path, ec), ValueError, "[{}] {}: is a directory, not a file", tag, path);
  std::ifstream in(path, std::ios::binary);
  MI_CHECK(in.good(), ValueError, "[{}] {}: cannot open file: {}", tag, path, std::strerror(errno));
  std::string bytes;
  try {
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } catch (const std::bad_alloc&) {
    MI_THROW(MemoryError, "[{}] {}: out of memory reading the file", tag, path);
  } catch (const std::ios_base::failure& e) {
    MI_THROW(ValueError, "[{}] {}: read error: {}", tag, path, e.what());
  }
  MI_CHECK(!in.bad(), ValueError, "[{}] {}: read error", tag, path);
  return bytes;
}

void write_file_atomic(const std::string& path, const std::string& bytes, const char* tag) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  MI_CHECK(fd >= 0, ValueError, "[{}] {}: cannot write temporary file '{}': {}", tag, path, tmp, std::strerror(errno));
  size_t done = 0;
  bool ok = true;
  while (ok && done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  // fsync before the rename: otherwise a crash may leave the new name pointing at empty data.
  ok = ok && ::fsync(fd) == 0;
  const std::string reason = ok ? "" : std::strerror(errno);
  ok = (::close(fd) == 0) && ok;
  if (!ok) {
    std::filesystem::remove(tmp);
    MI_THROW(ValueError, "[{}] {}: writing temporary file '{}' failed: {}", tag, path, tmp, reason);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp);
    MI_THROW(ValueError, "[{}] {}: cannot move '{}' into place: {}", tag, path, tmp, ec.message());
  }
  // The rename itself reaches the disk when the directory is synced: without it a power loss
  // could bring back the old file (a killed process cannot: the kernel has the rename).
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

std::string gunzip(const std::string& bytes, const std::string& what) {
  MI_CHECK(bytes.size() >= 2 && static_cast<uint8_t>(bytes[0]) == 0x1f && static_cast<uint8_t>(bytes[1]) == 0x8b,
           ValueError, "[gzip] {}: not gzip data (no 1f 8b magic)", what);
  z_stream z{};
  MI_CHECK(inflateInit2(&z, 16 + MAX_WBITS) == Z_OK, ValueError, "[gzip] {}: cannot start zlib", what);
  std::string out;
  char chunk[1 << 16];
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  int rc = Z_OK;
  while (true) {
    z.next_out = reinterpret_cast<Bytef*>(chunk);
    z.avail_out = sizeof(chunk);
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(chunk, sizeof(chunk) - z.avail_out);
    if (rc == Z_STREAM_END) {
      if (z.avail_in == 0) break;
      inflateReset(&z);  // another gzip member follows
      continue;
    }
    if (rc != Z_OK) break;
    if (z.avail_in == 0 && z.avail_out != 0) {
      rc = Z_BUF_ERROR;  // input ended inside the stream
      break;
    }
  }
  inflateEnd(&z);
  MI_CHECK(rc == Z_STREAM_END, ValueError, "[gzip] {}: {} data", what, rc == Z_BUF_ERROR ? "truncated" : "corrupt");
  return out;
}

std::string read_file_maybe_gz(const std::string& path, const char* tag) {
  std::string bytes = read_file(path, tag);
  if (path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0) return gunzip(bytes, path);
  return bytes;
}

}  // namespace mithril::io
