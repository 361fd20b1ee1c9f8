#include "mithril/io/gguf.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "mithril/core/error.h"
#include "mithril/io/file.h"

namespace mithril::io {

namespace {

constexpr GgmlTypeInfo kTypes[] = {
    {0, "F32", 1, 4},       {1, "F16", 1, 2},       {2, "Q4_0", 32, 18},    {3, "Q4_1", 32, 20},
    {6, "Q5_0", 32, 22},    {7, "Q5_1", 32, 24},    {8, "Q8_0", 32, 34},    {9, "Q8_1", 32, 36},
    {10, "Q2_K", 256, 84},  {11, "Q3_K", 256, 110}, {12, "Q4_K", 256, 144}, {13, "Q5_K", 256, 176},
    {14, "Q6_K", 256, 210}, {15, "Q8_K", 256, 292}, {24, "I8", 1, 1},       {25, "I16", 1, 2},
    {26, "I32", 1, 4},      {27, "I64", 1, 8},      {28, "F64", 1, 8},      {30, "BF16", 1, 2},
};

constexpr size_t kMaxDepth = 8;       // nesting of arrays
constexpr size_t kMaxNameBytes = 64;  // tensor names (GGML_MAX_NAME)
constexpr uint32_t kMaxDims = 4;

size_t scalar_size(GgufValueType t) {
  switch (t) {
    case GgufValueType::u8: case GgufValueType::i8: case GgufValueType::boolean: return 1;
    case GgufValueType::u16: case GgufValueType::i16: return 2;
    case GgufValueType::u32: case GgufValueType::i32: case GgufValueType::f32: return 4;
    case GgufValueType::u64: case GgufValueType::i64: case GgufValueType::f64: return 8;
    default: return 0;  // string, array
  }
}

// A cursor over the file's bytes; every read checks what is left first.
class Reader {
 public:
  Reader(std::string_view bytes, const std::string& what) : b_(bytes), what_(what) {}
  size_t pos() const { return pos_; }
  size_t left() const { return b_.size() - pos_; }
  [[noreturn]] void fail(std::string_view where, const std::string& reason) const {
    MI_THROW(ValueError, "[gguf] {}: {} at byte {}: {}", what_, where, pos_, reason);
  }
  void need(uint64_t n, std::string_view where) const {
    if (n > left()) fail(where, fmt::format("truncated: needs {} bytes, {} left", n, left()));
  }
  template <typename T>
  T get(std::string_view where) {
    need(sizeof(T), where);
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string string(std::string_view where) {
    const auto n = get<uint64_t>(where);
    need(n, where);
    std::string s(b_.substr(pos_, static_cast<size_t>(n)));
    pos_ += static_cast<size_t>(n);
    return s;
  }
  void skip_to(size_t p, std::string_view where) {
    if (p > b_.size()) fail(where, fmt::format("padding runs past the end of the file ({} bytes)", b_.size()));
    pos_ = p;
  }
  std::string_view bytes() const { return b_; }

 private:
  std::string_view b_;
  const std::string& what_;
  size_t pos_ = 0;
};

GgufValueType value_type(Reader& r, std::string_view where) {
  const auto t = r.get<uint32_t>(where);
  if (t > static_cast<uint32_t>(GgufValueType::f64)) r.fail(where, fmt::format("unknown value type {}", t));
  return static_cast<GgufValueType>(t);
}

GgufValue read_value(Reader& r, GgufValueType type, std::string_view where, size_t depth) {
  GgufValue v;
  v.type = type;
  switch (type) {
    case GgufValueType::u8: v.u = r.get<uint8_t>(where); break;
    case GgufValueType::u16: v.u = r.get<uint16_t>(where); break;
    case GgufValueType::u32: v.u = r.get<uint32_t>(where); break;
    case GgufValueType::u64: v.u = r.get<uint64_t>(where); break;
    case GgufValueType::i8: v.i = r.get<int8_t>(where); break;
    case GgufValueType::i16: v.i = r.get<int16_t>(where); break;
    case GgufValueType::i32: v.i = r.get<int32_t>(where); break;
    case GgufValueType::i64: v.i = r.get<int64_t>(where); break;
    case GgufValueType::f32: v.f = r.get<float>(where); break;
    case GgufValueType::f64: v.f = r.get<double>(where); break;
    case GgufValueType::boolean: {
      const auto b = r.get<uint8_t>(where);
      if (b > 1) r.fail(where, fmt::format("a bool must be 0 or 1, got {}", b));
      v.u = b;
      break;
    }
    case GgufValueType::string: v.s = r.string(where); break;
    case GgufValueType::array: {
      if (depth >= kMaxDepth) r.fail(where, fmt::format("arrays nested deeper than {}", kMaxDepth));
      v.element_type = value_type(r, where);
      const auto n = r.get<uint64_t>(where);
      // Every element takes at least its scalar size (a string its 8-byte length, an array its
      // 12-byte header): a count the rest of the file cannot hold is refused before allocating.
      const size_t min_size = v.element_type == GgufValueType::string  ? 8
                              : v.element_type == GgufValueType::array ? 12
                                                                       : scalar_size(v.element_type);
      if (n > r.left() / min_size)
        r.fail(where, fmt::format("array of {} elements does not fit in the {} bytes left", n, r.left()));
      v.array.reserve(static_cast<size_t>(n));
      for (uint64_t i = 0; i < n; ++i) v.array.push_back(read_value(r, v.element_type, where, depth + 1));
      break;
    }
  }
  return v;
}


template <typename T>
void put(std::string& out, T v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));
  out.append(buf, sizeof(T));
}

void put_string(std::string& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out += s;
}

void write_payload(std::string& out, const GgufValue& v) {
  switch (v.type) {
    case GgufValueType::u8: case GgufValueType::boolean: put<uint8_t>(out, static_cast<uint8_t>(v.u)); break;
    case GgufValueType::u16: put<uint16_t>(out, static_cast<uint16_t>(v.u)); break;
    case GgufValueType::u32: put<uint32_t>(out, static_cast<uint32_t>(v.u)); break;
    case GgufValueType::u64: put<uint64_t>(out, v.u); break;
    case GgufValueType::i8: put<int8_t>(out, static_cast<int8_t>(v.i)); break;
    case GgufValueType::i16: put<int16_t>(out, static_cast<int16_t>(v.i)); break;
    case GgufValueType::i32: put<int32_t>(out, static_cast<int32_t>(v.i)); break;
    case GgufValueType::i64: put<int64_t>(out, v.i); break;
    case GgufValueType::f32: put<float>(out, static_cast<float>(v.f)); break;
    case GgufValueType::f64: put<double>(out, v.f); break;
    case GgufValueType::string: put_string(out, v.s); break;
    case GgufValueType::array:
      put<uint32_t>(out, static_cast<uint32_t>(v.element_type));
      put<uint64_t>(out, v.array.size());
      for (const GgufValue& e : v.array) {
        MI_CHECK(e.type == v.element_type, ValueError, "[gguf] an array of type {} holds an element of type {}",
                 static_cast<uint32_t>(v.element_type), static_cast<uint32_t>(e.type));
        write_payload(out, e);
      }
      break;
  }
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

// Bytes of a tensor of type `info` and dims `ne`, or nullopt on overflow; ne[0] must be a
// multiple of the block size (checked by the caller).
std::optional<uint64_t> tensor_bytes(const GgmlTypeInfo& info, const std::vector<uint64_t>& ne) {
  uint64_t rows = 1;
  for (size_t d = 1; d < ne.size(); ++d) {
    if (ne[d] != 0 && rows > UINT64_MAX / ne[d]) return std::nullopt;
    rows *= ne[d];
  }
  const uint64_t blocks = ne.empty() ? 1 : ne[0] / static_cast<uint64_t>(info.block_elements);
  const uint64_t row_bytes = blocks * static_cast<uint64_t>(info.block_bytes);  // blocks < 2^64 / 292
  if (blocks != 0 && row_bytes / blocks != static_cast<uint64_t>(info.block_bytes)) return std::nullopt;
  if (row_bytes != 0 && rows > UINT64_MAX / row_bytes) return std::nullopt;
  return rows * row_bytes;
}

struct TypeOfDtype {
  DType dtype;
  uint32_t ggml;
};
constexpr TypeOfDtype kDtypes[] = {{DType::f32, kGgmlF32}, {DType::f16, kGgmlF16}, {DType::bf16, kGgmlBF16},
                                   {DType::f64, kGgmlF64}, {DType::i8, kGgmlI8},   {DType::i32, kGgmlI32},
                                   {DType::i64, kGgmlI64}};

}  // namespace

GgufValue GgufValue::of_string(std::string v) {
  GgufValue g;
  g.type = GgufValueType::string;
  g.s = std::move(v);
  return g;
}
GgufValue GgufValue::of_u32(uint32_t v) {
  GgufValue g;
  g.type = GgufValueType::u32;
  g.u = v;
  return g;
}
GgufValue GgufValue::of_u64(uint64_t v) {
  GgufValue g;
  g.type = GgufValueType::u64;
  g.u = v;
  return g;
}
GgufValue GgufValue::of_f32(float v) {
  GgufValue g;
  g.type = GgufValueType::f32;
  g.f = v;
  return g;
}

const GgmlTypeInfo* ggml_type_info(uint32_t id) {
  for (const GgmlTypeInfo& t : kTypes)
    if (t.id == id) return &t;
  return nullptr;
}

Shape GgufTensor::shape() const {
  Shape s;
  for (size_t d = ne.size(); d-- > 0;) s.push_back(static_cast<int64_t>(ne[d]));
  return s;
}

const GgufValue* GgufFile::find(std::string_view key) const {
  for (const auto& [k, v] : metadata)
    if (k == key) return &v;
  return nullptr;
}

const GgufTensor* GgufFile::tensor(std::string_view name) const {
  for (const GgufTensor& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

const std::string& GgufFile::string_value(std::string_view key, std::string_view what) const {
  const GgufValue* v = find(key);
  MI_CHECK(v != nullptr, ValueError, "[gguf] {}: no metadata key '{}'", what, key);
  MI_CHECK(v->type == GgufValueType::string, ValueError, "[gguf] {}: metadata key '{}' is not a string (type {})",
           what, key, static_cast<uint32_t>(v->type));
  return v->s;
}

GgufFile parse_gguf(std::string_view bytes, const std::string& what) {
  Reader r(bytes, what);
  GgufFile f;
  r.need(4, "header");
  if (bytes.substr(0, 4) != "GGUF") r.fail("header", "not a GGUF file (the magic is not \"GGUF\")");
  r.skip_to(4, "header");
  f.version = r.get<uint32_t>("header version");
  if (f.version != 2 && f.version != 3)
    r.fail("header", fmt::format("version {} is not supported (versions 2 and 3 are)", f.version));
  const auto n_tensors = r.get<uint64_t>("header tensor count");
  const auto n_kv = r.get<uint64_t>("header metadata count");
  // A key/value takes at least 8 + 1 + 4 + 1 bytes, a tensor info 8 + 4 + 4 + 8.
  if (n_kv > r.left() / 14) r.fail("header", fmt::format("{} metadata entries cannot fit in {} bytes", n_kv, r.left()));
  if (n_tensors > r.left() / 24)
    r.fail("header", fmt::format("{} tensor infos cannot fit in {} bytes", n_tensors, r.left()));

  std::set<std::string> keys;
  for (uint64_t i = 0; i < n_kv; ++i) {
    const std::string where = fmt::format("metadata entry {}", i);
    std::string key = r.string(where);
    if (key.empty()) r.fail(where, "empty key");
    if (!keys.insert(key).second) r.fail(where, fmt::format("duplicate key '{}'", key));
    const GgufValueType t = value_type(r, where + " ('" + key + "')");
    GgufValue v = read_value(r, t, where + " ('" + key + "')", 0);
    if (key == "general.alignment") {
      if (t != GgufValueType::u32) r.fail(where, "general.alignment must be a u32");
      if (v.u == 0 || v.u % 8 != 0)
        r.fail(where, fmt::format("general.alignment must be a positive multiple of 8, got {}", v.u));
      f.alignment = static_cast<uint32_t>(v.u);
    }
    f.metadata.emplace_back(std::move(key), std::move(v));
  }

  struct Info {
    uint64_t offset, bytes;
  };
  std::vector<Info> infos;
  std::set<std::string> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    const std::string where = fmt::format("tensor info {}", i);
    GgufTensor t;
    t.name = r.string(where);
    if (t.name.size() > kMaxNameBytes)
      r.fail(where, fmt::format("name of {} bytes is longer than {}", t.name.size(), kMaxNameBytes));
    if (!names.insert(t.name).second) r.fail(where, fmt::format("duplicate tensor name '{}'", t.name));
    const std::string at = where + " ('" + t.name + "')";
    const auto n_dims = r.get<uint32_t>(at);
    if (n_dims == 0 || n_dims > kMaxDims) r.fail(at, fmt::format("{} dims (1 to {} are allowed)", n_dims, kMaxDims));
    for (uint32_t d = 0; d < n_dims; ++d) {
      const auto n = r.get<uint64_t>(at);
      if (n > static_cast<uint64_t>(INT64_MAX)) r.fail(at, fmt::format("dim {} is {}, too large", d, n));
      t.ne.push_back(n);
    }
    uint64_t elements = 1;  // nonzero dims: a shape whose element count overflows is refused
    for (uint64_t n : t.ne)
      if (n != 0) {
        if (elements > static_cast<uint64_t>(INT64_MAX) / n) r.fail(at, "its element count overflows 63 bits");
        elements *= n;
      }
    t.type = r.get<uint32_t>(at);
    const GgmlTypeInfo* info = ggml_type_info(t.type);
    if (!info) r.fail(at, fmt::format("unknown or unsupported ggml type id {}", t.type));
    if (t.ne[0] % static_cast<uint64_t>(info->block_elements) != 0)
      r.fail(at, fmt::format("ne[0] = {} is not a multiple of the {} block size {}", t.ne[0], info->name,
                             info->block_elements));
    const std::optional<uint64_t> nbytes = tensor_bytes(*info, t.ne);
    if (!nbytes) r.fail(at, "its byte size overflows 64 bits");
    const auto offset = r.get<uint64_t>(at);
    if (offset % f.alignment != 0) r.fail(at, fmt::format("offset {} is not a multiple of the alignment {}", offset, f.alignment));
    infos.push_back({offset, *nbytes});
    f.tensors.push_back(std::move(t));
  }

  const uint64_t data_start = align_up(r.pos(), f.alignment);
  if (data_start > bytes.size() && !f.tensors.empty())
    r.fail("tensor data", fmt::format("the data section would start at {}, past the end of the file ({} bytes)",
                                      data_start, bytes.size()));
  const uint64_t data_size = data_start <= bytes.size() ? bytes.size() - data_start : 0;
  std::vector<size_t> order(infos.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return infos[a].offset < infos[b].offset; });
  uint64_t end_of_previous = 0;
  for (size_t k = 0; k < order.size(); ++k) {
    const Info& in = infos[order[k]];
    GgufTensor& t = f.tensors[order[k]];
    if (in.offset > data_size || in.bytes > data_size - in.offset)
      MI_THROW(ValueError, "[gguf] {}: tensor '{}' ({} bytes at data offset {}) runs past the end of the file ({} bytes of data)",
               what, t.name, in.bytes, in.offset, data_size);
    if (in.offset < end_of_previous)
      MI_THROW(ValueError, "[gguf] {}: tensor '{}' at data offset {} overlaps the tensor before it (which ends at {})",
               what, t.name, in.offset, end_of_previous);
    end_of_previous = in.offset + in.bytes;
    t.data.assign(bytes.substr(static_cast<size_t>(data_start + in.offset), static_cast<size_t>(in.bytes)));
  }
  return f;
}

std::string gguf_bytes(const GgufFile& file) {
  MI_CHECK(file.alignment > 0 && file.alignment % 8 == 0, ValueError,
           "[gguf] the alignment must be a positive multiple of 8, got {}", file.alignment);
  auto metadata = file.metadata;
  if (file.alignment != 32 && !file.find("general.alignment"))
    metadata.emplace_back("general.alignment", GgufValue::of_u32(file.alignment));
  std::string out = "GGUF";
  put<uint32_t>(out, 3);
  put<uint64_t>(out, file.tensors.size());
  put<uint64_t>(out, metadata.size());
  for (const auto& [k, v] : metadata) {
    put_string(out, k);
    put<uint32_t>(out, static_cast<uint32_t>(v.type));
    write_payload(out, v);
  }
  uint64_t offset = 0;
  for (const GgufTensor& t : file.tensors) {
    const GgmlTypeInfo* info = ggml_type_info(t.type);
    MI_CHECK(info != nullptr, ValueError, "[gguf] tensor '{}': unknown ggml type id {}", t.name, t.type);
    MI_CHECK(!t.ne.empty() && t.ne.size() <= kMaxDims, ValueError, "[gguf] tensor '{}' has {} dims (1 to 4 are allowed)",
             t.name, t.ne.size());
    MI_CHECK(t.name.size() <= kMaxNameBytes, ValueError, "[gguf] tensor name '{}' is longer than {} bytes", t.name,
             kMaxNameBytes);
    MI_CHECK(t.ne[0] % static_cast<uint64_t>(info->block_elements) == 0, ValueError,
             "[gguf] tensor '{}': ne[0] = {} is not a multiple of the {} block size", t.name, t.ne[0], info->name);
    const std::optional<uint64_t> n = tensor_bytes(*info, t.ne);
    MI_CHECK(n && *n == t.data.size(), ValueError, "[gguf] tensor '{}' holds {} bytes but its dims and type need {}",
             t.name, t.data.size(), n ? *n : 0);
    put_string(out, t.name);
    put<uint32_t>(out, static_cast<uint32_t>(t.ne.size()));
    for (uint64_t d : t.ne) put<uint64_t>(out, d);
    put<uint32_t>(out, t.type);
    put<uint64_t>(out, offset);
    offset = align_up(offset + t.data.size(), file.alignment);
  }
  out.resize(static_cast<size_t>(align_up(out.size(), file.alignment)), '\0');
  for (const GgufTensor& t : file.tensors) {
    out += t.data;
    out.resize(static_cast<size_t>(align_up(out.size(), file.alignment)), '\0');
  }
  return out;
}

GgufFile read_gguf(const std::string& path) { return parse_gguf(read_file(path, "gguf"), path); }

void write_gguf(const std::string& path, const GgufFile& file) { write_file_atomic(path, gguf_bytes(file), "gguf"); }

GgufTensor tensor_to_gguf(const std::string& name, const Tensor& t) {
  const auto* m = std::find_if(std::begin(kDtypes), std::end(kDtypes), [&](const TypeOfDtype& d) { return d.dtype == t.dtype(); });
  MI_CHECK(m != std::end(kDtypes), DTypeError, "[gguf] tensor '{}': dtype {} has no GGUF type", name, dtype_name(t.dtype()));
  GgufTensor g;
  g.name = name;
  g.type = m->ggml;
  for (size_t d = t.shape().size(); d-- > 0;) g.ne.push_back(static_cast<uint64_t>(t.shape()[d]));
  if (g.ne.empty()) g.ne.push_back(1);  // a scalar is one element
  const Tensor c = t.contiguous();
  g.data.assign(static_cast<const char*>(c.raw_data()), static_cast<size_t>(c.numel()) * dtype_size(c.dtype()));
  return g;
}

Tensor gguf_to_tensor(const GgufTensor& g) {
  const auto* m = std::find_if(std::begin(kDtypes), std::end(kDtypes), [&](const TypeOfDtype& d) { return d.ggml == g.type; });
  const GgmlTypeInfo* info = ggml_type_info(g.type);
  MI_CHECK(m != std::end(kDtypes), DTypeError, "[gguf] tensor '{}' has type {}, which is not a plain dtype", g.name,
           info ? std::string(info->name) : std::to_string(g.type));
  Tensor t = Tensor::empty(g.shape(), m->dtype);
  MI_CHECK(static_cast<size_t>(t.numel()) * dtype_size(m->dtype) == g.data.size(), ValueError,
           "[gguf] tensor '{}' holds {} bytes for shape {}", g.name, g.data.size(), shape_str(t.shape()));
  std::memcpy(t.raw_data(), g.data.data(), g.data.size());
  return t;
}

}  // namespace mithril::io
