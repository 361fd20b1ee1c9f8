// Model files of the commands: a model dict (JSON) with, optionally, its parameters from a
// --params file (.safetensors or .npz, by key name), or a GGUF model (runtime/gguf_model.h)
// holding both. The parameters become constant keys, so a quantizing backend (ggml) sees the
// weights at compile time; a GGUF model compiles on the ggml backend with the file's format
// unless the command's --options name another backend.
#pragma once

#include <map>
#include <string>

#include "mithril/core/tensor.h"
#include "mithril/logical/model.h"
#include "mithril/runtime/compile.h"

namespace mithril::cli {

struct ModelFile {
  logical::Model model;
  std::map<std::string, Tensor> params;  // empty: none given
  std::string quantize;                  // of a GGUF model
  bool gguf = false;
};

bool is_gguf_path(const std::string& path);
// `params_file` may be empty; a key of it that the model does not have is a KeyError.
ModelFile load_model_file(const std::string& model_file, const std::string& params_file);
std::map<std::string, Tensor> load_params_file(const std::string& path);

// The command's defaults for this file: `base`, with the ggml backend (float32, the file's
// format) for a GGUF model.
CompileOptions model_file_defaults(const ModelFile& file, CompileOptions base);
// Binds the parameters as constant keys of `options` (cast to its precision at compile).
void bind_params(const ModelFile& file, CompileOptions& options);

}  // namespace mithril::cli
