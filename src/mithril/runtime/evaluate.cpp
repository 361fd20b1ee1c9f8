// Running a compiled model: evaluate() (inputs gathered, the program found, run), program
// reports, profiles, the accessors and infer_shapes.
#include "mithril/runtime/physical_model_impl.h"

#include <algorithm>
#include <iterator>
#include <mutex>

#include "mithril/core/allocator.h"
#include "mithril/core/error.h"

namespace mithril {

using logical::PortKind;

void PhysicalModel::Impl::gather_inputs(const DataMap& inputs, std::vector<const Tensor*>& feed,
                                        std::vector<uint32_t>& counts) const {
  feed.clear();
  counts.clear();
  // input_keys and the map are both sorted: walk them together.
  size_t k = 0;
  for (const auto& [key, data] : inputs) {
    const int order = k < input_keys.size() ? input_keys[k].compare(key) : 1;
    if (order < 0) MI_THROW(KeyError, "[evaluate] missing input '{}'", input_keys[k]);
    if (order == 0) {
      MI_CHECK(data.is_list == input_is_list[k], ValueError, "[evaluate] input '{}' must be {}", key,
               input_is_list[k] ? "a list of tensors" : "a tensor, not a list");
      ++k;
      if (!data.is_list) {
        MI_CHECK(data.tensor.defined(), ValueError, "[evaluate] input '{}' is undefined", key);
        feed.push_back(&data.tensor);
        counts.push_back(1);
        continue;
      }
      for (const Tensor& t : data.list) {
        MI_CHECK(t.defined(), ValueError, "[evaluate] input '{}' has an undefined element", key);
        feed.push_back(&t);
      }
      counts.push_back(static_cast<uint32_t>(data.list.size()));
      continue;
    }
    const auto e = flat.find(key);
    MI_CHECK(e.has_value(), KeyError, "[evaluate] '{}' is not a key of the model", key);
    // A value for a key fixed at compile time must agree with it; it is never silently dropped.
    if (const auto c = constants.find(*e); c != constants.end() && !c->second.is_list && !data.is_list) {
      const Tensor& fixed = c->second.tensor;
      const Tensor given = data.tensor.astype(fixed.dtype());
      MI_CHECK(given.shape() == fixed.shape() && given.to_doubles() == fixed.to_doubles(), ValueError,
               "Possible values mismatch!");
    }
  }
  MI_CHECK(k == input_keys.size(), KeyError, "[evaluate] missing input '{}'", k < input_keys.size() ? input_keys[k] : "");
}

PhysicalModel::Result PhysicalModel::Impl::run(const DataMap& inputs, const DataMap* output_gradients) const {
  // Reused per thread: a steady-state call allocates nothing here.
  thread_local std::vector<const Tensor*> feed;
  thread_local std::vector<uint32_t> counts;
  thread_local std::vector<Tensor> results;
  std::vector<Tensor> casts;
  gather_inputs(inputs, feed, counts);
  cast_to_precision(feed, casts);
  std::shared_ptr<const Program> program;
  {
    std::lock_guard<std::mutex> lock(cache_mutex);
    program = last_program;
  }
  if (!program || !program->accepts(feed, counts, output_gradients))
    program = program_for(signature_of(feed, counts, output_gradients));

  std::vector<Tensor> converted;  // cotangents given in another dtype
  converted.reserve(program->cotangents.size());
  for (const Program::Cotangent& ct : program->cotangents) {
    const Tensor& given = output_gradients->at(ct.key).tensor;
    MI_CHECK(given.defined(), ValueError, "[evaluate] gradient of output '{}' is undefined", ct.key);
    MI_CHECK(!options.safe_shapes || given.shape() == ct.shape, ShapeError, "[evaluate] gradient of output '{}' has shape {} but the output has {}",
             ct.key, shape_str(given.shape()), shape_str(ct.shape));
    if (given.dtype() == ct.dtype) {
      feed.push_back(&given);
    } else {
      converted.push_back(given.astype(ct.dtype));
      feed.push_back(&converted.back());
    }
  }
  program->executor->run(feed, results);

  Result r;
  for (size_t i = 0; i < outputs.size(); ++i) r.outputs.emplace_hint(r.outputs.end(), name(outputs[i]), std::move(results[i]));
  if (!output_gradients) return r;
  size_t next = outputs.size();
  for (size_t k = 0; k < trainable_keys.size(); ++k) {
    const size_t count = program->gradient_counts[k];
    if (count == 0) {
      r.gradients[trainable_keys[k]] = std::move(results[next++]);
      continue;
    }
    std::vector<Tensor> list(std::make_move_iterator(results.begin() + static_cast<int64_t>(next)),
                             std::make_move_iterator(results.begin() + static_cast<int64_t>(next + count)));
    next += count;
    r.gradients[trainable_keys[k]] = Data(std::move(list));
  }
  return r;
}

DataMap PhysicalModel::evaluate(const DataMap& inputs) const { return impl_->run(inputs, nullptr).outputs; }

PhysicalModel::Result PhysicalModel::evaluate(const DataMap& inputs, const DataMap& output_gradients) const {
  return impl_->run(inputs, &output_gradients);
}

namespace {

ProgramReport report_of(const PhysicalModel::Impl::Program& program) {
  const PhysicalModel::Impl::Program* p = &program;
  ProgramReport r;
  for (const PassStat& s : p->passes) r.passes.push_back({s.name, s.nodes_before, s.nodes_after});
  const Executable& ex = *p->executor;
  const MemoryPlan& plan = ex.memory_plan();
  r.nodes = ex.num_steps();
  r.arena_bytes = plan.arena_bytes;
  r.output_bytes = ex.output_bytes();
  r.planned_peak_bytes = ex.planned_peak_bytes();
  r.naive_bytes = plan.naive_bytes + ex.output_bytes();
  r.lower_bound_bytes = plan.lower_bound + ex.output_bytes();
  r.buffers = plan.offsets.size();
  r.graph = p->graph.graph->to_string();
  r.backend_report = ex.backend_report();
  for (const StepInfo& st : ex.step_info())
    if (!st.aliased && st.kernel)
      r.heaviest_steps.push_back({std::string(st.op->name()), st.kernel->name, isa_name(st.kernel->isa), st.cost.flops});
  std::stable_sort(r.heaviest_steps.begin(), r.heaviest_steps.end(),
                   [](const ProgramReport::Step& a, const ProgramReport::Step& b) { return a.flops > b.flops; });
  if (r.heaviest_steps.size() > ProgramReport::kHeaviestSteps) r.heaviest_steps.resize(ProgramReport::kHeaviestSteps);
  return r;
}

}  // namespace

ProgramReport PhysicalModel::program_report(const std::map<std::string, Shape>& input_shapes, bool gradients) const {
  const Impl& m = *impl_;
  Impl::Signature sig;
  for (const std::string& key : m.input_keys) {
    const auto s = input_shapes.find(key);
    MI_CHECK(s != input_shapes.end(), KeyError, "[program] no shape given for input '{}'", key);
    MI_CHECK(m.flat.edges[static_cast<size_t>(*m.flat.find(key))].kind == PortKind::tensor_input, ValueError,
             "[program] '{}' is a list of tensors: its shapes cannot be given as one shape", key);
    sig.add_tensor(s->second, m.options.precision());
  }
  for (const auto& [key, shape] : input_shapes)
    MI_CHECK(std::binary_search(m.input_keys.begin(), m.input_keys.end(), key), KeyError,  // input_keys is sorted
             "[program] '{}' is not an input of the model (inputs: {})", key, fmt::join(m.input_keys, ", "));
  sig.set_all_cotangents(gradients, m.output_keys);
  return report_of(*m.program_for(sig));
}

ProgramReport PhysicalModel::program_report(const DataMap& inputs, bool gradients) const {
  const Impl& m = *impl_;
  std::vector<const Tensor*> feed;
  std::vector<uint32_t> counts;
  std::vector<Tensor> casts;
  m.gather_inputs(inputs, feed, counts);
  m.cast_to_precision(feed, casts);
  Impl::Signature sig = m.signature_of(feed, counts, nullptr);
  sig.set_all_cotangents(gradients, m.output_keys);
  return report_of(*m.program_for(sig));
}

int64_t PhysicalModel::planned_peak_bytes() const {
  std::lock_guard<std::mutex> lock(impl_->cache_mutex);
  return impl_->last_program ? impl_->last_program->executor->planned_peak_bytes() : 0;
}

namespace {

void check_profiling(const CompileOptions& o) {
  MI_CHECK(o.profile, ValueError,
           "[profile] the model was compiled without profiling: compile with CompileOptions::profile = true");
}

}  // namespace

ProfileStats PhysicalModel::profile_stats() const {
  const Impl& m = *impl_;
  check_profiling(m.options);
  std::vector<std::shared_ptr<const Impl::Program>> programs;
  {
    std::lock_guard<std::mutex> lock(m.cache_mutex);
    for (const auto& [key, p] : m.programs) programs.push_back(p);
  }
  // "forward" and "train" programs; numbered when several input signatures were run.
  size_t n_forward = 0, n_train = 0;
  for (const auto& p : programs) ++(p->signature.gradients ? n_train : n_forward);
  std::vector<ProfiledProgram> profiled;
  size_t i_forward = 0, i_train = 0;
  for (const auto& p : programs) {
    const bool g = p->signature.gradients;
    std::string label = g ? "train" : "forward";
    if ((g ? n_train : n_forward) > 1) label += fmt::format("#{}", ++(g ? i_train : i_forward));
    profiled.push_back({label, p->executor.get()});
  }
  return collect_profile(profiled, machine_peaks(m.options.peak_gflops, m.options.peak_gbs));
}

void PhysicalModel::reset_profile() const {
  check_profiling(impl_->options);
  std::lock_guard<std::mutex> lock(impl_->cache_mutex);
  for (const auto& [key, p] : impl_->programs) p->executor->reset_profile();
  reset_peak_bytes();
}

const Backend& PhysicalModel::backend() const { return *impl_->options.backend; }
DType PhysicalModel::precision() const { return impl_->options.precision(); }
const std::vector<std::string>& PhysicalModel::input_keys() const { return impl_->input_keys; }
const std::vector<std::string>& PhysicalModel::trainable_keys() const { return impl_->trainable_keys; }
const std::vector<std::string>& PhysicalModel::output_keys() const { return impl_->output_keys; }
const std::vector<std::string>& PhysicalModel::discarded_keys() const { return impl_->discarded_keys; }
const std::vector<std::string>& PhysicalModel::static_keys() const { return impl_->static_keys; }
const logical::FlatModel& PhysicalModel::flat_model() const { return impl_->flat; }

std::map<std::string, PhysicalModel::KeyInfo> PhysicalModel::infer_shapes(
    const std::map<std::string, Shape>& input_shapes) const {
  const Impl& m = *impl_;
  Graph g;
  Impl::Bound b;
  for (const auto& [key, shape] : input_shapes) {
    const bool input = std::binary_search(m.input_keys.begin(), m.input_keys.end(), key);  // input_keys is sorted
    MI_CHECK(input, KeyError, "[shapes] '{}' is not an input of the model (inputs: {})", key,
             fmt::join(m.input_keys, ", "));
    const EdgeId e = *m.flat.find(key);
    MI_CHECK(m.flat.edges[static_cast<size_t>(e)].kind == PortKind::tensor_input, ValueError,
             "[shapes] '{}' is a list of tensors: its shapes cannot be given as one shape", key);
    b.vars.emplace(e, g.input(key, shape, m.options.precision()));
  }
  m.build_calls(g, b, true);
  std::map<std::string, KeyInfo> out;
  for (const auto& [e, v] : b.vars) out[m.name(e)] = KeyInfo{v.shape(), v.dtype()};
  return out;
}

}  // namespace mithril
