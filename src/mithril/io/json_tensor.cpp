#include "mithril/io/json_tensor.h"

#include <functional>

#include "mithril/core/error.h"

namespace mithril::io {
namespace {

void infer_shape(const nlohmann::ordered_json& v, size_t depth, Shape& shape) {
  if (!v.is_array()) return;
  if (depth == shape.size()) shape.push_back(static_cast<int64_t>(v.size()));
  if (!v.empty()) infer_shape(v[0], depth + 1, shape);
}

void collect(const nlohmann::ordered_json& v, const Shape& shape, size_t depth, std::vector<double>& out) {
  if (depth == shape.size()) {
    MI_CHECK(v.is_number() || v.is_boolean(), ValueError, "[tensor_from_json] expected a number at depth {}, got {}",
             depth, v.dump());
    out.push_back(v.is_boolean() ? (v.get<bool>() ? 1.0 : 0.0) : v.get<double>());
    return;
  }
  MI_CHECK(v.is_array() && static_cast<int64_t>(v.size()) == shape[depth], ValueError,
           "[tensor_from_json] ragged nested list: expected {} entries at depth {}, got {}", shape[depth], depth,
           v.is_array() ? std::to_string(v.size()) : v.dump());
  for (const auto& x : v) collect(x, shape, depth + 1, out);
}

}  // namespace

Tensor tensor_from_json(const nlohmann::ordered_json& value, DType dtype) {
  Shape shape;
  infer_shape(value, 0, shape);
  std::vector<double> data;
  data.reserve(static_cast<size_t>(numel(shape)));
  collect(value, shape, 0, data);
  return Tensor::from_doubles(data, shape, dtype);
}

nlohmann::ordered_json tensor_to_json(const Tensor& t) {
  const std::vector<double> v = t.to_doubles();
  if (t.ndim() == 0) return v.at(0);
  std::function<nlohmann::ordered_json(size_t, size_t&)> rec = [&](size_t d, size_t& pos) {
    nlohmann::ordered_json a = nlohmann::ordered_json::array();
    for (int64_t i = 0; i < t.shape()[d]; ++i) {
      if (d + 1 == t.shape().size()) a.push_back(v[pos++]);
      else a.push_back(rec(d + 1, pos));
    }
    return a;
  };
  size_t pos = 0;
  return rec(0, pos);
}

}  // namespace mithril::io
