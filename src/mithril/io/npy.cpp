#include "mithril/io/npy.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>
#include <optional>
#include <vector>

#include "mithril/core/error.h"
#include "mithril/io/file.h"

namespace mithril::io {

namespace {

constexpr std::string_view kMagic = "\x93NUMPY";

// ---- little-endian byte access ----------------------------------------------------------------

uint64_t load_le(std::string_view b, size_t at, int n) {
  uint64_t v = 0;
  for (int i = n; i-- > 0;) v = (v << 8) | static_cast<uint8_t>(b[at + static_cast<size_t>(i)]);
  return v;
}

void store_le(std::string& out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// ---- .npy header: a Python dict literal such as {'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }

struct Header {
  std::optional<std::string> descr;
  std::optional<bool> fortran_order;
  std::optional<Shape> shape;
};

class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& what) : s_(text), what_(what) {}

  Header parse() {
    Header h;
    expect('{');
    while (true) {
      skip_ws();
      if (peek() == '}') break;
      const std::string key = parse_string();
      expect(':');
      skip_ws();
      if (key == "descr") h.descr = parse_string();
      else if (key == "fortran_order") h.fortran_order = parse_bool();
      else if (key == "shape") h.shape = parse_tuple();
      else fail(fmt::format("unknown header key '{}'", key));
      skip_ws();
      if (peek() == ',') ++i_;
      else if (peek() != '}') fail("expected ',' or '}' in header");
    }
    ++i_;
    skip_ws();
    if (i_ != s_.size()) fail("trailing characters after the header dict");
    if (!h.descr) fail("header has no 'descr'");
    if (!h.fortran_order) fail("header has no 'fortran_order'");
    if (!h.shape) fail("header has no 'shape'");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const { MI_THROW(ValueError, "[npy] {}: bad header: {}", what_, why); }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_ws() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  void expect(char c) {
    skip_ws();
    if (peek() != c) fail(fmt::format("expected '{}'", c));
    ++i_;
  }
  std::string parse_string() {
    skip_ws();
    const char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string");
    const size_t end = s_.find(q, i_ + 1);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string out(s_.substr(i_ + 1, end - i_ - 1));
    i_ = end + 1;
    return out;
  }
  bool parse_bool() {
    for (const bool v : {true, false}) {
      const std::string_view word = v ? "True" : "False";
      if (s_.substr(i_, word.size()) != word) continue;
      i_ += word.size();
      return v;
    }
    fail("'fortran_order' must be True or False");
  }
  Shape parse_tuple() {
    if (peek() != '(') fail("'shape' must be a tuple");
    ++i_;
    Shape shape;
    while (true) {
      skip_ws();
      if (peek() == ')') break;
      if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("'shape' must hold non-negative integers");
      int64_t d = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        if (d > (std::numeric_limits<int64_t>::max() - 9) / 10) fail("'shape' dimension too large");
        d = d * 10 + (s_[i_++] - '0');
      }
      if (peek() == 'L') ++i_;  // Python 2 long literal
      shape.push_back(d);
      skip_ws();
      if (peek() == ',') ++i_;
      else if (peek() != ')') fail("expected ',' or ')' in 'shape'");
    }
    ++i_;
    return shape;
  }

  std::string_view s_;
  const std::string& what_;
  size_t i_ = 0;
};

// NumPy descr <-> DType. |u1 has no DType of its own: it is read into i32.
std::optional<DType> dtype_from_descr(const std::string& d) {
  if (d == "<f8") return DType::f64;
  if (d == "<f4") return DType::f32;
  if (d == "<f2") return DType::f16;
  if (d == "<i8") return DType::i64;
  if (d == "<i4") return DType::i32;
  if (d == "|i1" || d == "<i1") return DType::i8;
  if (d == "|b1") return DType::b8;
  return std::nullopt;
}

std::string descr_of(DType t) {
  switch (t) {
    case DType::f64: return "<f8";
    case DType::f32: return "<f4";
    case DType::f16: return "<f2";
    case DType::i64: return "<i8";
    case DType::i32: return "<i4";
    case DType::i8: return "|i1";
    case DType::b8: return "|b1";
    case DType::bf16: break;
  }
  MI_THROW(DTypeError, "[npy] dtype {} has no NumPy equivalent: cast it (e.g. to f32) before saving", dtype_name(t));
}

// ---- ZIP (.npz) -------------------------------------------------------------------------------

constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEndSig = 0x06054b50;
constexpr uint64_t kZip32Max = 0xffffffffu;

struct Member {
  std::string name;
  uint16_t method = 0, flags = 0;
  uint32_t crc = 0;
  uint64_t compressed = 0, size = 0, local_offset = 0;
};

class ZipReader {
 public:
  ZipReader(std::string_view bytes, const std::string& path) : b_(bytes), path_(path) {}

  std::vector<Member> members() const {
    const size_t end = find_end_record();
    const uint64_t count = load_le(b_, end + 10, 2);
    const uint64_t cd_offset = load_le(b_, end + 16, 4);
    if (count == 0xffff || cd_offset == kZip32Max)
      fail("ZIP64 archives (over 4 GiB or 65535 members) are not supported");
    std::vector<Member> out;
    size_t at = cd_offset;
    for (uint64_t i = 0; i < count; ++i) {
      need(at, 46, "central directory");
      if (load_le(b_, at, 4) != kCentralSig) fail("bad central directory entry signature");
      Member m;
      m.flags = static_cast<uint16_t>(load_le(b_, at + 8, 2));
      m.method = static_cast<uint16_t>(load_le(b_, at + 10, 2));
      m.crc = static_cast<uint32_t>(load_le(b_, at + 16, 4));
      m.compressed = load_le(b_, at + 20, 4);
      m.size = load_le(b_, at + 24, 4);
      const size_t name_len = load_le(b_, at + 28, 2), extra_len = load_le(b_, at + 30, 2),
                   comment_len = load_le(b_, at + 32, 2);
      m.local_offset = load_le(b_, at + 42, 4);
      need(at + 46, name_len + extra_len + comment_len, "central directory");
      m.name = std::string(b_.substr(at + 46, name_len));
      read_zip64_extra(b_.substr(at + 46 + name_len, extra_len), m);
      out.push_back(std::move(m));
      at += 46 + name_len + extra_len + comment_len;
    }
    return out;
  }

  // The uncompressed bytes of a member, checked against its CRC-32.
  std::string extract(const Member& m) const {
    const std::string who = fmt::format("member '{}'", m.name);
    if (m.flags & 1) fail(who + " is encrypted");
    need(m.local_offset, 30, who + " local header");
    if (load_le(b_, m.local_offset, 4) != kLocalSig) fail(who + ": bad local header signature");
    const size_t data_at =
        m.local_offset + 30 + load_le(b_, m.local_offset + 26, 2) + load_le(b_, m.local_offset + 28, 2);
    need(data_at, m.compressed, who + " data");
    const std::string_view raw = b_.substr(data_at, m.compressed);
    std::string data;
    if (m.method == 0) {
      if (m.compressed != m.size) fail(who + ": stored member has different compressed and uncompressed sizes");
      data = std::string(raw);
    } else if (m.method == 8) {
      data = inflate_raw(raw, m.size, who);
    } else {
      fail(fmt::format("{}: unsupported compression method {} (only stored and deflate)", who, m.method));
    }
    const uint32_t crc =
        static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
    if (crc != m.crc) fail(who + ": CRC-32 mismatch (corrupt data)");
    return data;
  }

  [[noreturn]] void fail(const std::string& why) const { MI_THROW(ValueError, "[npz] {}: {}", path_, why); }

 private:
  void need(uint64_t at, uint64_t n, const std::string& what) const {
    if (at > b_.size() || n > b_.size() - at) fail(fmt::format("corrupt zip: {} runs past the end of the file", what));
  }

  size_t find_end_record() const {
    if (b_.size() < 22) fail("not a zip archive (too short for an end of central directory record)");
    const size_t lowest = b_.size() >= 22 + 0xffff ? b_.size() - 22 - 0xffff : 0;
    for (size_t at = b_.size() - 22 + 1; at-- > lowest;)
      if (load_le(b_, at, 4) == kEndSig) return at;
    fail("not a zip archive (no end of central directory record)");
  }

  void read_zip64_extra(std::string_view extra, Member& m) const {
    for (size_t at = 0; at + 4 <= extra.size();) {
      const uint64_t id = load_le(extra, at, 2), len = load_le(extra, at + 2, 2);
      if (at + 4 + len > extra.size()) fail(fmt::format("member '{}': corrupt extra field", m.name));
      if (id == 1) {
        size_t f = at + 4;
        for (uint64_t* v : {&m.size, &m.compressed, &m.local_offset}) {
          if (*v != kZip32Max) continue;
          if (f + 8 > at + 4 + len) fail(fmt::format("member '{}': corrupt ZIP64 extra field", m.name));
          *v = load_le(extra, f, 8);
          f += 8;
        }
      }
      at += 4 + len;
    }
  }

  std::string inflate_raw(std::string_view in, uint64_t size, const std::string& who) const {
    if (in.size() > std::numeric_limits<uInt>::max() || size > std::numeric_limits<uInt>::max())
      fail(who + " is too large to inflate");
    // Deflate expands at most ~1032:1: a larger claimed size is corruption, not a reason to allocate.
    if (size > 1032 * static_cast<uint64_t>(in.size()) + 1024)
      fail(fmt::format("{}: corrupt zip: {} uncompressed bytes cannot come from {} compressed bytes", who, size,
                       in.size()));
    std::string out(size, '\0');
    z_stream z{};
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK) fail(who + ": cannot initialise zlib");
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    const int rc = inflate(&z, Z_FINISH);
    const uint64_t produced = z.total_out;
    inflateEnd(&z);
    if (rc != Z_STREAM_END || produced != size)
      fail(fmt::format("{}: corrupt deflate data ({})", who, rc == Z_STREAM_END ? "wrong size" : "stream error"));
    return out;
  }

  std::string_view b_;
  const std::string& path_;
};

std::string member_key(const std::string& name) {
  return name.size() > 4 && name.ends_with(".npy") ? name.substr(0, name.size() - 4) : name;
}

}  // namespace

Tensor parse_npy(std::string_view b, const std::string& what) {
  MI_CHECK(b.size() >= 6 && b.substr(0, 6) == kMagic, ValueError, "[npy] {}: bad magic (not a .npy file)", what);
  MI_CHECK(b.size() >= 10, ValueError, "[npy] {}: truncated header", what);
  const int major = static_cast<uint8_t>(b[6]), minor = static_cast<uint8_t>(b[7]);
  MI_CHECK((major == 1 || major == 2 || major == 3) && minor == 0, ValueError,
           "[npy] {}: unsupported format version {}.{} (expected 1.0, 2.0 or 3.0)", what, major, minor);
  const size_t len_bytes = major == 1 ? 2 : 4;
  MI_CHECK(b.size() >= 8 + len_bytes, ValueError, "[npy] {}: truncated header", what);
  const uint64_t header_len = load_le(b, 8, static_cast<int>(len_bytes));
  const size_t data_at = 8 + len_bytes + header_len;
  MI_CHECK(header_len <= b.size() - 8 - len_bytes, ValueError,
           "[npy] {}: truncated header (header length {} but only {} bytes follow)", what, header_len,
           b.size() - 8 - len_bytes);
  const Header h = HeaderParser(b.substr(8 + len_bytes, header_len), what).parse();
  MI_CHECK(!*h.fortran_order, ValueError,
           "[npy] {}: fortran_order=True is not supported (save a C-order array, e.g. np.ascontiguousarray)", what);
  const bool u8 = *h.descr == "|u1" || *h.descr == "<u1";
  const std::optional<DType> dtype = u8 ? DType::i32 : dtype_from_descr(*h.descr);
  MI_CHECK(dtype.has_value(), ValueError,
           "[npy] {}: unsupported dtype '{}' (supported: <f8 <f4 <f2 <i8 <i4 |i1 |b1 |u1)", what, *h.descr);
  const uint64_t item = u8 ? 1 : dtype_size(*dtype);
  uint64_t count = 1;
  for (int64_t d : *h.shape) {
    MI_CHECK(d == 0 || count <= std::numeric_limits<uint64_t>::max() / item / static_cast<uint64_t>(d), ValueError,
             "[npy] {}: shape {} is too large", what, shape_str(*h.shape));
    count *= static_cast<uint64_t>(d);
  }
  const uint64_t want = count * item, have = b.size() - data_at;
  MI_CHECK(have >= want, ValueError, "[npy] {}: truncated data (shape {} of {} needs {} bytes, the file has {})", what,
           shape_str(*h.shape), *h.descr, want, have);
  MI_CHECK(have == want, ValueError, "[npy] {}: size mismatch (shape {} of {} needs {} bytes, the file has {})", what,
           shape_str(*h.shape), *h.descr, want, have);

  Tensor t = Tensor::empty(*h.shape, *dtype);
  const char* src = b.data() + data_at;
  if (u8) {
    int32_t* dst = t.data<int32_t>();
    for (uint64_t i = 0; i < count; ++i) dst[i] = static_cast<uint8_t>(src[i]);
  } else if (*dtype == DType::b8) {
    bool* dst = t.data<bool>();
    for (uint64_t i = 0; i < count; ++i) dst[i] = src[i] != 0;
  } else if (want > 0) {
    std::memcpy(t.raw_data(), src, want);
  }
  return t;
}

std::string npy_bytes(const Tensor& tensor) {
  const std::string descr = descr_of(tensor.dtype());
  std::string shape = "(";
  for (size_t i = 0; i < tensor.shape().size(); ++i) shape += (i ? ", " : "") + std::to_string(tensor.shape()[i]);
  shape += tensor.shape().size() == 1 ? ",)" : ")";
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape);
  // NumPy pads the header with spaces and a newline so the data starts 64-byte aligned.
  const bool v2 = dict.size() + 1 + 10 > 0xffff;
  const size_t prefix = v2 ? 12 : 10;
  dict.append((64 - (prefix + dict.size() + 1) % 64) % 64, ' ');
  dict.push_back('\n');
  std::string out(kMagic);
  out.push_back(static_cast<char>(v2 ? 2 : 1));
  out.push_back(0);
  store_le(out, dict.size(), v2 ? 4 : 2);
  out += dict;
  const Tensor c = tensor.contiguous();
  out.append(static_cast<const char*>(c.raw_data()), c.nbytes());
  return out;
}

Tensor read_npy(const std::string& path) { return parse_npy(read_file(path, "npy"), path); }

void write_npy(const std::string& path, const Tensor& t) { write_file_atomic(path, npy_bytes(t), "npy"); }

std::map<std::string, Tensor> read_npz(const std::string& path) { return parse_npz(read_file(path, "npz"), path); }

std::map<std::string, Tensor> parse_npz(std::string_view bytes, const std::string& path) {
  const ZipReader zip(bytes, path);
  std::map<std::string, Tensor> out;
  for (const Member& m : zip.members()) {
    if (!m.name.ends_with(".npy")) zip.fail(fmt::format("member '{}' is not a .npy file", m.name));
    const std::string key = member_key(m.name);
    if (out.count(key)) zip.fail(fmt::format("member '{}' appears twice", m.name));
    out.emplace(key, parse_npy(zip.extract(m), fmt::format("{} member '{}'", path, m.name)));
  }
  return out;
}

std::vector<Tensor> read_npz_members(const std::string& path, const std::vector<std::string>& names) {
  const std::string bytes = read_file(path, "npz");
  const ZipReader zip(bytes, path);
  const std::vector<Member> members = zip.members();
  std::vector<Tensor> out;
  for (const std::string& name : names) {
    const auto m = std::find_if(members.begin(), members.end(),
                                [&](const Member& x) { return x.name == name || x.name == name + ".npy"; });
    if (m == members.end()) {
      std::string present;
      for (const Member& x : members) present += (present.empty() ? "" : ", ") + member_key(x.name);
      zip.fail(fmt::format("missing member '{}' (members: {})", name, present.empty() ? "none" : present));
    }
    out.push_back(parse_npy(zip.extract(*m), fmt::format("{} member '{}'", path, m->name)));
  }
  return out;
}

Tensor read_npz_member(const std::string& path, const std::string& name) {
  return std::move(read_npz_members(path, {name}).front());
}

void write_npz(const std::string& path, const std::map<std::string, Tensor>& arrays) {
  MI_CHECK(arrays.size() < 0xffff, ValueError, "[npz] {}: too many members ({})", path, arrays.size());
  std::string out, central;
  for (const auto& [key, tensor] : arrays) {
    const std::string name = key + ".npy";
    const std::string data = npy_bytes(tensor);
    MI_CHECK(data.size() < kZip32Max && out.size() + data.size() < kZip32Max, ValueError,
             "[npz] {}: archives over 4 GiB are not supported", path);
    const auto crc =
        static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
    // Fields shared by the local header (from "version needed") and the central directory entry.
    std::string common;
    store_le(common, 20, 2);    // version needed: 2.0
    store_le(common, 0, 2);     // flags
    store_le(common, 0, 2);     // method: stored
    store_le(common, 0, 2);     // time 00:00:00
    store_le(common, 0x21, 2);  // date 1980-01-01: files are reproducible
    store_le(common, crc, 4);
    store_le(common, data.size(), 4);
    store_le(common, data.size(), 4);
    store_le(common, name.size(), 2);
    store_le(common, 0, 2);  // extra length

    store_le(central, kCentralSig, 4);
    store_le(central, 20, 2);  // version made by
    central += common;
    store_le(central, 0, 2);  // comment length
    store_le(central, 0, 2);  // disk
    store_le(central, 0, 2);  // internal attributes
    store_le(central, 0, 4);  // external attributes
    store_le(central, out.size(), 4);
    central += name;

    store_le(out, kLocalSig, 4);
    out += common;
    out += name;
    out += data;
  }
  const size_t cd_offset = out.size();
  out += central;
  store_le(out, kEndSig, 4);
  store_le(out, 0, 2);
  store_le(out, 0, 2);
  store_le(out, arrays.size(), 2);
  store_le(out, arrays.size(), 2);
  store_le(out, central.size(), 4);
  store_le(out, cd_offset, 4);
  store_le(out, 0, 2);
  write_file_atomic(path, out, "npz");
}

}  // namespace mithril::io
