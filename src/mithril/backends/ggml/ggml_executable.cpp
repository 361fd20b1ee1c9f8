#include "mithril/backends/ggml/ggml_executable.h"

#include "mithril/backends/backend.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>

#include "mithril/backends/step_info.h"
#include "mithril/core/error.h"
#include "mithril/ops/shape.h"

namespace mithril::ggml {

namespace {

// The kernel entries the step info of a quantized product points at (its name is what
// MITHRIL_VERBOSE, the profiler and the report show; the product is run by the executable).
const KernelEntry& quant_entry(QuantType type, QuantPath path) {
  static const KernelEntry entries[kNumQuantTypes][2] = {
      {{nullptr, "matmul_q8_0_scalar"}, {nullptr, "matmul_q8_0_avx2", Isa::avx2_fma}},
      {{nullptr, "matmul_q4_0_scalar"}, {nullptr, "matmul_q4_0_avx2", Isa::avx2_fma}},
  };
  return entries[static_cast<int>(type)][path == QuantPath::avx2 ? 1 : 0];
}

int64_t bytes_of(const Value& v) { return numel(v.shape) * static_cast<int64_t>(dtype_size(v.dtype)); }

// Where the weight of a product comes from, when it is a constant matrix.
struct WeightSource {
  ValueId constant = -1;
  bool transposed = false;  // the constant is (in, out): its columns are the rows to quantize
};

WeightSource weight_source(const Graph& g, ValueId right) {
  if (g.is_constant(right)) return {right, true};
  const NodeId p = g.value(right).producer;
  if (p >= 0) {
    const Node& t = g.nodes()[static_cast<size_t>(p)];
    if (is_matrix_transpose(*t.op) && g.is_constant(t.inputs[0])) return {t.inputs[0], false};
  }
  return {};
}

void measure_error(const Tensor& w, bool transposed, const QuantMatrix& q, LayerReport& r) {
  const Tensor exact = (transposed ? w.transpose(0, 1) : w).astype(DType::f64).contiguous();
  const Tensor approx = dequantize_matrix(q).astype(DType::f64);
  const double* a = exact.data<double>();
  const double* b = approx.data<double>();
  double max_abs = 0, max_err = 0, sum_abs = 0, sum_err = 0;
  for (int64_t i = 0; i < exact.numel(); ++i) {
    const double e = std::fabs(a[i] - b[i]);
    max_abs = std::max(max_abs, std::fabs(a[i]));
    max_err = std::max(max_err, e);
    sum_abs += std::fabs(a[i]);
    sum_err += e;
  }
  r.max_rel_error = max_abs > 0 ? max_err / max_abs : 0;
  r.mean_rel_error = sum_abs > 0 ? sum_err / sum_abs : 0;
}

}  // namespace

GgmlExecutable::GgmlExecutable(const Graph& graph, std::vector<ValueId> outputs, const KernelTable& kernels,
                               PlanOptions options)
    : graph_(graph), outputs_(std::move(outputs)), options_(options) {
  const auto& nodes = graph.nodes();
  const QuantPath path = best_quant_path();
  // 1. Every product: quantized when its weight is a constant matrix the format can hold.
  std::vector<int> quant_of(nodes.size(), -1);
  for (size_t n = 0; n < nodes.size(); ++n) {
    const Node& node = nodes[n];
    if (node.op->kind() != OpKind::MatMul) continue;
    const Value& x = graph.value(node.inputs[0]);
    const Value& right = graph.value(node.inputs[1]);
    LayerReport r;
    r.node = static_cast<NodeId>(n);
    r.format = precision_name(x.dtype);
    const WeightSource src = right.shape.size() == 2 ? weight_source(graph, node.inputs[1]) : WeightSource{};
    if (right.shape.size() == 2) r.weight = {right.shape[1], right.shape[0]};
    r.float_bytes = r.bytes = bytes_of(right);
    const int64_t k = right.shape.empty() ? 0 : right.shape.front();
    if (!options_.quantize) r.reason = "quantize is not set";
    else if (x.dtype != DType::f32 && x.dtype != DType::f64) r.reason = fmt::format("dtype {}", dtype_name(x.dtype));
    else if (right.shape.size() != 2) r.reason = "the right operand is not a matrix";
    else if (src.constant < 0) r.reason = "the weight is not a constant (bind it with constant keys to quantize it)";
    else if (k % kBlock != 0) r.reason = fmt::format("rows of {} values are not a multiple of {}", k, kBlock);
    if (r.reason.empty()) {
      const Tensor& w = graph.constant_value(src.constant);
      const std::string what = fmt::format("the weight of matmul n{} ({}x{})", n, r.weight[0], r.weight[1]);
      weights_.push_back(quantize_matrix(*options_.quantize, w, src.transposed, what));
      r.quantized = true;
      r.format = quant_traits(*options_.quantize).name;
      r.bytes = static_cast<int64_t>(weights_.back().data.size());
      measure_error(w, src.transposed, weights_.back(), r);
      quant_of[n] = static_cast<int>(weights_.size() - 1);
      quant_bytes_ += r.bytes;
    }
    layers_.push_back(std::move(r));
  }

  // 2. What the outputs need; a quantized product reads only its activations.
  std::vector<bool> value_needed(graph.values().size(), false), node_needed(nodes.size(), false);
  for (ValueId v : outputs_) value_needed[static_cast<size_t>(v)] = true;
  for (size_t n = nodes.size(); n-- > 0;) {
    bool any = false;
    for (ValueId v : nodes[n].outputs) any = any || value_needed[static_cast<size_t>(v)];
    if (!any) continue;
    node_needed[n] = true;
    if (quant_of[n] >= 0) value_needed[static_cast<size_t>(nodes[n].inputs[0])] = true;
    else
      for (ValueId v : nodes[n].inputs) value_needed[static_cast<size_t>(v)] = true;
  }
  std::vector<bool> counted(graph.values().size(), false);
  for (size_t v = 0; v < graph.values().size(); ++v)
    if (value_needed[v] && graph.is_constant(static_cast<ValueId>(v))) float_weight_bytes_ += bytes_of(graph.values()[v]);

  // 3. Steps, kernels and the arena.
  std::vector<bool> is_output(graph.values().size(), false);
  for (ValueId v : outputs_) is_output[static_cast<size_t>(v)] = true;
  std::vector<int> buffer_of(graph.values().size(), -1);
  std::vector<BufferLifetime> buffers;
  std::vector<ValueId> buffer_values;
  for (size_t n = 0; n < nodes.size(); ++n) {
    if (!node_needed[n]) continue;
    const Node& node = nodes[n];
    const int s = static_cast<int>(steps_.size());
    steps_.push_back({&node, quant_of[n]});
    StepInfo si = step_info_of(graph, static_cast<NodeId>(n));
    si.kernel = quant_of[n] >= 0 ? &quant_entry(*options_.quantize, path)
                                 : &kernels.find(*node.op, si.signature.input_dtypes, si.signature.output_dtypes);
    si.cost = node.op->cost(si.signature);
    info_.push_back(std::move(si));
    const size_t reads = quant_of[n] >= 0 ? 1 : node.inputs.size();
    for (size_t i = 0; i < reads; ++i) {
      const int b = buffer_of[static_cast<size_t>(node.inputs[i])];
      if (b >= 0) buffers[static_cast<size_t>(b)].last = s;
    }
    for (ValueId v : node.outputs) {
      if (is_output[static_cast<size_t>(v)]) continue;
      buffer_of[static_cast<size_t>(v)] = static_cast<int>(buffers.size());
      buffers.push_back({bytes_of(graph.value(v)), s, s});
      buffer_values.push_back(v);
    }
  }
  for (ValueId v : outputs_)
    if (!counted[static_cast<size_t>(v)]) {
      counted[static_cast<size_t>(v)] = true;
      output_bytes_ += bytes_of(graph.value(v));
    }
  plan_ = plan_memory(buffers);
  offset_.assign(graph.values().size(), -1);
  for (size_t b = 0; b < buffers.size(); ++b) offset_[static_cast<size_t>(buffer_values[b])] = plan_.offsets[b];
  times_.calls.assign(steps_.size(), 0);
  times_.seconds.assign(steps_.size(), 0.0);

  if (options_.mem_size > 0) {
    const int64_t need = weight_bytes() + plan_.arena_bytes + output_bytes_;
    MI_CHECK(need <= options_.mem_size, ValueError,
             "[compile] backend ggml: the program needs {} bytes but mem_size is {} bytes: {} for weights ({} "
             "quantized, {} float) and {} for activations ({} arena, {} outputs)",
             need, options_.mem_size, weight_bytes(), quant_bytes_, float_weight_bytes_, plan_.arena_bytes + output_bytes_,
             plan_.arena_bytes, output_bytes_);
  }
}

void GgmlExecutable::run(std::span<const Tensor* const> inputs, std::vector<Tensor>& results) const {
  const auto& ids = graph_.inputs();
  MI_CHECK(inputs.size() == ids.size(), ValueError, "[ggml] graph has {} inputs but {} tensors were given",
           ids.size(), inputs.size());
  std::vector<Tensor> values(graph_.values().size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const Value& v = graph_.value(ids[i]);
    const Tensor& t = *inputs[i];
    MI_CHECK(t.shape() == v.shape && t.dtype() == v.dtype, ValueError, "[ggml] input '{}' must be {} {}, got {} {}",
             v.name, dtype_name(v.dtype), shape_str(v.shape), dtype_name(t.dtype()), shape_str(t.shape()));
    values[static_cast<size_t>(ids[i])] = t.contiguous();
  }
  auto value_of = [&](ValueId id) -> const Tensor& {
    Tensor& t = values[static_cast<size_t>(id)];
    if (!t.defined() && graph_.is_constant(id)) t = graph_.constant_value(id).contiguous();
    return t;
  };
  std::shared_ptr<Storage> arena =
      plan_.arena_bytes > 0 ? std::make_shared<Storage>(static_cast<size_t>(plan_.arena_bytes)) : nullptr;
  const auto run_start = std::chrono::steady_clock::now();
  std::vector<Tensor> ins, outs;
  for (size_t s = 0; s < steps_.size(); ++s) {
    const Node& node = *steps_[s].node;
    const auto start = std::chrono::steady_clock::now();
    outs.clear();
    for (ValueId v : node.outputs) {
      const Value& val = graph_.value(v);
      const int64_t off = offset_[static_cast<size_t>(v)];
      outs.push_back(off >= 0 ? Tensor::view_of(arena, static_cast<size_t>(off), val.shape, val.dtype)
                              : Tensor::empty(val.shape, val.dtype));
    }
    if (steps_[s].quant >= 0) {
      const QuantMatrix& w = weights_[static_cast<size_t>(steps_[s].quant)];
      const Tensor& x = value_of(node.inputs[0]);
      const Tensor xf = x.dtype() == DType::f32 ? x : x.astype(DType::f32);
      Tensor& out = outs[0];
      Tensor yf = out.dtype() == DType::f32 ? out : Tensor::empty(out.shape(), DType::f32);
      quant_matmul(w, xf.data<float>(), x.numel() / w.cols, yf.data<float>());
      if (out.dtype() != DType::f32) out.copy_from(yf);
    } else {
      ins.clear();
      for (ValueId v : node.inputs) ins.push_back(value_of(v));
      info_[s].kernel->fn(*node.op, ins, outs);
    }
    if (options_.exec.profile) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::lock_guard<std::mutex> lock(profile_mutex_);
      ++times_.calls[s];
      times_.seconds[s] += seconds;
    }
    for (size_t o = 0; o < outs.size(); ++o) values[static_cast<size_t>(node.outputs[o])] = std::move(outs[o]);
  }
  results.resize(outputs_.size());
  for (size_t k = 0; k < outputs_.size(); ++k) {
    const Tensor& t = value_of(outputs_[k]);
    // An output that is an input or a constant is returned as a copy, like fresh outputs.
    const NodeId p = graph_.value(outputs_[k]).producer;
    results[k] = p < 0 ? t.clone() : t;
  }
  if (options_.exec.profile) {
    std::lock_guard<std::mutex> lock(profile_mutex_);
    ++times_.runs;
    times_.total_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
  }
}

StepTimes GgmlExecutable::profile_times() const {
  std::lock_guard<std::mutex> lock(profile_mutex_);
  return times_;
}

void GgmlExecutable::reset_profile() const {
  std::lock_guard<std::mutex> lock(profile_mutex_);
  times_.runs = 0;
  times_.total_seconds = 0;
  std::fill(times_.calls.begin(), times_.calls.end(), 0);
  std::fill(times_.seconds.begin(), times_.seconds.end(), 0.0);
}

std::string GgmlExecutable::backend_report() const {
  std::string out = fmt::format("ggml backend: quantize {}, kernels {}\n",
                                options_.quantize ? std::string(quant_traits(*options_.quantize).name) : "none",
                                quant_path_name(best_quant_path()));
  if (!layers_.empty()) {
    out += fmt::format("  {:<8} {:<12} {:<8} {:>12} {:>12} {:>12} {:>12}\n", "layer", "weight", "format", "bytes",
                       "float bytes", "max rel err", "mean rel err");
    for (const LayerReport& r : layers_) {
      const std::string shape = r.weight.size() == 2 ? fmt::format("{}x{}", r.weight[0], r.weight[1]) : "-";
      if (r.quantized)
        out += fmt::format("  {:<8} {:<12} {:<8} {:>12} {:>12} {:>12.3e} {:>12.3e}\n", fmt::format("n{}", r.node), shape,
                           r.format, r.bytes, r.float_bytes, r.max_rel_error, r.mean_rel_error);
      else
        out += fmt::format("  {:<8} {:<12} {:<8} {:>12} {:>12}   in floating point: {}\n", fmt::format("n{}", r.node),
                           shape, r.format, r.bytes, r.float_bytes, r.reason);
    }
  }
  out += fmt::format("  weights {} bytes ({} quantized, {} float); activations {} bytes ({} arena, {} outputs)\n",
                     weight_bytes(), quant_bytes_, float_weight_bytes_, plan_.arena_bytes + output_bytes_,
                     plan_.arena_bytes, output_bytes_);
  return out;
}

}  // namespace mithril::ggml
