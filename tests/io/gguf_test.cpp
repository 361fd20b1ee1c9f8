// GGUF files: write -> read -> write is byte-exact (every metadata type, nested arrays, float and
// quantized tensors, another alignment); a model saved, loaded and saved again gives the same file;
// and every malformed file is a ValueError naming the reason, including every truncation.
#include <gtest/gtest.h>

#include <cstring>

#include "mithril/core/error.h"
#include "mithril/io/gguf.h"
#include "mithril/logical/library.h"
#include "mithril/runtime/gguf_model.h"

namespace mithril::io {
namespace {

GgufValue scalar(GgufValueType t, uint64_t u, int64_t i = 0, double f = 0) {
  GgufValue v;
  v.type = t;
  v.u = u;
  v.i = i;
  v.f = f;
  return v;
}

GgufFile sample(uint32_t alignment = 32) {
  GgufFile f;
  f.alignment = alignment;
  f.metadata.emplace_back("general.architecture", GgufValue::of_string("mithril"));
  f.metadata.emplace_back("t.u8", scalar(GgufValueType::u8, 200));
  f.metadata.emplace_back("t.i8", scalar(GgufValueType::i8, 0, -100));
  f.metadata.emplace_back("t.u16", scalar(GgufValueType::u16, 60000));
  f.metadata.emplace_back("t.i16", scalar(GgufValueType::i16, 0, -30000));
  f.metadata.emplace_back("t.u32", GgufValue::of_u32(4000000000u));
  f.metadata.emplace_back("t.i32", scalar(GgufValueType::i32, 0, -2000000000));
  f.metadata.emplace_back("t.f32", GgufValue::of_f32(1.5f));
  f.metadata.emplace_back("t.bool", scalar(GgufValueType::boolean, 1));
  f.metadata.emplace_back("t.u64", GgufValue::of_u64(1ull << 60));
  f.metadata.emplace_back("t.i64", scalar(GgufValueType::i64, 0, -(1ll << 60)));
  f.metadata.emplace_back("t.f64", scalar(GgufValueType::f64, 0, 0, 0.1));
  GgufValue arr;
  arr.type = GgufValueType::array;
  arr.element_type = GgufValueType::array;
  for (int k = 0; k < 2; ++k) {
    GgufValue inner;
    inner.type = GgufValueType::array;
    inner.element_type = GgufValueType::string;
    inner.array = {GgufValue::of_string("a"), GgufValue::of_string("bc")};
    arr.array.push_back(inner);
  }
  f.metadata.emplace_back("t.nested", arr);
  f.tensors.push_back(tensor_to_gguf("w", Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3})));
  GgufTensor q;  // two Q8_0 blocks of arbitrary bytes: the reader keeps blocks as they are
  q.name = "q";
  q.ne = {64, 1};
  q.type = kGgmlQ8_0;
  for (int i = 0; i < 68; ++i) q.data.push_back(static_cast<char>(i * 7));
  f.tensors.push_back(q);
  f.tensors.push_back(tensor_to_gguf("last", Tensor::from_vector(std::vector<int32_t>(8, -3), {8})));
  return f;
}

TEST(Gguf, WriteReadWriteIsByteExact) {
  for (uint32_t alignment : {32u, 64u}) {
    const std::string bytes = gguf_bytes(sample(alignment));
    const GgufFile back = parse_gguf(bytes, "sample");
    EXPECT_EQ(back.alignment, alignment);
    EXPECT_EQ(gguf_bytes(back), bytes);
    ASSERT_EQ(back.tensors.size(), 3u);
    EXPECT_EQ(back.tensors[0].shape(), (Shape{2, 3}));
    EXPECT_EQ(back.tensors[0].ne, (std::vector<uint64_t>{3, 2}));  // innermost first
    EXPECT_EQ(gguf_to_tensor(back.tensors[0]).to_doubles(), (std::vector<double>{1, 2, 3, 4, 5, 6}));
    EXPECT_EQ(back.find("t.nested")->array[1].array[1].s, "bc");
    EXPECT_EQ(back.find("t.i64")->i, -(1ll << 60));
    EXPECT_EQ(back.string_value("general.architecture", "sample"), "mithril");
    EXPECT_THROW(gguf_to_tensor(back.tensors[1]), DTypeError);  // Q8_0 blocks are no plain dtype
  }
}

std::string error_of(const std::string& bytes) {
  try {
    parse_gguf(bytes, "f.gguf");
  } catch (const ValueError& e) {
    return e.what();
  }
  return "no error";
}

// The offsets in the sample's bytes of the fields the malformed cases change.
struct Layout {
  std::string bytes;
  size_t after_header = 24;
};

template <typename T>
void poke(std::string& b, size_t at, T v) {
  std::memcpy(b.data() + at, &v, sizeof(T));
}

size_t find(const std::string& b, const std::string& what) {
  const size_t p = b.find(what);
  EXPECT_NE(p, std::string::npos) << what;
  return p;
}

void expect_error(const std::string& bytes, const std::string& part) {
  const std::string e = error_of(bytes);
  EXPECT_NE(e.find(part), std::string::npos) << "expected '" << part << "' in: " << e;
  EXPECT_NE(e.find("f.gguf"), std::string::npos) << e;
}

TEST(Gguf, MalformedFilesAreValueErrorsNamingTheReason) {
  const std::string good = gguf_bytes(sample());
  std::string b = good;
  b[0] = 'X';
  expect_error(b, "not a GGUF file");
  b = good;
  poke<uint32_t>(b, 4, 1);
  expect_error(b, "version 1 is not supported");
  b = good;
  poke<uint64_t>(b, 16, uint64_t{1} << 40);
  expect_error(b, "metadata entries cannot fit");
  b = good;
  poke<uint64_t>(b, 8, uint64_t{1} << 40);
  expect_error(b, "tensor infos cannot fit");
  b = good;
  poke<uint64_t>(b, 24, uint64_t{1} << 50);  // the first key's length
  expect_error(b, "truncated: needs 1125899906842624 bytes");
  b = good;
  const size_t u8_key = find(b, "t.u8");
  poke<uint32_t>(b, u8_key + 4, 13);  // its value type
  expect_error(b, "unknown value type 13");
  b = good;
  const size_t bool_key = find(b, "t.bool");
  b[bool_key + 6 + 4] = 2;
  expect_error(b, "a bool must be 0 or 1, got 2");
  b = good;
  const size_t nested = find(b, "t.nested");
  poke<uint64_t>(b, nested + 8 + 4 + 4, uint64_t{1} << 40);  // outer array count
  expect_error(b, "array of 1099511627776 elements does not fit");
  b = good;
  std::memcpy(b.data() + find(b, "t.i8"), "t.u8", 4);
  expect_error(b, "duplicate key 't.u8'");
  b = good;
  const size_t w_info = find(b, std::string("\x01\0\0\0\0\0\0\0w", 9)) + 9;
  poke<uint32_t>(b, w_info, 0);
  expect_error(b, "0 dims (1 to 4 are allowed)");
  b = good;
  poke<uint32_t>(b, w_info + 4 + 16, 4);  // a removed type id
  expect_error(b, "unknown or unsupported ggml type id 4");
  b = good;
  poke<uint64_t>(b, w_info + 4 + 16 + 4, 8);  // offset 8
  expect_error(b, "offset 8 is not a multiple of the alignment 32");
  b = good;
  poke<uint64_t>(b, w_info + 4 + 16 + 4, 1 << 20);
  expect_error(b, "runs past the end of the file");
  b = good;
  poke<uint64_t>(b, w_info + 4 + 16 + 4, 32);  // onto q
  expect_error(b, "overlaps the tensor before it");
  b = good;
  const size_t q_info = find(b, std::string("\x01\0\0\0\0\0\0\0q", 9)) + 9;
  poke<uint64_t>(b, q_info + 4, 33);  // ne[0] of a Q8_0 tensor
  expect_error(b, "ne[0] = 33 is not a multiple of the Q8_0 block size 32");
  b = good;
  poke<uint64_t>(b, q_info + 4, uint64_t{1} << 62);
  poke<uint64_t>(b, q_info + 12, uint64_t{1} << 62);
  expect_error(b, "overflows");
  b = good;
  b[q_info - 1] = 'w';
  expect_error(b, "duplicate tensor name 'w'");
  // Alignment from the metadata must be a positive multiple of 8.
  GgufFile a = sample();
  a.metadata.emplace_back("general.alignment", GgufValue::of_u32(12));
  a.alignment = 32;
  std::string ab;
  EXPECT_THROW(ab = gguf_bytes([&] { GgufFile x = a; x.alignment = 12; return x; }()), ValueError);
  ab = gguf_bytes(a);  // the writer keeps a given key as it is
  expect_error(ab, "general.alignment must be a positive multiple of 8, got 12");
}

TEST(Gguf, EveryTruncationIsAnError) {
  GgufFile f = sample();
  f.tensors.back() = tensor_to_gguf("last", Tensor::from_vector(std::vector<int32_t>(8, -3), {8}));  // 32 bytes: no tail padding
  const std::string good = gguf_bytes(f);
  for (size_t n = 0; n < good.size(); ++n)
    EXPECT_THROW(parse_gguf(std::string_view(good).substr(0, n), "f.gguf"), ValueError) << n;
}

TEST(Gguf, NamesLongerThan64BytesAreRejectedByBothSides) {
  GgufFile f = sample();
  f.tensors[0].name = std::string(65, 'n');
  EXPECT_THROW(gguf_bytes(f), ValueError);
}

TEST(GgufModel, SaveLoadSaveIsByteExactForEveryFormat) {
  logical::Model lin = logical::Linear(64);
  std::vector<float> w(64 * 96), b(64);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(std::sin(0.1 * static_cast<double>(i)));
  for (size_t i = 0; i < b.size(); ++i) b[i] = 0.5f * static_cast<float>(i);
  const std::map<std::string, Tensor> params{{"weight", Tensor::from_vector(w, {64, 96})},
                                             {"bias", Tensor::from_vector(b, {64})}};
  EXPECT_EQ(product_weight_keys(lin), (std::set<std::string>{"weight"}));
  for (const std::string fmt : {"q8_0", "q4_0", ""}) {
    const std::string bytes = gguf_bytes(gguf_model(lin, params, fmt));
    const LoadedGgufModel m = load_gguf_model(parse_gguf(bytes, "m.gguf"), "m.gguf");
    EXPECT_EQ(m.quantize, fmt);
    EXPECT_EQ(m.params.at("bias").to_doubles(), params.at("bias").to_doubles());
    EXPECT_EQ(gguf_bytes(gguf_model(m.model, m.params, m.quantize)), bytes) << fmt;
    const GgufFile file = parse_gguf(bytes, "m.gguf");
    EXPECT_EQ(file.tensor("weight")->type, fmt == "q8_0" ? kGgmlQ8_0 : fmt == "q4_0" ? kGgmlQ4_0 : kGgmlF32);
  }
  GgufFile no_dict;
  EXPECT_THROW(load_gguf_model(no_dict, "x.gguf"), ValueError);
}

}  // namespace
}  // namespace mithril::io
