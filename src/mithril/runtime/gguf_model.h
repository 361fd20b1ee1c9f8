// A model in one GGUF file: the Mithril model dict (JSON) in the metadata and its parameters as
// tensors, the weights of products quantized to a GGUF block format (q8_0, q4_0) or all in their
// float dtype. Metadata keys: general.architecture = "mithril", general.quantization_version = 2,
// mithril.model_dict (the dict as JSON text), mithril.quantize (the format, "" for none).
// Loading gives the model, the float values of every parameter (quantized ones dequantized; the
// ggml backend quantizes them again to the same blocks) and the format, so `mithril run
// model.gguf` compiles it on the ggml backend with its parameters as constants.
#pragma once

#include <map>
#include <set>
#include <string>

#include "mithril/core/tensor.h"
#include "mithril/io/gguf.h"
#include "mithril/logical/model.h"

namespace mithril {

// The parameter keys a quantizing backend quantizes: keys read as the weight of a product (the
// input of a Transpose feeding nothing else, as a Linear's weight, or the right operand of a
// MatrixMultiply).
std::set<std::string> product_weight_keys(const logical::Model& model);

struct GgufTensorReport {
  std::string name;
  Shape shape;
  std::string type;  // "Q8_0", "F32", ...
  int64_t bytes = 0;
  double max_rel_error = 0, mean_rel_error = 0;  // of the quantized values, as the ggml backend reports them
};

// Builds the file: each 2-D float parameter in product_weight_keys whose rows (last dim) are a
// multiple of 32 is quantized with `quantize` (empty: none); the others keep their dtype.
io::GgufFile gguf_model(const logical::Model& model, const std::map<std::string, Tensor>& params,
                        const std::string& quantize, std::vector<GgufTensorReport>* report = nullptr);

struct LoadedGgufModel {
  logical::Model model;
  std::map<std::string, Tensor> params;  // float32 for quantized tensors
  std::string quantize;
};
// A ValueError names the file and what is missing or malformed (metadata, dict, tensor types).
LoadedGgufModel load_gguf_model(const io::GgufFile& file, const std::string& what);
LoadedGgufModel read_gguf_model(const std::string& path);

}  // namespace mithril
