#include "cli/run_io.h"

#include <algorithm>
#include <charconv>
#include <new>
#include <random>

#include "mithril/core/checked.h"
#include "mithril/core/error.h"
#include "mithril/io/npy.h"

namespace mithril {

std::map<std::string, Shape> parse_shape_specs(const std::vector<std::string>& specs) {
  std::map<std::string, Shape> out;
  for (const std::string& spec : specs) {
    const size_t eq = spec.find('=');
    MI_CHECK(eq != std::string::npos && eq > 0, ValueError,
             "[shapes] '{}': expected KEY=DIMS such as input=32x128 (KEY= for a scalar)", spec);
    const std::string key = spec.substr(0, eq);
    std::string dims = spec.substr(eq + 1);
    if (dims == "()") dims.clear();
    Shape shape;
    for (size_t at = 0; !dims.empty() && at <= dims.size();) {
      const size_t x = std::min(dims.find_first_of("x,", at), dims.size());
      int64_t d = -1;
      const auto [end, ec] = std::from_chars(dims.data() + at, dims.data() + x, d);
      MI_CHECK(ec == std::errc() && end == dims.data() + x && d >= 0, ValueError,
               "[shapes] '{}': dimension '{}' is not a non-negative integer", spec, dims.substr(at, x - at));
      shape.push_back(d);
      at = x + 1;
    }
    // Random inputs are drawn as doubles: 8 bytes per element is the most any input of this shape takes.
    checked_bytes(shape, sizeof(double), fmt::format("[shapes] '{}'", key));
    MI_CHECK(out.emplace(key, shape).second, ValueError, "[shapes] '{}' is given twice", key);
  }
  return out;
}

DataMap make_run_inputs(const PhysicalModel& pm, const std::string& npz_path,
                        const std::map<std::string, Shape>& shapes, uint64_t seed, DType dtype) {
  const std::vector<std::string>& keys = pm.input_keys();
  auto is_input = [&](const std::string& k) { return std::find(keys.begin(), keys.end(), k) != keys.end(); };
  for (const auto& [key, shape] : shapes)
    MI_CHECK(is_input(key), KeyError, "[run] '{}' is not an input of the model (inputs: {})", key,
             fmt::join(keys, ", "));
  std::map<std::string, Tensor> file;
  if (!npz_path.empty()) file = io::read_npz(npz_path);
  for (const auto& [key, t] : file)
    MI_CHECK(is_input(key), KeyError, "[run] {}: member '{}' is not an input of the model (inputs: {})", npz_path, key,
             fmt::join(keys, ", "));

  DataMap out;
  std::vector<std::string> missing;
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (const std::string& key : keys) {
    const auto given = shapes.find(key);
    if (const auto f = file.find(key); f != file.end()) {
      MI_CHECK(given == shapes.end() || given->second == f->second.shape(), ValueError,
               "[run] input '{}' has shape {} in {} but --shapes says {}", key, shape_str(f->second.shape()), npz_path,
               shape_str(given->second));
      out[key] = f->second;  // the compiled model casts float inputs to its precision
    } else if (given != shapes.end()) {
      const int64_t n = numel(given->second);
      try {
        std::vector<double> values(static_cast<size_t>(n));
        for (double& v : values) v = normal(rng);
        out[key] = Tensor::from_doubles(values, given->second, dtype);
      } catch (const std::bad_alloc&) {
        MI_THROW(MemoryError, "[run] input '{}' of shape {}: out of memory for {} bytes of random values", key,
                 shape_str(given->second), n * static_cast<int64_t>(sizeof(double)));
      }
    } else {
      missing.push_back(key);
    }
  }
  MI_CHECK(missing.empty(), KeyError,
           "[run] missing inputs: {} (give them in --inputs FILE.npz or their shapes with --shapes)",
           fmt::join(missing, ", "));
  return out;
}

std::string describe_output(const std::string& name, const Tensor& t, size_t first) {
  const std::vector<double> v = t.to_doubles();
  std::string stats = "empty";
  if (!v.empty()) {
    double sum = 0;
    for (double x : v) sum += x;
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    stats = fmt::format("min {:.6g}  mean {:.6g}  max {:.6g}", *lo, sum / static_cast<double>(v.size()), *hi);
  }
  std::string head;
  for (size_t i = 0; i < std::min(first, v.size()); ++i) head += fmt::format("{}{:.6g}", i ? ", " : "", v[i]);
  if (v.size() > first) head += ", ...";
  return fmt::format("{}  shape {}  {}  {}  first [{}]", name, shape_str(t.shape()), dtype_name(t.dtype()), stats,
                     head);
}

}  // namespace mithril
