#include "mithril/train/checkpoint.h"

#include "mithril/core/error.h"
#include "mithril/io/file.h"
#include "mithril/io/safetensors.h"

namespace mithril::train {

namespace {

constexpr const char* kFormat = "mithril-checkpoint-1";
constexpr const char* kReserved[] = {"format", "optimizer", "step", "epoch", "batch", "rng"};

int64_t read_int(const std::map<std::string, std::string>& meta, const std::string& key, const std::string& path) {
  const auto it = meta.find(key);
  MI_CHECK(it != meta.end(), ValueError, "[checkpoint] {}: metadata lacks '{}'", path, key);
  const std::string& s = it->second;
  MI_CHECK(!s.empty() && s.find_first_not_of("0123456789") == std::string::npos && s.size() < 19, ValueError,
           "[checkpoint] {}: metadata '{}' = '{}' is not a non-negative integer", path, key, s);
  return std::stoll(s);
}

}  // namespace

void write_checkpoint(const std::string& path, const Checkpoint& c) { write_checkpoint(std::vector<std::string>{path}, c); }

void write_checkpoint(const std::vector<std::string>& paths, const Checkpoint& c) {
  std::map<std::string, Tensor> tensors;
  for (const auto& [k, t] : c.params) tensors["param/" + k] = t;
  for (const auto& [k, t] : c.optimizer_state) tensors["optim/" + k] = t;
  std::map<std::string, std::string> meta = c.extra;
  for (const char* r : kReserved)
    MI_CHECK(!c.extra.count(r), KeyError, "[checkpoint] extra metadata cannot use the reserved key '{}'", r);
  meta["format"] = kFormat;
  meta["optimizer"] = c.optimizer;
  meta["step"] = std::to_string(c.step);
  meta["epoch"] = std::to_string(c.epoch);
  meta["batch"] = std::to_string(c.batch);
  meta["rng"] = c.rng_state;
  const std::string bytes = io::safetensors_bytes(tensors, meta);
  for (const std::string& path : paths) io::write_file_atomic(path, bytes, "safetensors");
}

Checkpoint read_checkpoint(const std::string& path) {
  io::SafeTensors st = io::read_safetensors(path);
  auto& meta = st.metadata;
  const auto format = meta.find("format");
  MI_CHECK(format != meta.end() && format->second == kFormat, ValueError,
           "[checkpoint] {}: not a Mithril checkpoint (metadata 'format' is '{}', expected '{}')", path,
           format == meta.end() ? "" : format->second, kFormat);
  Checkpoint c;
  c.optimizer = meta["optimizer"];
  c.step = read_int(meta, "step", path);
  c.epoch = read_int(meta, "epoch", path);
  c.batch = read_int(meta, "batch", path);
  c.rng_state = meta["rng"];
  for (const auto& [k, v] : meta) {
    bool reserved = false;
    for (const char* r : kReserved) reserved = reserved || k == r;
    if (!reserved) c.extra[k] = v;
  }
  for (auto& [name, t] : st.tensors) {
    if (name.rfind("param/", 0) == 0) c.params[name.substr(6)] = t;
    else if (name.rfind("optim/", 0) == 0) c.optimizer_state[name.substr(6)] = t;
    else MI_THROW(ValueError, "[checkpoint] {}: unexpected tensor '{}' (expected param/... or optim/...)", path, name);
  }
  MI_CHECK(!c.params.empty(), ValueError, "[checkpoint] {}: holds no parameters", path);
  return c;
}

}  // namespace mithril::train
