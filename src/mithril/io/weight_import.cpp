#include "mithril/io/weight_import.h"

#include <set>

#include <fmt/ranges.h>

#include "mithril/core/error.h"
#include "mithril/io/safetensors.h"

namespace mithril::io {
namespace {

std::string count_of(size_t n, const char* what) { return fmt::format("{} {}{}", n, what, n == 1 ? "" : "s"); }

}  // namespace

std::map<std::string, Tensor> map_weights(const std::map<std::string, Tensor>& tensors, const std::string& what,
                                          const WeightTable& table, DType dtype,
                                          const std::map<std::string, Shape>& expected_shapes) {
  std::set<std::string> sources, keys;
  for (const WeightRow& r : table) {
    MI_CHECK(sources.insert(r.source).second, ValueError, "[import] the table maps '{}' twice", r.source);
    MI_CHECK(keys.insert(r.key).second, ValueError, "[import] the table maps two tensors to key '{}'", r.key);
  }
  std::vector<std::string> unmatched, missing, misshaped;
  for (const auto& [name, t] : tensors)
    if (!sources.count(name)) unmatched.push_back(name);
  std::map<std::string, Tensor> out;
  for (const WeightRow& r : table) {
    const auto it = tensors.find(r.source);
    if (it == tensors.end()) {
      missing.push_back(r.source);
      continue;
    }
    if (const auto e = expected_shapes.find(r.key); e != expected_shapes.end() && e->second != it->second.shape())
      misshaped.push_back(fmt::format("{} is {} but key '{}' needs {}", r.source, shape_str(it->second.shape()), r.key,
                                      shape_str(e->second)));
    out.emplace(r.key, it->second.astype(dtype));
  }
  if (!unmatched.empty() || !missing.empty()) {
    std::vector<std::string> parts;
    if (!unmatched.empty())
      parts.push_back(fmt::format("{} of the file {} no row in the table: {}", count_of(unmatched.size(), "tensor"),
                                  unmatched.size() == 1 ? "has" : "have", fmt::join(unmatched, ", ")));
    if (!missing.empty())
      parts.push_back(fmt::format("{} of the table {} missing from the file: {}", count_of(missing.size(), "tensor"),
                                  missing.size() == 1 ? "is" : "are", fmt::join(missing, ", ")));
    MI_THROW(KeyError, "[import] {}: {}", what, fmt::join(parts, "; "));
  }
  MI_CHECK(misshaped.empty(), ShapeError, "[import] {}: {} of the wrong shape: {}", what,
           count_of(misshaped.size(), "tensor"), fmt::join(misshaped, "; "));
  return out;
}

std::map<std::string, Tensor> import_weights(const std::string& path, const WeightTable& table, DType dtype,
                                             const std::map<std::string, Shape>& expected_shapes) {
  return map_weights(read_safetensors(path).tensors, path, table, dtype, expected_shapes);
}

}  // namespace mithril::io
