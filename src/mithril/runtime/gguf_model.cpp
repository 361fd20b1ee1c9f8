#include "mithril/runtime/gguf_model.h"

#include <cmath>

#include "mithril/backends/ggml/quant_matmul.h"
#include "mithril/core/error.h"
#include "mithril/logical/flatten.h"
#include "mithril/logical/model_dict.h"

namespace mithril {

namespace {

constexpr const char* kDictKey = "mithril.model_dict";
constexpr const char* kQuantizeKey = "mithril.quantize";

}  // namespace

std::set<std::string> product_weight_keys(const logical::Model& model) {
  const logical::FlatModel flat = logical::flatten(model);
  std::set<logical::EdgeId> weights;
  for (const logical::PrimCall& call : flat.calls) {
    if (call.def.name == "MatrixMultiply" && call.ports.count("right")) weights.insert(call.ports.at("right"));
    if (call.def.name == "Transpose" && call.ports.count("input")) weights.insert(call.ports.at("input"));
  }
  std::set<std::string> keys;
  for (const auto& [name, edge] : flat.keys)
    if (weights.count(edge) && flat.is_input(edge)) keys.insert(name);
  return keys;
}

io::GgufFile gguf_model(const logical::Model& model, const std::map<std::string, Tensor>& params,
                        const std::string& quantize, std::vector<GgufTensorReport>* report) {
  std::optional<ggml::QuantType> type;
  if (!quantize.empty()) type = ggml::parse_quant_type(quantize);
  const std::set<std::string> weights = product_weight_keys(model);
  io::GgufFile f;
  f.metadata.emplace_back("general.architecture", io::GgufValue::of_string("mithril"));
  f.metadata.emplace_back("general.quantization_version", io::GgufValue::of_u32(2));
  f.metadata.emplace_back(kDictKey, io::GgufValue::of_string(logical::model_to_dict(model).dump()));
  f.metadata.emplace_back(kQuantizeKey,
                          io::GgufValue::of_string(type ? std::string(ggml::quant_traits(*type).name) : std::string()));
  for (const auto& [name, t] : params) {
    const bool quantized = type && weights.count(name) && t.ndim() == 2 && t.shape()[1] % ggml::kBlock == 0 &&
                           t.shape()[1] > 0 && (t.dtype() == DType::f32 || t.dtype() == DType::f64);
    GgufTensorReport r{name, t.shape(), "", 0, 0, 0};
    if (quantized) {
      const ggml::QuantMatrix q = ggml::quantize_matrix(*type, t, false, "parameter '" + name + "'");
      io::GgufTensor g;
      g.name = name;
      g.ne = {static_cast<uint64_t>(q.cols), static_cast<uint64_t>(q.rows)};
      g.type = ggml::quant_traits(*type).ggml_type;
      g.data.assign(reinterpret_cast<const char*>(q.data.data()), q.data.size());
      const Tensor exact = t.astype(DType::f64), approx = ggml::dequantize_matrix(q).astype(DType::f64);
      double max_abs = 0, max_err = 0, sum_abs = 0, sum_err = 0;
      for (int64_t i = 0; i < exact.numel(); ++i) {
        const double a = exact.data<double>()[i], e = std::fabs(a - approx.data<double>()[i]);
        max_abs = std::max(max_abs, std::fabs(a));
        max_err = std::max(max_err, e);
        sum_abs += std::fabs(a);
        sum_err += e;
      }
      r.max_rel_error = max_abs > 0 ? max_err / max_abs : 0;
      r.mean_rel_error = sum_abs > 0 ? sum_err / sum_abs : 0;
      f.tensors.push_back(std::move(g));
    } else {
      f.tensors.push_back(io::tensor_to_gguf(name, t));
    }
    r.type = std::string(io::ggml_type_info(f.tensors.back().type)->name);
    r.bytes = static_cast<int64_t>(f.tensors.back().data.size());
    if (report) report->push_back(std::move(r));
  }
  return f;
}

LoadedGgufModel load_gguf_model(const io::GgufFile& file, const std::string& what) {
  LoadedGgufModel m;
  const std::string& dict = file.string_value(kDictKey, what);
  logical::json j;
  try {
    j = logical::json::parse(dict);
  } catch (const std::exception& e) {
    MI_THROW(ValueError, "[gguf] {}: {} is not valid JSON: {}", what, kDictKey, e.what());
  }
  m.model = logical::model_from_dict(j, what);
  if (file.find(kQuantizeKey)) m.quantize = file.string_value(kQuantizeKey, what);
  for (const io::GgufTensor& t : file.tensors) {
    if (t.type == io::kGgmlQ8_0 || t.type == io::kGgmlQ4_0) {
      MI_CHECK(t.ne.size() == 2, ValueError, "[gguf] {}: quantized tensor '{}' must have 2 dims, has {}", what, t.name,
               t.ne.size());
      ggml::QuantMatrix q;
      q.type = t.type == io::kGgmlQ8_0 ? ggml::QuantType::q8_0 : ggml::QuantType::q4_0;
      q.cols = static_cast<int64_t>(t.ne[0]);
      q.rows = static_cast<int64_t>(t.ne[1]);
      q.data.assign(t.data.begin(), t.data.end());
      m.params[t.name] = ggml::dequantize_matrix(q);
    } else {
      m.params[t.name] = io::gguf_to_tensor(t);
    }
  }
  return m;
}

LoadedGgufModel read_gguf_model(const std::string& path) { return load_gguf_model(io::read_gguf(path), path); }

}  // namespace mithril
