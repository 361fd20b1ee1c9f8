#include "mithril/backends/jit/jit_executable.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <thread>

#include "mithril/backends/jit/code_cache.h"
#include "mithril/backends/jit/codegen.h"
#include "mithril/backends/jit/toolchain.h"
#include "mithril/backends/program_inputs.h"
#include "mithril/core/env.h"
#include "mithril/core/error.h"
#include "mithril/core/thread_pool.h"

namespace mithril::jit {
namespace {

// The generated code's view of the host (codegen.cpp writes the same struct).
struct MiHost {
  void* ctx;
  void (*call)(void* ctx, int step);
  void (*parallel)(long n, long grain, void (*body)(void*, long, long), void* closure);
};
using RunFn = void (*)(const MiHost*, char*, void* const*);
using RegionFn = void (*)(const MiHost*, char*, void* const*, long);

void host_parallel(long n, long grain, void (*body)(void*, long, long), void* closure) {
  parallel_for(0, n, grain, [&](int64_t b, int64_t e) { body(closure, static_cast<long>(b), static_cast<long>(e)); });
}

using clock = std::chrono::steady_clock;

}  // namespace

struct Library {
  void* handle = nullptr;
  RunFn run = nullptr;
  std::vector<RegionFn> regions;
  long* grains = nullptr;
  ~Library() {
    if (handle) ::dlclose(handle);
  }
};

struct JitExecutable::Context {
  const JitExecutable* exe = nullptr;
  std::shared_ptr<Storage> arena;
  std::vector<Tensor> io;     // per io slot, this run
  std::vector<void*> io_ptr;  // their data
  std::vector<Tensor> args;   // host steps' argument tensors
  MiHost host{};
};

namespace {

void host_call(void* ctx, int step) {
  auto& c = *static_cast<JitExecutable::Context*>(ctx);
  c.exe->run_host_step(c, step);
}

}  // namespace

void JitExecutable::run_host_step(Context& c, int step) const {
  const PlanStep& s = plan_.steps[static_cast<size_t>(step)];
  s.fn(*s.op, std::span<const Tensor>(c.args.data() + s.in_begin, s.n_in), std::span<Tensor>(c.args.data() + s.out_begin, s.n_out));
}

JitExecutable::JitExecutable(const Graph& graph, std::vector<ValueId> outputs, const ExecutableOptions& options,
                             const KernelTable& kernels, int64_t mem_size)
    : graph_(graph), outputs_(std::move(outputs)), options_(options) {
  const JitOptions& jo = options.jit;
  // Donated inputs, by name.
  std::vector<bool> donated(graph.inputs().size(), false);
  for (const std::string& name : jo.donate) {
    bool found = false;
    std::vector<std::string> names;
    for (size_t i = 0; i < graph.inputs().size(); ++i) {
      const std::string& n = graph.value(graph.inputs()[i]).name;
      if (n.starts_with("$")) continue;
      names.push_back(n);
      if (n == name) donated[i] = found = true;
    }
    MI_CHECK(found, KeyError, "[backend jit] jit_options.donate names '{}', which is not an input of the program (inputs: {})", name,
             fmt::join(names, ", "));
  }
  const std::optional<Toolchain>& tc = toolchain();
  bool generate = true;
  if (!tc) {
    MI_CHECK(jo.fallback, KernelError,
             "[backend jit] no C++ compiler to build the generated code with ({}); install g++ (Debian: apt-get install g++), "
             "set MITHRIL_CXX, use backend cpu, or set jit_options.fallback = true to run the cpu kernels instead",
             toolchain_search_description());
    static std::once_flag warned;
    std::call_once(warned, [] {
      std::fprintf(stderr, "mithril: warning: [backend jit] %s: running the cpu backend's kernels (jit_options.fallback)\n",
                   toolchain_search_description().c_str());
    });
    generate = false;
  }
  std::vector<bool> generated(graph.nodes().size(), false);
  if (generate)
    for (size_t n = 0; n < graph.nodes().size(); ++n) generated[n] = can_generate(graph, graph.nodes()[n]);
  plan_ = make_plan(graph, outputs_, kernels, generated, donated);
  MI_CHECK(mem_size <= 0 || planned_peak_bytes() <= mem_size, ValueError,
           "[compile] the static memory plan needs {} bytes ({} for intermediates, {} for outputs) but mem_size is {}",
           planned_peak_bytes(), plan_.memory.arena_bytes, plan_.output_bytes, mem_size);
  times_.calls.assign(plan_.steps.size(), 0);
  times_.seconds.assign(plan_.steps.size(), 0.0);

  step_region_.assign(plan_.steps.size(), -1);
  const bool any_region = std::any_of(plan_.steps.begin(), plan_.steps.end(), [](const PlanStep& s) { return s.generated && !s.aliased; });
  one_call_ = generate && jo.mode == "reduce-overhead" && !options.profile;
  const bool build = generate && (any_region || one_call_);
  if (build || !options.file_path.empty()) {
    const std::string title = fmt::format("{} steps, {} outputs", plan_.steps.size(), outputs_.size());
    const GeneratedSource src = generate_source(graph, plan_, title);
    region_step_ = src.region_step;
    region_range_ = src.region_rows;
    grains_ = src.region_grain;
    for (size_t r = 0; r < region_step_.size(); ++r) step_region_[static_cast<size_t>(region_step_[r])] = static_cast<int>(r);
    if (build) {
      const std::string dir = cache_root(jo.cache_dir);
      for (int attempt = 0;; ++attempt) {
        const CacheEntry e = build_or_load(dir, src.text, *tc, attempt > 0);
        source_path_ = e.source_path;
        library_path_ = e.library_path;
        compiled_ = compiled_ || e.compiled;
        compile_seconds_ += e.compile_seconds;
        auto lib = std::make_unique<Library>();
        lib->handle = ::dlopen(e.library_path.c_str(), RTLD_NOW | RTLD_LOCAL);
        const char* key = lib->handle ? static_cast<const char*>(::dlsym(lib->handle, "mi_key")) : nullptr;
        if (!key || e.key != key) {
          // A library that does not load or is not this program's: rebuild it once.
          const std::string why = lib->handle ? "it is not this program's" : ::dlerror();
          MI_CHECK(attempt == 0, KernelError, "[backend jit] cannot load the generated library {}: {}", e.library_path, why);
          continue;
        }
        lib->run = reinterpret_cast<RunFn>(::dlsym(lib->handle, "mi_run"));
        lib->grains = static_cast<long*>(::dlsym(lib->handle, "mi_grain"));
        for (size_t r = 0; r < region_step_.size(); ++r)
          lib->regions.push_back(reinterpret_cast<RegionFn>(::dlsym(lib->handle, fmt::format("mi_region_{}", r).c_str())));
        MI_CHECK(lib->run && lib->grains &&
                     std::all_of(lib->regions.begin(), lib->regions.end(), [](RegionFn f) { return f != nullptr; }),
                 KernelError, "[backend jit] the generated library {} lacks a symbol of its program", e.library_path);
        lib_ = std::move(lib);
        if (env_flag("MITHRIL_VERBOSE"))
          std::fprintf(stderr, "mithril_verbose,jit,%s,%s,%.3f s,%s\n", e.compiled ? "compiled" : "cached", e.key.c_str(),
                       e.compile_seconds, e.source_path.c_str());
        if (jo.mode == "max-autotune" && !region_step_.empty()) autotune(e.tune_path);
        break;
      }
    }
    if (!options.file_path.empty()) {
      std::string text = src.text;
      if (const std::optional<std::string> cached = source_path_.empty() ? std::nullopt : read_text(source_path_)) text = *cached;
      write_atomic(options.file_path, text);
    }
  }
  if (!lib_) {  // nothing generated: every step is a host step
    for (PlanStep& s : plan_.steps) s.generated = false;
    std::fill(step_region_.begin(), step_region_.end(), -1);
    one_call_ = false;
  }
  primary_ = make_context();
}

JitExecutable::~JitExecutable() = default;

std::unique_ptr<JitExecutable::Context> JitExecutable::make_context() const {
  auto c = std::make_unique<Context>();
  c->exe = this;
  if (plan_.memory.arena_bytes > 0) c->arena = std::make_shared<Storage>(static_cast<size_t>(plan_.memory.arena_bytes));
  c->io.resize(plan_.io_values.size());
  c->io_ptr.assign(plan_.io_values.size(), nullptr);
  for (size_t s = plan_.n_inputs + plan_.n_outputs; s < plan_.io_values.size(); ++s) {
    c->io[s] = graph_.constant_value(plan_.io_values[s]).contiguous();
    c->io_ptr[s] = c->io[s].numel() ? c->io[s].raw_data() : nullptr;
  }
  c->args.resize(plan_.arg_values.size());
  for (size_t a = 0; a < plan_.arg_values.size(); ++a) {
    const ValueId v = plan_.arg_values[a];
    const Value& info = graph_.value(v);
    if (plan_.place[static_cast<size_t>(v)] == Place::arena)
      c->args[a] = Tensor::view_of(c->arena, static_cast<size_t>(plan_.arena_offset(v)), info.shape, info.dtype);
    else if (plan_.place[static_cast<size_t>(v)] == Place::constant)
      c->args[a] = c->io[static_cast<size_t>(plan_.slot[static_cast<size_t>(v)])];
  }
  c->host = MiHost{c.get(), &host_call, &host_parallel};
  return c;
}

void JitExecutable::run(std::span<const Tensor* const> inputs, std::vector<Tensor>& results) const {
  check_program_inputs(graph_, inputs, "[backend jit]");
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

void JitExecutable::execute(Context& c, std::span<const Tensor* const> inputs, std::vector<Tensor>& results) const {
  for (size_t s = 0; s < plan_.n_inputs; ++s) c.io[s] = inputs[s]->contiguous();
  for (size_t s = plan_.n_inputs; s < plan_.n_inputs + plan_.n_outputs; ++s) {
    const Value& v = graph_.value(plan_.io_values[s]);
    c.io[s] = Tensor::empty(v.shape, v.dtype);
  }
  for (size_t s = 0; s < plan_.n_inputs + plan_.n_outputs; ++s) c.io_ptr[s] = c.io[s].numel() ? c.io[s].raw_data() : nullptr;
  // Host steps read and write the bound tensors (a value written into a donated input takes
  // its own shape over the input's bytes).
  for (size_t a = 0; a < plan_.arg_values.size(); ++a) {
    const ValueId v = plan_.arg_values[a];
    const Place place = plan_.place[static_cast<size_t>(v)];
    if (place != Place::input && place != Place::output) continue;
    const Tensor& t = c.io[static_cast<size_t>(plan_.slot[static_cast<size_t>(v)])];
    const Shape& shape = graph_.value(v).shape;
    c.args[a] = t.shape() == shape ? t : t.reshape(shape);
  }
  char* arena = c.arena ? static_cast<char*>(c.arena->data()) : nullptr;
  void* const* io = c.io_ptr.data();

  if (one_call_) {
    lib_->run(&c.host, arena, io);
  } else if (!options_.profile) {
    for (size_t i = 0; i < plan_.steps.size(); ++i) {
      const PlanStep& s = plan_.steps[i];
      if (s.aliased) continue;
      if (const int r = step_region_[i]; r >= 0) lib_->regions[static_cast<size_t>(r)](&c.host, arena, io, grains_[static_cast<size_t>(r)]);
      else run_host_step(c, static_cast<int>(i));
    }
  } else {
    std::vector<double> seconds(plan_.steps.size(), 0.0), starts(plan_.steps.size(), 0.0);
    const auto start = clock::now();
    for (size_t i = 0; i < plan_.steps.size(); ++i) {
      const PlanStep& s = plan_.steps[i];
      if (s.aliased) continue;
      const auto t0 = clock::now();
      if (const int r = step_region_[i]; r >= 0) lib_->regions[static_cast<size_t>(r)](&c.host, arena, io, grains_[static_cast<size_t>(r)]);
      else run_host_step(c, static_cast<int>(i));
      seconds[i] = std::chrono::duration<double>(clock::now() - t0).count();
      starts[i] = std::chrono::duration<double>(t0 - start).count();
    }
    const double total = std::chrono::duration<double>(clock::now() - start).count();
    std::lock_guard<std::mutex> lock(profile_mutex_);
    ++times_.runs;
    times_.total_seconds += total;
    for (size_t i = 0; i < plan_.steps.size(); ++i) {
      if (plan_.steps[i].aliased) continue;
      ++times_.calls[i];
      times_.seconds[i] += seconds[i];
    }
    if (options_.trace_runs > 0) {
      if (traces_.size() >= options_.trace_runs) traces_.pop_front();
      RunTrace& trace = traces_.emplace_back();
      trace.start_us = std::chrono::duration<double, std::micro>(start.time_since_epoch()).count();
      trace.duration_us = total * 1e6;
      trace.thread = std::hash<std::thread::id>{}(std::this_thread::get_id());
      for (size_t i = 0; i < plan_.steps.size(); ++i) {
        trace.step_start_us.push_back(trace.start_us + starts[i] * 1e6);
        trace.step_duration_us.push_back(seconds[i] * 1e6);
      }
    }
  }
  results.resize(outputs_.size());
  for (size_t k = 0; k < outputs_.size(); ++k) results[k] = c.io[static_cast<size_t>(plan_.output_slot[k])];
  // Do not keep a caller's tensors alive between runs.
  for (size_t s = 0; s < plan_.n_inputs + plan_.n_outputs; ++s) c.io[s] = Tensor();
  for (size_t a = 0; a < plan_.arg_values.size(); ++a) {
    const Place place = plan_.place[static_cast<size_t>(plan_.arg_values[a])];
    if (place == Place::input || place == Place::output) c.args[a] = Tensor();
  }
}

// Times each region with a few chunk sizes (one task; one chunk per thread; the default and a
// quarter and four times it) on the real shapes, after one full run so the arena holds the
// program's values, and keeps the fastest. The choice is stored beside the library.
void JitExecutable::autotune(const std::string& tune_path) {
  if (const std::optional<std::string> saved = read_text(tune_path)) {
    std::istringstream in(*saved);
    std::string word;
    std::vector<long> g;
    if (in >> word && word == "grains")
      for (long x; in >> x;) g.push_back(x);
    if (g.size() == grains_.size() && std::all_of(g.begin(), g.end(), [](long x) { return x > 0; })) {
      grains_ = g;
      for (size_t r = 0; r < grains_.size(); ++r) lib_->grains[r] = grains_[r];
      return;
    }
  }
  auto ctx = make_context();
  std::vector<Tensor> inputs;
  for (ValueId v : graph_.inputs()) {
    const Value& info = graph_.value(v);
    inputs.push_back(is_float(info.dtype) ? Tensor::full(info.shape, 0.5, info.dtype) : Tensor::zeros(info.shape, info.dtype));
  }
  std::vector<const Tensor*> ptrs;
  for (const Tensor& t : inputs) ptrs.push_back(&t);
  std::vector<Tensor> results;
  execute(*ctx, ptrs, results);
  // Bind again (execute released the io tensors) for the region calls.
  for (size_t s = 0; s < plan_.n_inputs; ++s) ctx->io[s] = inputs[s];
  for (size_t s = plan_.n_inputs; s < plan_.n_inputs + plan_.n_outputs; ++s) ctx->io[s] = results[s - plan_.n_inputs];
  for (size_t s = 0; s < plan_.n_inputs + plan_.n_outputs; ++s) ctx->io_ptr[s] = ctx->io[s].numel() ? ctx->io[s].raw_data() : nullptr;
  char* arena = ctx->arena ? static_cast<char*>(ctx->arena->data()) : nullptr;
  const long threads = std::max(1, num_threads());
  for (size_t r = 0; r < grains_.size(); ++r) {
    const long n = std::max<long>(1, region_range_[r]);
    std::vector<long> candidates = {n, (n + threads - 1) / threads, grains_[r], std::max<long>(1, grains_[r] / 4), grains_[r] * 4};
    std::sort(candidates.begin(), candidates.end());
    candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
    double best = 1e300;
    long best_grain = grains_[r];
    for (long g : candidates) {
      std::vector<double> times;
      for (int rep = 0; rep < 5; ++rep) {
        const auto t0 = clock::now();
        lib_->regions[r](&ctx->host, arena, ctx->io_ptr.data(), g);
        times.push_back(std::chrono::duration<double>(clock::now() - t0).count());
      }
      std::sort(times.begin(), times.end());
      if (times[2] < best) {
        best = times[2];
        best_grain = g;
      }
    }
    grains_[r] = best_grain;
  }
  std::string text = "grains";
  for (long g : grains_) text += fmt::format(" {}", g);
  write_atomic(tune_path, text + "\n");
  for (size_t r = 0; r < grains_.size(); ++r) lib_->grains[r] = grains_[r];
}

StepTimes JitExecutable::profile_times() const {
  std::lock_guard<std::mutex> lock(profile_mutex_);
  return times_;
}

std::vector<RunTrace> JitExecutable::profile_trace() const {
  std::lock_guard<std::mutex> lock(profile_mutex_);
  return {traces_.begin(), traces_.end()};
}

void JitExecutable::reset_profile() const {
  std::lock_guard<std::mutex> lock(profile_mutex_);
  traces_.clear();
  times_.runs = 0;
  times_.total_seconds = 0;
  std::fill(times_.calls.begin(), times_.calls.end(), 0);
  std::fill(times_.seconds.begin(), times_.seconds.end(), 0.0);
}

}  // namespace mithril::jit
