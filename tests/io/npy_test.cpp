// .npy / .npz reading and writing. Fixtures are written byte by byte here (NumPy is not used):
// the layouts follow the NumPy format description (NEP 1) and the ZIP application note.
#include "mithril/io/npy.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

#include "mithril/core/error.h"
#include "support/error_of.h"

namespace mithril::io {
namespace {

namespace fs = std::filesystem;

class Npy : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fmt::format("mithril_npy_test_{}_{}", getpid(),
                                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string write(const std::string& name, const std::string& bytes) const {
    std::ofstream(path(name), std::ios::binary) << bytes;
    return path(name);
  }
  fs::path dir_;
};

void le(std::string& out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// A .npy file: magic, version, header length, the header padded to `pad` with spaces and '\n', data.
std::string npy(const std::string& dict, const std::string& data, int major = 1) {
  std::string out = "\x93NUMPY";
  out.push_back(static_cast<char>(major));
  out.push_back(0);
  std::string header = dict;
  const size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + header.size() + 1) % 64 != 0) header.push_back(' ');
  header.push_back('\n');
  le(out, header.size(), major == 1 ? 2 : 4);
  return out + header + data;
}

template <typename T>
std::string raw(std::initializer_list<T> values) {
  std::string out;
  for (T v : values) out.append(reinterpret_cast<const char*>(&v), sizeof(T));
  return out;
}

struct ZipMember {
  std::string name, data;
  bool deflate = false;
};

// A ZIP archive built independently of the library's writer; deflated members use zlib's
// compress2 with the 2-byte zlib header and 4-byte Adler-32 trailer removed (raw deflate).
std::string zip(const std::vector<ZipMember>& members) {
  std::string out, central;
  for (const ZipMember& m : members) {
    std::string stored = m.data;
    if (m.deflate) {
      uLongf n = compressBound(static_cast<uLong>(m.data.size()));
      std::string buf(n, '\0');
      EXPECT_EQ(compress2(reinterpret_cast<Bytef*>(buf.data()), &n, reinterpret_cast<const Bytef*>(m.data.data()),
                          static_cast<uLong>(m.data.size()), 9),
                Z_OK);
      stored = buf.substr(2, n - 6);
    }
    const auto crc = crc32(0, reinterpret_cast<const Bytef*>(m.data.data()), static_cast<uInt>(m.data.size()));
    std::string common;
    le(common, 20, 2);
    le(common, 0, 2);
    le(common, m.deflate ? 8 : 0, 2);
    le(common, 0, 4);  // time and date
    le(common, crc, 4);
    le(common, stored.size(), 4);
    le(common, m.data.size(), 4);
    le(common, m.name.size(), 2);
    le(common, 0, 2);
    le(central, 0x02014b50, 4);
    le(central, 20, 2);
    central += common;
    le(central, 0, 6);  // comment length, disk, internal attributes
    le(central, 0, 4);  // external attributes
    le(central, out.size(), 4);
    central += m.name;
    le(out, 0x04034b50, 4);
    out += common + m.name + stored;
  }
  const size_t cd = out.size();
  out += central;
  le(out, 0x06054b50, 4);
  le(out, 0, 4);
  le(out, members.size(), 2);
  le(out, members.size(), 2);
  le(out, central.size(), 4);
  le(out, cd, 4);
  le(out, 0, 2);
  return out;
}

const std::string kF8x23 = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";
const std::string kF8x23Data = raw<double>({1, 2, 3, 4, 5, 6.5});

void expect_values(const Tensor& t, const Shape& shape, DType dtype, const std::vector<double>& values) {
  EXPECT_EQ(t.shape(), shape);
  EXPECT_EQ(t.dtype(), dtype);
  EXPECT_EQ(t.to_doubles(), values);
}

std::string error_of(const std::function<void()>& f) { return testing::error_of<ValueError>(f); }

TEST_F(Npy, RoundTripEveryDType) {
  const std::vector<double> v = {0, 1, -2, 3.5, 100, -0.25};
  for (DType d : {DType::f64, DType::f32, DType::f16, DType::i64, DType::i32, DType::i8, DType::b8}) {
    const Tensor t = Tensor::from_doubles(v, {3, 2}, d);
    write_npy(path("t.npy"), t);
    const Tensor back = read_npy(path("t.npy"));
    expect_values(back, {3, 2}, d, t.to_doubles());
    EXPECT_EQ(npy_bytes(t).size() % 64, t.nbytes() % 64) << "header must end 64-byte aligned";
    EXPECT_FALSE(fs::exists(path("t.npy.tmp")));
  }
}

TEST_F(Npy, RoundTripScalarEmptyAndStridedTensors) {
  write_npy(path("s.npy"), Tensor::scalar(2.5, DType::f64));
  expect_values(read_npy(path("s.npy")), {}, DType::f64, {2.5});
  write_npy(path("e.npy"), Tensor::zeros({0, 4}, DType::f32));
  expect_values(read_npy(path("e.npy")), {0, 4}, DType::f32, {});
  const Tensor t = Tensor::from_doubles({1, 2, 3, 4, 5, 6}, {2, 3}, DType::i32).transpose();
  write_npy(path("t.npy"), t);
  expect_values(read_npy(path("t.npy")), {3, 2}, DType::i32, {1, 4, 2, 5, 3, 6});
  write_npy(path("v.npy"), Tensor::from_doubles({7, 8}, {2}, DType::f64));
  EXPECT_NE(npy_bytes(Tensor::from_doubles({7, 8}, {2}, DType::f64)).find("'shape': (2,), }"), std::string::npos);
}

TEST_F(Npy, ReadsHandWrittenVersion1Files) {
  expect_values(read_npy(write("a.npy", npy(kF8x23, kF8x23Data))), {2, 3}, DType::f64, {1, 2, 3, 4, 5, 6.5});
  // Double quotes, no trailing comma, keys in another order, Python 2 long dims.
  expect_values(read_npy(write("b.npy", npy("{\"shape\": (3L,), \"fortran_order\": False, \"descr\": \"<i4\"}",
                                            raw<int32_t>({-1, 0, 7})))),
                {3}, DType::i32, {-1, 0, 7});
  expect_values(
      read_npy(write("c.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': ()}", raw<float>({1.5f})))), {},
      DType::f32, {1.5});
  const std::string bools("\x01\x00\x02", 3);  // NumPy writes 0/1; any non-zero byte reads as true
  expect_values(read_npy(write("d.npy", npy("{'descr': '|b1', 'fortran_order': False, 'shape': (3,)}", bools))), {3},
                DType::b8, {1, 0, 1});
  expect_values(read_npy(write("e.npy", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (2,)}", "\xff\x01"))),
                {2}, DType::i32, {255, 1});
  expect_values(read_npy(write("f.npy", npy("{'descr': '|i1', 'fortran_order': False, 'shape': (2,)}", "\xff\x01"))),
                {2}, DType::i8, {-1, 1});
  expect_values(read_npy(write("g.npy", npy("{'descr': '<f2', 'fortran_order': False, 'shape': (2,)}",
                                            raw<uint16_t>({0x3c00, 0xc000})))),
                {2}, DType::f16, {1, -2});
  expect_values(
      read_npy(write("h.npy", npy("{'descr': '<i8', 'fortran_order': False, 'shape': (1, 1)}", raw<int64_t>({-5})))),
      {1, 1}, DType::i64, {-5});
}

TEST_F(Npy, ReadsVersion2And3Headers) {
  expect_values(read_npy(write("a.npy", npy(kF8x23, kF8x23Data, 2))), {2, 3}, DType::f64, {1, 2, 3, 4, 5, 6.5});
  expect_values(read_npy(write("b.npy", npy(kF8x23, kF8x23Data, 3))), {2, 3}, DType::f64, {1, 2, 3, 4, 5, 6.5});
}

TEST_F(Npy, MalformedFilesNameTheFileAndReason) {
  auto err = [&](const std::string& bytes) {
    const std::string p = write("bad.npy", bytes);
    return error_of([&] { read_npy(p); });
  };
  const std::string p = path("bad.npy");
  const std::string good = npy(kF8x23, kF8x23Data);
  EXPECT_EQ(err("PK\x03\x04 not numpy"), fmt::format("[npy] {}: bad magic (not a .npy file)", p));
  EXPECT_EQ(err(""), fmt::format("[npy] {}: bad magic (not a .npy file)", p));
  EXPECT_EQ(err(good.substr(0, 9)), fmt::format("[npy] {}: truncated header", p));
  EXPECT_EQ(err(good.substr(0, 40)),
            fmt::format("[npy] {}: truncated header (header length 118 but only 30 bytes follow)", p));
  EXPECT_EQ(err(good.substr(0, good.size() - 8)),
            fmt::format("[npy] {}: truncated data (shape (2,3) of <f8 needs 48 bytes, the file has 40)", p));
  EXPECT_EQ(err(good + "extra!!!"),
            fmt::format("[npy] {}: size mismatch (shape (2,3) of <f8 needs 48 bytes, the file has 56)", p));
  std::string v4 = good;
  v4[6] = 4;
  EXPECT_EQ(err(v4), fmt::format("[npy] {}: unsupported format version 4.0 (expected 1.0, 2.0 or 3.0)", p));
  EXPECT_EQ(err(npy("{'descr': '>f8', 'fortran_order': False, 'shape': (2, 3), }", kF8x23Data)),
            fmt::format("[npy] {}: unsupported dtype '>f8' (supported: <f8 <f4 <f2 <i8 <i4 |i1 |b1 |u1)", p));
  EXPECT_EQ(err(npy("{'descr': '<c16', 'fortran_order': False, 'shape': (3,), }", kF8x23Data)),
            fmt::format("[npy] {}: unsupported dtype '<c16' (supported: <f8 <f4 <f2 <i8 <i4 |i1 |b1 |u1)", p));
  EXPECT_EQ(err(npy("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }", kF8x23Data)),
            fmt::format(
                "[npy] {}: fortran_order=True is not supported (save a C-order array, e.g. np.ascontiguousarray)", p));
  EXPECT_EQ(err(npy("{'descr': '<f8', 'shape': (2, 3), }", kF8x23Data)),
            fmt::format("[npy] {}: bad header: header has no 'fortran_order'", p));
  EXPECT_EQ(err(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, -3), }", kF8x23Data)),
            fmt::format("[npy] {}: bad header: 'shape' must hold non-negative integers", p));
  EXPECT_EQ(err(npy("{'descr': '<f8', 'fortran_order': False, 'shape': [2, 3], }", kF8x23Data)),
            fmt::format("[npy] {}: bad header: 'shape' must be a tuple", p));
  EXPECT_EQ(err(npy("{'descr': '<f8', 'fortran_order': 0, 'shape': (6,), }", kF8x23Data)),
            fmt::format("[npy] {}: bad header: 'fortran_order' must be True or False", p));
  EXPECT_EQ(err(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (6,), 'x': 1}", kF8x23Data)),
            fmt::format("[npy] {}: bad header: unknown header key 'x'", p));
  EXPECT_EQ(err(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (6,) ", kF8x23Data)),
            fmt::format("[npy] {}: bad header: expected ',' or '}}' in header", p));
  EXPECT_EQ(err(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999, 99999999999, 99999999999)}", "")),
            fmt::format("[npy] {}: shape (99999999999,99999999999,99999999999) is too large", p));
  EXPECT_EQ(error_of([&] { read_npy(path("missing.npy")); }),
            fmt::format("[npy] {}: cannot open file: No such file or directory", path("missing.npy")));
}

TEST_F(Npy, Bf16HasNoNumPyDType) {
  try {
    npy_bytes(Tensor::zeros({2}, DType::bf16));
    FAIL() << "expected DTypeError";
  } catch (const DTypeError& e) {
    EXPECT_STREQ(e.what(), "[npy] dtype bf16 has no NumPy equivalent: cast it (e.g. to f32) before saving");
  }
}

TEST_F(Npy, ReadsStoredAndDeflatedArchives) {
  const std::string b = npy("{'descr': '<i8', 'fortran_order': False, 'shape': (4,), }", raw<int64_t>({1, 2, 3, 4}));
  for (bool deflate : {false, true}) {
    const std::string p = write("a.npz", zip({{"x.npy", npy(kF8x23, kF8x23Data), deflate}, {"b.npy", b, deflate}}));
    const auto all = read_npz(p);
    ASSERT_EQ(all.size(), 2u);
    expect_values(all.at("x"), {2, 3}, DType::f64, {1, 2, 3, 4, 5, 6.5});
    expect_values(all.at("b"), {4}, DType::i64, {1, 2, 3, 4});
    expect_values(read_npz_member(p, "b"), {4}, DType::i64, {1, 2, 3, 4});
    expect_values(read_npz_member(p, "x.npy"), {2, 3}, DType::f64, {1, 2, 3, 4, 5, 6.5});
  }
  // A large, compressible member exercises zlib across many deflate blocks.
  std::vector<double> big(50000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<double>(i % 17);
  const std::string big_data(reinterpret_cast<const char*>(big.data()), big.size() * sizeof(double));
  const std::string p =
      write("big.npz",
            zip({{"big.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (50000,)}", big_data), true}}));
  EXPECT_EQ(read_npz_member(p, "big").to_doubles(), big);
}

TEST_F(Npy, WritesStoredArchivesThatRoundTrip) {
  const std::map<std::string, Tensor> arrays = {{"input", Tensor::from_doubles({1, 2, 3, 4}, {2, 2}, DType::f32)},
                                                {"w", Tensor::from_doubles({-1, 5}, {2}, DType::i64)},
                                                {"flag", Tensor::scalar(1, DType::b8)}};
  write_npz(path("o.npz"), arrays);
  EXPECT_FALSE(fs::exists(path("o.npz.tmp")));
  const auto back = read_npz(path("o.npz"));
  ASSERT_EQ(back.size(), 3u);
  for (const auto& [k, t] : arrays) expect_values(back.at(k), t.shape(), t.dtype(), t.to_doubles());
  write_npz(path("empty.npz"), {});
  EXPECT_TRUE(read_npz(path("empty.npz")).empty());
}

TEST_F(Npy, MalformedArchivesNameTheFileAndReason) {
  const std::string member = npy(kF8x23, kF8x23Data);
  auto err = [&](const std::string& bytes, const std::string& key = "") {
    const std::string p = write("bad.npz", bytes);
    return error_of([&] { key.empty() ? (void)read_npz(p) : (void)read_npz_member(p, key); });
  };
  const std::string p = path("bad.npz");
  EXPECT_EQ(err("short"),
            fmt::format("[npz] {}: not a zip archive (too short for an end of central directory record)", p));
  EXPECT_EQ(err(std::string(100, 'x')),
            fmt::format("[npz] {}: not a zip archive (no end of central directory record)", p));
  EXPECT_EQ(err(zip({{"x.npy", member}}), "y"), fmt::format("[npz] {}: missing member 'y' (members: x)", p));
  EXPECT_EQ(err(zip({}), "y"), fmt::format("[npz] {}: missing member 'y' (members: none)", p));
  EXPECT_EQ(err(zip({{"notes.txt", "hello"}})), fmt::format("[npz] {}: member 'notes.txt' is not a .npy file", p));

  std::string corrupt = zip({{"x.npy", member}});
  corrupt[30 + 5 + 100] ^= 0x55;  // a data byte of the member
  EXPECT_EQ(err(corrupt), fmt::format("[npz] {}: member 'x.npy': CRC-32 mismatch (corrupt data)", p));
  std::string deflated = zip({{"x.npy", member, true}});
  deflated[30 + 5] = static_cast<char>(0xff);  // first deflate block header: invalid block type
  EXPECT_EQ(err(deflated), fmt::format("[npz] {}: member 'x.npy': corrupt deflate data (stream error)", p));
  std::string method = zip({{"x.npy", member}});
  method[method.size() - 22 - 5 - 46 + 10] = 12;  // central directory: bzip2
  EXPECT_EQ(err(method),
            fmt::format("[npz] {}: member 'x.npy': unsupported compression method 12 (only stored and deflate)", p));
  const std::string whole = zip({{"x.npy", member}});
  EXPECT_EQ(err(whole.substr(0, 50) + whole.substr(whole.size() - 22 - 5 - 46)),
            fmt::format("[npz] {}: corrupt zip: central directory runs past the end of the file", p));
  std::string truncated_member = zip({{"x.npy", member.substr(0, member.size() - 8)}});
  EXPECT_EQ(
      err(truncated_member),
      fmt::format("[npy] {} member 'x.npy': truncated data (shape (2,3) of <f8 needs 48 bytes, the file has 40)", p));
  EXPECT_EQ(error_of([&] { read_npz(path("none.npz")); }), fmt::format("[npz] {}: cannot open file: No such file or directory", path("none.npz")));
}

// Every prefix of a valid file and single-byte corruptions anywhere either read or throw
// ValueError: never a crash, an allocation of a made-up size, or another exception type.
TEST_F(Npy, TruncatedAndCorruptedFilesNeverCrash) {
  const std::string member = npy(kF8x23, kF8x23Data);
  const std::vector<std::string> files = {member, zip({{"x.npy", member}}), zip({{"x.npy", member, true}})};
  std::mt19937 rng(1);
  for (size_t f = 0; f < files.size(); ++f) {
    const bool is_npz = f > 0;
    auto read = [&](const std::string& bytes) {  // in memory: the same code as reading a file
      try {
        is_npz ? (void)parse_npz(bytes, "f.npz") : (void)parse_npy(bytes, "f.npy");
      } catch (const ValueError&) {
      }
    };
    for (size_t n = 0; n < files[f].size(); ++n) read(files[f].substr(0, n));
    for (int i = 0; i < 300; ++i) {
      std::string bad = files[f];
      bad[rng() % bad.size()] = static_cast<char>(rng() % 256);
      read(bad);
    }
  }
}

TEST_F(Npy, ImpossibleDeflateSizeIsRejected) {
  std::string z = zip({{"x.npy", npy(kF8x23, kF8x23Data), true}});
  const size_t central = z.size() - 22 - 5 - 46;
  for (int i = 0; i < 4; ++i) z[central + 24 + static_cast<size_t>(i)] = static_cast<char>(0xf0);  // uncompressed size
  const std::string p = write("big.npz", z);
  EXPECT_EQ(error_of([&] { read_npz(p); }).find(fmt::format("[npz] {}: member 'x.npy': corrupt zip: 4042322160 "
                                                            "uncompressed bytes cannot come from",
                                                            p)),
            0u);
}

}  // namespace
}  // namespace mithril::io
