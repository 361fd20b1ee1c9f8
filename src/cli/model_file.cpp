#include "cli/model_file.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "mithril/backends/ggml/ggml_backend.h"
#include "mithril/core/error.h"
#include "mithril/io/npy.h"
#include "mithril/io/safetensors.h"
#include "mithril/logical/flatten.h"
#include "mithril/logical/model_dict.h"
#include "mithril/runtime/gguf_model.h"

namespace mithril::cli {

bool is_gguf_path(const std::string& path) { return path.size() >= 5 && path.substr(path.size() - 5) == ".gguf"; }

std::map<std::string, Tensor> load_params_file(const std::string& path) {
  if (path.size() >= 4 && path.substr(path.size() - 4) == ".npz") return io::read_npz(path);
  if (is_gguf_path(path)) return read_gguf_model(path).params;
  return io::read_safetensors(path).tensors;
}

ModelFile load_model_file(const std::string& model_file, const std::string& params_file) {
  ModelFile f;
  if (is_gguf_path(model_file)) {
    LoadedGgufModel g = read_gguf_model(model_file);
    f = {std::move(g.model), std::move(g.params), std::move(g.quantize), true};
  } else {
    f.model = logical::load_model_dict(model_file);
  }
  if (!params_file.empty()) {
    const logical::FlatModel flat = logical::flatten(f.model);
    std::vector<std::string> unknown;
    for (auto& [k, t] : load_params_file(params_file)) {
      if (!flat.keys.count(k)) unknown.push_back(k);
      f.params[k] = std::move(t);
    }
    MI_CHECK(unknown.empty(), KeyError, "[params] {}: the model has no key {}", params_file, fmt::join(unknown, ", "));
  }
  return f;
}

CompileOptions model_file_defaults(const ModelFile& file, CompileOptions base) {
  if (file.gguf) base.backend = GgmlBackend::make({.quantize = file.quantize});
  return base;
}

void bind_params(const ModelFile& file, CompileOptions& options) {
  for (const auto& [k, t] : file.params) options.constant_tensors[k] = Data(t);
}

}  // namespace mithril::cli
