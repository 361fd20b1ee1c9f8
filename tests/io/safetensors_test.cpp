// safetensors: round trips of every dtype, the writer's layout (sorted by alignment then name,
// 8-byte aligned header) and clear errors for truncated, corrupt and inconsistent files.
#include "mithril/io/safetensors.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "mithril/core/error.h"

namespace mithril::io {
namespace {

std::string file_with(const std::string& header, const std::string& data) {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((header.size() >> (8 * i)) & 0xff));
  return out + header + data;
}

void expect_error(const std::string& bytes, const std::string& fragment) {
  try {
    parse_safetensors(bytes, "t.safetensors");
    FAIL() << "no error, expected " << fragment;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(SafeTensors, RoundTripEveryDtype) {
  std::map<std::string, Tensor> t = {{"a64", Tensor::from_doubles({1.5, -2}, {2}, DType::f64)},
                                     {"b32", Tensor::from_doubles({1, 2, 3, 4, 5, 6}, {2, 3}, DType::f32)},
                                     {"c16", Tensor::from_doubles({0.5}, {1}, DType::f16)},
                                     {"dbf", Tensor::from_doubles({3.0, 4.0}, {1, 2}, DType::bf16)},
                                     {"e64", Tensor::from_doubles({7}, {}, DType::i64)},
                                     {"f32", Tensor::from_doubles({-3, 9}, {2}, DType::i32)},
                                     {"g8", Tensor::from_doubles({-1}, {1}, DType::i8)},
                                     {"hb", Tensor::from_doubles({1, 0, 1}, {3}, DType::b8)},
                                     {"empty", Tensor::zeros({0, 4}, DType::f32)}};
  const std::string path = (std::filesystem::temp_directory_path() / "mithril_st.safetensors").string();
  write_safetensors(path, t, {{"step", "12"}});
  const SafeTensors r = read_safetensors(path);
  EXPECT_EQ(r.metadata.at("step"), "12");
  ASSERT_EQ(r.tensors.size(), t.size());
  for (const auto& [name, x] : t) {
    EXPECT_EQ(r.tensors.at(name).dtype(), x.dtype()) << name;
    EXPECT_EQ(r.tensors.at(name).shape(), x.shape()) << name;
    EXPECT_EQ(r.tensors.at(name).to_doubles(), x.to_doubles()) << name;
  }
  const std::string bytes = safetensors_bytes(t);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[static_cast<size_t>(i)]);
  EXPECT_EQ(n % 8, 0u);
  const std::string header = bytes.substr(8, n);
  // Sorted by alignment (8-byte dtypes first), then by name.
  EXPECT_LT(header.find("\"a64\""), header.find("\"e64\""));
  EXPECT_LT(header.find("\"e64\""), header.find("\"b32\""));
  EXPECT_LT(header.find("\"f32\""), header.find("\"c16\""));
  EXPECT_LT(header.find("\"dbf\""), header.find("\"g8\""));
}

TEST(SafeTensors, ReadsU8AsI32) {
  const SafeTensors r = parse_safetensors(
      file_with(R"({"x":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", std::string("\xff\x01", 2)), "t");
  EXPECT_EQ(r.tensors.at("x").dtype(), DType::i32);
  EXPECT_EQ(r.tensors.at("x").to_doubles(), (std::vector<double>{255, 1}));
}

TEST(SafeTensors, MalformedFiles) {
  const std::map<std::string, Tensor> t = {{"w", Tensor::from_doubles({1, 2, 3}, {3}, DType::f32)}};
  const std::string good = safetensors_bytes(t);
  expect_error(good.substr(0, 5), "truncated file");
  expect_error(good.substr(0, 20), "truncated header");
  expect_error(good.substr(0, good.size() - 1), "truncated or trailing data");
  expect_error(good + "x", "truncated or trailing data");
  std::string huge(8, '\0');
  huge[4] = 1;  // 2^32 bytes of header
  expect_error(huge, "100 MB");
  expect_error(file_with("{not json", ""), "not valid JSON");
  expect_error(file_with("[1]", ""), "must be a JSON object");
  expect_error(file_with(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", std::string(4, '\0')),
               "needs 8 bytes but data_offsets span 4");
  expect_error(file_with(R"({"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}})", std::string(1, '\0')),
               "dtype F8_E4M3");
  expect_error(file_with(R"({"a":{"dtype":"I8","shape":[1],"data_offsets":[0,1]},)"
                         R"("b":{"dtype":"I8","shape":[1],"data_offsets":[2,3]}})",
                         std::string(3, '\0')),
               "gap or overlap");
  expect_error(file_with(R"({"a":{"dtype":"I8","shape":[2],"data_offsets":[0,2]},)"
                         R"("b":{"dtype":"I8","shape":[2],"data_offsets":[1,3]}})",
                         std::string(3, '\0')),
               "gap or overlap");
  expect_error(file_with(R"({"a":{"dtype":"I8","shape":[1],"data_offsets":[0,1]},)"
                         R"("a":{"dtype":"I8","shape":[1],"data_offsets":[1,2]}})",
                         std::string(2, '\0')),
               "duplicate tensor name 'a'");
  expect_error(file_with(R"({"a":{"dtype":"I8","shape":[-1],"data_offsets":[0,1]}})", std::string(1, '\0')),
               "non-negative integers");
  expect_error(file_with(R"({"a":{"dtype":"I8","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,1]}})",
                         std::string(1, '\0')),
               "overflows");
  expect_error(file_with(R"({"a":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}})", "\x02"), "BOOL byte 2");
  expect_error(file_with(R"({"a":{"dtype":"I8","shape":[1]}})", std::string(1, '\0')), "needs dtype, shape and data_offsets");
  EXPECT_THROW(read_safetensors("/nonexistent/x.safetensors"), ValueError);
}

}  // namespace
}  // namespace mithril::io
