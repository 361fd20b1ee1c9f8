#include "mithril/io/safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>
#include <vector>

#include "mithril/core/error.h"
#include "mithril/io/file.h"
#include "mithril/io/json_parse.h"

namespace mithril::io {

namespace {

constexpr uint64_t kMaxHeader = 100'000'000;  // the reference reader's limit

struct FileDType {
  const char* name;
  DType dtype;
  size_t size;  // bytes per element in the file
};
// U8 is widened to i32 on read; everything else maps one to one.
constexpr FileDType kFileDTypes[] = {{"F64", DType::f64, 8}, {"F32", DType::f32, 4}, {"F16", DType::f16, 2},
                                     {"BF16", DType::bf16, 2}, {"I64", DType::i64, 8}, {"I32", DType::i32, 4},
                                     {"I8", DType::i8, 1},    {"BOOL", DType::b8, 1}, {"U8", DType::i32, 1}};

const FileDType* find_file_dtype(const std::string& name) {
  for (const FileDType& d : kFileDTypes)
    if (name == d.name) return &d;
  return nullptr;
}

const char* file_dtype_name(DType t) {
  for (const FileDType& d : kFileDTypes)
    if (d.dtype == t && d.size == dtype_size(t)) return d.name;
  MI_THROW(DTypeError, "[safetensors] dtype {} has no safetensors name", dtype_name(t));
}

uint64_t checked_mul(uint64_t a, uint64_t b, const std::string& what, const std::string& name) {
  MI_CHECK(b == 0 || a <= std::numeric_limits<uint64_t>::max() / b, ValueError,
           "[safetensors] {}: tensor '{}' size overflows", what, name);
  return a * b;
}

struct Entry {
  std::string name;
  const FileDType* dtype;
  Shape shape;
  uint64_t begin, end;
};

}  // namespace

SafeTensors parse_safetensors(std::string_view bytes, const std::string& what) {
  MI_CHECK(bytes.size() >= 8, ValueError, "[safetensors] {}: truncated file ({} bytes, the header length needs 8)",
           what, bytes.size());
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[static_cast<size_t>(i)]);
  MI_CHECK(n <= kMaxHeader, ValueError, "[safetensors] {}: header length {} exceeds the 100 MB limit", what, n);
  MI_CHECK(n <= bytes.size() - 8, ValueError, "[safetensors] {}: truncated header ({} bytes announced, {} present)",
           what, n, bytes.size() - 8);
  // nlohmann keeps the last of duplicate keys, so the top object's keys are checked as parsed.
  std::set<std::string> seen;
  const nlohmann::json::parser_callback_t no_duplicates = [&](int depth, nlohmann::json::parse_event_t event,
                                                              nlohmann::json& parsed) {
    if (event == nlohmann::json::parse_event_t::key && depth == 1) {
      const std::string key = parsed.get<std::string>();
      MI_CHECK(seen.insert(key).second, ValueError, "[safetensors] {}: duplicate tensor name '{}'", what, key);
    }
    return true;
  };
  check_json_depth(bytes.substr(8, n), fmt::format("[safetensors] {}: header", what));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.substr(8, n), no_duplicates);
  } catch (const nlohmann::json::exception& e) {
    MI_THROW(ValueError, "[safetensors] {}: header is not valid JSON: {}", what, json_error_text(e));
  }
  MI_CHECK(header.is_object(), ValueError, "[safetensors] {}: header must be a JSON object", what);
  const std::string_view buffer = bytes.substr(8 + n);

  SafeTensors out;
  std::vector<Entry> entries;
  for (const auto& [name, v] : header.items()) {
    if (name == "__metadata__") {
      MI_CHECK(v.is_object(), ValueError, "[safetensors] {}: __metadata__ must be an object", what);
      for (const auto& [k, s] : v.items()) {
        MI_CHECK(s.is_string(), ValueError, "[safetensors] {}: __metadata__ value of '{}' must be a string", what, k);
        out.metadata[k] = s.get<std::string>();
      }
      continue;
    }
    MI_CHECK(v.is_object() && v.contains("dtype") && v.contains("shape") && v.contains("data_offsets"), ValueError,
             "[safetensors] {}: tensor '{}' needs dtype, shape and data_offsets", what, name);
    MI_CHECK(v["dtype"].is_string(), ValueError, "[safetensors] {}: tensor '{}' dtype must be a string", what, name);
    const std::string dt = v["dtype"].get<std::string>();
    const FileDType* fd = find_file_dtype(dt);
    MI_CHECK(fd != nullptr, DTypeError, "[safetensors] {}: tensor '{}' has dtype {}, which Mithril does not support",
             what, name, dt);
    const auto& shape = v["shape"];
    const auto& offsets = v["data_offsets"];
    MI_CHECK(shape.is_array(), ValueError, "[safetensors] {}: tensor '{}' shape must be a list", what, name);
    MI_CHECK(offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() &&
                 offsets[1].is_number_unsigned(),
             ValueError, "[safetensors] {}: tensor '{}' data_offsets must be [begin, end]", what, name);
    Entry e{name, fd, {}, offsets[0].get<uint64_t>(), offsets[1].get<uint64_t>()};
    uint64_t count = 1;
    for (const auto& d : shape) {
      MI_CHECK(d.is_number_unsigned(), ValueError, "[safetensors] {}: tensor '{}' shape {} must hold non-negative integers",
               what, name, shape.dump());
      count = checked_mul(count, d.get<uint64_t>(), what, name);
      e.shape.push_back(d.get<int64_t>());
    }
    MI_CHECK(e.begin <= e.end, ValueError, "[safetensors] {}: tensor '{}' data_offsets [{}, {}] are reversed", what, name,
             e.begin, e.end);
    const uint64_t nbytes = checked_mul(count, fd->size, what, name);
    MI_CHECK(e.end - e.begin == nbytes, ValueError,
             "[safetensors] {}: tensor '{}' of shape {} and dtype {} needs {} bytes but data_offsets span {}", what, name,
             shape.dump(), dt, nbytes, e.end - e.begin);
    entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t at = 0;
  for (const Entry& e : entries) {
    MI_CHECK(e.begin == at, ValueError,
             "[safetensors] {}: tensor '{}' starts at byte {} of the data but the previous tensor ends at {} (gap or "
             "overlap)",
             what, e.name, e.begin, at);
    at = e.end;
  }
  MI_CHECK(at == buffer.size(), ValueError,
           "[safetensors] {}: the tensors cover {} bytes but the data buffer holds {} (truncated or trailing data)", what,
           at, buffer.size());

  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype->dtype);
    const char* src = buffer.data() + e.begin;
    if (e.dtype->size == dtype_size(e.dtype->dtype)) {
      if (e.end > e.begin) std::memcpy(t.raw_data(), src, e.end - e.begin);
    } else {  // U8 -> i32
      int32_t* dst = t.data<int32_t>();
      for (int64_t i = 0; i < t.numel(); ++i) dst[i] = static_cast<uint8_t>(src[i]);
    }
    if (e.dtype->dtype == DType::b8) {
      const uint8_t* b = static_cast<const uint8_t*>(t.raw_data());
      for (int64_t i = 0; i < t.numel(); ++i)
        MI_CHECK(b[i] <= 1, ValueError, "[safetensors] {}: tensor '{}' holds a BOOL byte {} (must be 0 or 1)", what,
                 e.name, b[i]);
    }
    out.tensors.emplace(e.name, std::move(t));
  }
  return out;
}

std::string safetensors_bytes(const std::map<std::string, Tensor>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  std::vector<std::pair<std::string, Tensor>> order(tensors.begin(), tensors.end());
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return dtype_size(a.second.dtype()) > dtype_size(b.second.dtype());  // ties keep name order
  });
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t at = 0;
  for (const auto& [name, t] : order) {
    MI_CHECK(name != "__metadata__", KeyError, "[safetensors] '__metadata__' cannot name a tensor");
    MI_CHECK(t.defined(), ValueError, "[safetensors] tensor '{}' is undefined", name);
    header[name] = {{"dtype", file_dtype_name(t.dtype())}, {"shape", t.shape()}, {"data_offsets", {at, at + t.nbytes()}}};
    at += t.nbytes();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out;
  out.reserve(8 + text.size() + at);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((static_cast<uint64_t>(text.size()) >> (8 * i)) & 0xff));
  out += text;
  for (const auto& [name, t] : order) {
    const Tensor c = t.contiguous();
    out.append(static_cast<const char*>(c.raw_data()), c.nbytes());
  }
  return out;
}

SafeTensors read_safetensors(const std::string& path) {
  return parse_safetensors(read_file(path, "safetensors"), path);
}

void write_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  write_file_atomic(path, safetensors_bytes(tensors, metadata), "safetensors");
}

}  // namespace mithril::io
