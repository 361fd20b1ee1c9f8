#include "mithril/backends/cpu/executor.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "mithril/backends/check_numerics.h"
#include "mithril/backends/program_inputs.h"
#include "mithril/backends/step_info.h"
#include "mithril/core/env.h"
#include "mithril/core/error.h"
#include "mithril/graph/rewrite.h"

namespace mithril::cpu {

namespace {

constexpr int kConstantOutput = INT32_MIN;
// Bound tensors larger than this are dropped after a run so the executor does not keep a
// caller's big inputs or outputs alive; small ones stay so rebinding reuses their shape storage.
constexpr size_t kKeepBoundBytes = size_t{64} << 10;

// Ops whose kernels read and write element i together (unary and binary maps): the output may
// take the buffer of a same-shaped input that dies at this step.
bool elementwise_in_place(OpKind k) { return is_elementwise(k) && k != OpKind::StopGradient && k != OpKind::Identity; }
// Ops whose output is the input's bytes unchanged: with a dying input they cost nothing.
bool pure_alias(OpKind k) { return k == OpKind::Reshape || k == OpKind::Identity || k == OpKind::StopGradient; }

size_t value_bytes(const Value& v) { return static_cast<size_t>(numel(v.shape)) * dtype_size(v.dtype); }

}  // namespace

struct Executor::Context {
  std::shared_ptr<Storage> arena;
  std::vector<Tensor> args;
  std::vector<double> step_seconds, step_starts;  // timed runs: per step, reused
};

Executor::Executor(const Graph& graph, std::vector<ValueId> outputs, ExecutorOptions options)
    : graph_(graph), outputs_(std::move(outputs)), options_(options), verbose_(env_flag("MITHRIL_VERBOSE")) {
  timed_ = options_.profile || verbose_ || options_.check_numerics;
  const auto& nodes = graph.nodes();
  const size_t nv = graph.values().size();
  const std::vector<bool> needed_node = needed_nodes(graph, outputs_);
  std::vector<bool> is_output(nv, false);
  for (ValueId o : outputs_) is_output[static_cast<size_t>(o)] = true;
  auto arena_value = [&](ValueId v) {
    const Value& info = graph.value(v);
    return info.producer >= 0 && !is_output[static_cast<size_t>(v)];
  };

  // Steps, with each value's first and last step.
  std::vector<int> first(nv, -1), last(nv, -1);
  for (size_t n = 0; n < nodes.size(); ++n) {
    if (!needed_node[n]) continue;
    const Node& node = nodes[n];
    StepInfo si = step_info_of(graph, static_cast<NodeId>(n));
    si.kernel = &kernel_table().find(*node.op, si.signature.input_dtypes, si.signature.output_dtypes, options_.isa_cap);
    si.cost = node.op->cost(si.signature);
    const int s = static_cast<int>(steps_.size());
    Step step{node.op.get(), si.kernel->fn, static_cast<uint32_t>(arg_values_.size()), static_cast<uint32_t>(node.inputs.size()),
              0, static_cast<uint32_t>(node.outputs.size()), false};
    for (ValueId v : node.inputs) {
      arg_values_.push_back(v);
      last[static_cast<size_t>(v)] = s;
    }
    step.out_begin = static_cast<uint32_t>(arg_values_.size());
    for (ValueId v : node.outputs) {
      arg_values_.push_back(v);
      first[static_cast<size_t>(v)] = s;
      last[static_cast<size_t>(v)] = std::max(last[static_cast<size_t>(v)], s);
    }
    steps_.push_back(step);
    info_.push_back(std::move(si));
  }

  // Buffers: one per intermediate value, except outputs of in-place and aliasing steps, which
  // take over the buffer of an input whose last use they are.
  buffer_of_.assign(nv, -1);
  std::vector<BufferLifetime> buffers;
  for (size_t s = 0; s < steps_.size(); ++s) {
    const Step& step = steps_[s];
    const OpKind kind = step.op->kind();
    std::vector<bool> taken(step.n_in, false);
    for (uint32_t o = 0; o < step.n_out; ++o) {
      const ValueId out = arg_values_[step.out_begin + o];
      if (!arena_value(out)) continue;
      const Value& ov = graph.value(out);
      int buffer = -1;
      const bool alias = pure_alias(kind), inplace = options_.in_place && elementwise_in_place(kind);
      if (step.n_out == 1 && (alias || inplace)) {
        for (uint32_t i = 0; i < step.n_in && buffer < 0; ++i) {
          const ValueId in = arg_values_[step.in_begin + i];
          const Value& iv = graph.value(in);
          if (taken[i] || buffer_of_[static_cast<size_t>(in)] < 0 || last[static_cast<size_t>(in)] != static_cast<int>(s)) continue;
          if (value_bytes(iv) != value_bytes(ov) || iv.dtype != ov.dtype || (!alias && iv.shape != ov.shape)) continue;
          // The input must not be read again by this step through another argument.
          bool repeated = false;
          for (uint32_t j = 0; j < step.n_in; ++j) repeated = repeated || (j != i && arg_values_[step.in_begin + j] == in);
          if (repeated && !inplace) continue;
          buffer = buffer_of_[static_cast<size_t>(in)];
          taken[i] = true;
          if (alias) {
            steps_[s].aliased = true;
            info_[s].aliased = true;
          }
        }
      }
      if (buffer < 0) {
        buffer = static_cast<int>(buffers.size());
        buffers.push_back({static_cast<int64_t>(value_bytes(ov)), first[static_cast<size_t>(out)], first[static_cast<size_t>(out)]});
      }
      buffer_of_[static_cast<size_t>(out)] = buffer;
      BufferLifetime& b = buffers[static_cast<size_t>(buffer)];
      b.last = std::max(b.last, last[static_cast<size_t>(out)]);
    }
  }
  plan_ = plan_memory(buffers);

  // Per-run bindings: graph inputs and the outputs the steps produce.
  std::vector<int> input_index(nv, -1);
  for (size_t i = 0; i < graph.inputs().size(); ++i) {
    input_index[static_cast<size_t>(graph.inputs()[i])] = static_cast<int>(i);
    input_bindings_.push_back({graph.inputs()[i], {}});
  }
  std::vector<int> output_binding(nv, -1);
  std::vector<int> first_fetch(nv, -1);  // per value: the first position it is fetched at
  for (size_t i = outputs_.size(); i-- > 0;) first_fetch[static_cast<size_t>(outputs_[i])] = static_cast<int>(i);
  for (ValueId o : outputs_) {
    const Value& v = graph.value(o);
    if (v.producer >= 0) {
      if (output_binding[static_cast<size_t>(o)] < 0) {
        output_binding[static_cast<size_t>(o)] = static_cast<int>(output_bindings_.size());
        output_bindings_.push_back({o, {}});
        output_bytes_ += plan_aligned(static_cast<int64_t>(value_bytes(v)));
      }
      output_source_.push_back(output_binding[static_cast<size_t>(o)]);
      output_first_.push_back(static_cast<size_t>(first_fetch[static_cast<size_t>(o)]));
      continue;
    }
    output_first_.push_back(output_first_.size());
    if (graph.is_constant(o)) {
      output_source_.push_back(kConstantOutput);
    } else {
      output_source_.push_back(-(1 + input_index[static_cast<size_t>(o)]));
    }
  }
  for (size_t a = 0; a < arg_values_.size(); ++a) {
    const auto v = static_cast<size_t>(arg_values_[a]);
    if (input_index[v] >= 0) input_bindings_[static_cast<size_t>(input_index[v])].refs.push_back(static_cast<uint32_t>(a));
    if (output_binding[v] >= 0) output_bindings_[static_cast<size_t>(output_binding[v])].refs.push_back(static_cast<uint32_t>(a));
  }
  MI_CHECK(options_.mem_size <= 0 || planned_peak_bytes() <= options_.mem_size, ValueError,
           "[compile] the static memory plan needs {} bytes ({} for intermediates, {} for outputs) but mem_size is {}",
           planned_peak_bytes(), plan_.arena_bytes, output_bytes_, options_.mem_size);
  times_.calls.assign(steps_.size(), 0);
  times_.seconds.assign(steps_.size(), 0.0);
  primary_ = make_context();
}

Executor::~Executor() = default;

std::unique_ptr<Executor::Context> Executor::make_context() const {
  auto ctx = std::make_unique<Context>();
  if (plan_.arena_bytes > 0) ctx->arena = std::make_shared<Storage>(static_cast<size_t>(plan_.arena_bytes));
  ctx->args.resize(arg_values_.size());
  if (timed_) {
    ctx->step_seconds.resize(steps_.size());
    ctx->step_starts.resize(steps_.size());
  }
  for (size_t a = 0; a < arg_values_.size(); ++a) {
    const ValueId v = arg_values_[a];
    const Value& info = graph_.value(v);
    if (const int b = buffer_of_[static_cast<size_t>(v)]; b >= 0)
      ctx->args[a] = Tensor::view_of(ctx->arena, static_cast<size_t>(plan_.offsets[static_cast<size_t>(b)]), info.shape, info.dtype);
    else if (graph_.is_constant(v))
      ctx->args[a] = graph_.constant_value(v).contiguous();
  }
  return ctx;
}

void Executor::run(std::span<const Tensor* const> inputs, std::vector<Tensor>& results) const {
  check_program_inputs(graph_, inputs, "[executor]");
  // One run at a time owns the planned arena; a concurrent run gets a context of its own.
  if (!primary_busy_.exchange(true, std::memory_order_acquire)) {
    struct Release {
      std::atomic<bool>& flag;
      ~Release() { flag.store(false, std::memory_order_release); }
    } release{primary_busy_};
    execute(*primary_, inputs, results);
  } else {
    const auto ctx = make_context();
    execute(*ctx, inputs, results);
  }
}

void Executor::execute(Context& ctx, std::span<const Tensor* const> inputs, std::vector<Tensor>& results) const {
  std::vector<Tensor>& args = ctx.args;
  results.resize(outputs_.size());
  for (size_t i = 0; i < input_bindings_.size(); ++i) {
    const Tensor& t = *inputs[i];
    if (t.is_contiguous()) {
      for (uint32_t a : input_bindings_[i].refs) args[a] = t;
    } else {
      const Tensor c = t.contiguous();
      for (uint32_t a : input_bindings_[i].refs) args[a] = c;
    }
  }
  // Outputs are fresh tensors the caller keeps; their steps write them directly.
  for (size_t k = 0; k < outputs_.size(); ++k) {
    const int src = output_source_[k];
    if (src < 0 || output_first_[k] != k) continue;
    const Binding& b = output_bindings_[static_cast<size_t>(src)];
    const Value& v = graph_.value(b.value);
    results[k] = Tensor::empty(v.shape, v.dtype);
    for (uint32_t a : b.refs) args[a] = results[k];
  }

  if (!timed_) {
    for (const Step& s : steps_)
      if (!s.aliased) s.fn(*s.op, std::span<const Tensor>(args.data() + s.in_begin, s.n_in), std::span<Tensor>(args.data() + s.out_begin, s.n_out));
  } else {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    std::vector<double>& seconds = ctx.step_seconds;
    std::vector<double>& starts = ctx.step_starts;
    for (size_t i = 0; i < steps_.size(); ++i) {
      const Step& s = steps_[i];
      if (s.aliased) continue;
      const auto t0 = clock::now();
      s.fn(*s.op, std::span<const Tensor>(args.data() + s.in_begin, s.n_in), std::span<Tensor>(args.data() + s.out_begin, s.n_out));
      seconds[i] = std::chrono::duration<double>(clock::now() - t0).count();
      if (options_.check_numerics)
        check_step_numerics(graph_, info_[i].node, std::span<const Tensor>(args.data() + s.out_begin, s.n_out));
      starts[i] = std::chrono::duration<double>(t0 - start).count();
      if (verbose_) {
        std::string ins, outs;
        for (const Shape& sh : info_[i].signature.input_shapes) ins.append(ins.empty() ? "" : " ").append(shape_str(sh));
        for (const Shape& sh : info_[i].signature.output_shapes) outs.append(outs.empty() ? "" : " ").append(shape_str(sh));
        std::fprintf(stderr, "mithril_verbose,exec,cpu,%s,%s,%s -> %s,%.4f ms\n", info_[i].kernel->name.c_str(),
                     s.op->to_string().c_str(), ins.c_str(), outs.c_str(), seconds[i] * 1e3);
      }
    }
    const double total = std::chrono::duration<double>(clock::now() - start).count();
    if (options_.profile) {
      std::lock_guard<std::mutex> lock(profile_mutex_);
      ++times_.runs;
      times_.total_seconds += total;
      for (size_t i = 0; i < steps_.size(); ++i) {
        if (steps_[i].aliased) continue;
        ++times_.calls[i];
        times_.seconds[i] += seconds[i];
      }
      if (options_.trace_runs > 0) {
        // A full window recycles its oldest run's vectors: no allocation in steady state.
        if (traces_.size() >= options_.trace_runs) {
          traces_.push_back(std::move(traces_.front()));
          traces_.pop_front();
        } else {
          traces_.emplace_back();
        }
        RunTrace& trace = traces_.back();
        trace.start_us = std::chrono::duration<double, std::micro>(start.time_since_epoch()).count();
        trace.duration_us = total * 1e6;
        trace.thread = std::hash<std::thread::id>{}(std::this_thread::get_id());
        trace.step_start_us.resize(steps_.size());
        trace.step_duration_us.resize(steps_.size());
        for (size_t i = 0; i < steps_.size(); ++i) {
          trace.step_start_us[i] = trace.start_us + starts[i] * 1e6;
          trace.step_duration_us[i] = seconds[i] * 1e6;
        }
      }
    }
  }

  for (size_t k = 0; k < outputs_.size(); ++k) {
    const int src = output_source_[k];
    if (src == kConstantOutput) results[k] = graph_.constant_value(outputs_[k]);
    else if (src < 0) results[k] = inputs[static_cast<size_t>(-(src + 1))]->contiguous();
    else if (output_first_[k] != k) results[k] = results[output_first_[k]];
  }
  // Do not keep a caller's large tensors alive between runs.
  auto drop_large = [&](const std::vector<Binding>& bindings) {
    for (const Binding& b : bindings)
      for (uint32_t a : b.refs)
        if (args[a].defined() && args[a].nbytes() > kKeepBoundBytes) args[a] = Tensor();
  };
  drop_large(input_bindings_);
  drop_large(output_bindings_);
}

StepTimes Executor::profile_times() const {
  std::lock_guard<std::mutex> lock(profile_mutex_);
  return times_;
}

std::vector<RunTrace> Executor::profile_trace() const {
  std::lock_guard<std::mutex> lock(profile_mutex_);
  return {traces_.begin(), traces_.end()};
}

void Executor::reset_profile() const {
  std::lock_guard<std::mutex> lock(profile_mutex_);
  traces_.clear();
  times_.runs = 0;
  times_.total_seconds = 0;
  std::fill(times_.calls.begin(), times_.calls.end(), 0);
  std::fill(times_.seconds.begin(), times_.seconds.end(), 0.0);
}

std::vector<Tensor> run_node(const Node& node, const Graph& graph, const std::vector<Tensor>& inputs) {
  return mithril::run_node(kernel_table(), node, graph, inputs);
}

std::vector<Tensor> run_graph(const Graph& graph, const std::vector<Var>& outputs, const std::vector<Tensor>& inputs) {
  std::vector<ValueId> ids;
  for (const Var& v : outputs) ids.push_back(v.id());
  return Executor(graph, ids).run(inputs);
}

}  // namespace mithril::cpu
