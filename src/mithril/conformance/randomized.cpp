#include "mithril/conformance/randomized.h"

#include <algorithm>
#include <cctype>
#include <cfloat>
#include <cmath>
#include <set>
#include <stdexcept>

#include "mithril/backends/backend.h"
#include "mithril/core/error.h"
#include "mithril/logical/library.h"
#include "mithril/logical/model_dict.h"
#include "mithril/logical/shape_inference.h"
#include "mithril/runtime/compile.h"
#include "mithril/conformance/conformance.h"

namespace mithril::conformance {
namespace {

int64_t draw_int(int64_t lo, int64_t hi, Rng& rng) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); }

bool is_range(const json& v) { return v.is_array() && v.size() == 2 && v[0].is_number() && v[1].is_number(); }

json draw_value(const json& spec, bool is_float, Rng& rng) {
  if (!spec.is_array() || spec.empty()) return spec;
  if (spec[0].is_array()) {
    json out = json::array();
    for (const json& e : spec) out.push_back(draw_value(e, is_float, rng));
    return out;
  }
  if (is_range(spec)) {
    if (is_float) return std::uniform_real_distribution<double>(spec[0].get<double>(), spec[1].get<double>())(rng);
    return draw_int(spec[0].get<int64_t>(), spec[1].get<int64_t>(), rng);
  }
  return spec[static_cast<size_t>(draw_int(0, static_cast<int64_t>(spec.size()) - 1, rng))];
}

// A bound of "interval": a number, or a [lo, hi] range drawn once.
int64_t draw_bound(const json& b, Rng& rng) {
  return b.is_array() ? draw_int(b[0].get<int64_t>(), b[1].get<int64_t>(), rng) : b.get<int64_t>();
}

Tensor normal_tensor(const Shape& shape, Rng& rng, double mean = 0.0, double std_dev = 1.0) {
  std::normal_distribution<double> dist(mean, std_dev);
  std::vector<double> v(static_cast<size_t>(numel(shape)));
  for (double& x : v) x = dist(rng);
  return Tensor::from_doubles(v, shape, DType::f64);
}

// Independent references for the inference-only models whose values are cheap to state.
std::optional<Tensor> inference_reference(const std::string& model, const json& args,
                                          const std::map<std::string, Tensor>& inputs) {
  const std::string m = logical::lowercase(model);
  if (m == "eye" || m == "eyecomplement") {
    const int64_t n = args.at("N").get<int64_t>();
    const int64_t cols = args.contains("M") && !args.at("M").is_null() ? args.at("M").get<int64_t>() : n;
    std::vector<double> v(static_cast<size_t>(n * cols));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < cols; ++j) v[static_cast<size_t>(i * cols + j)] = (i == j) == (m == "eye") ? 1.0 : 0.0;
    return Tensor::from_doubles(v, {n, cols}, DType::f64);
  }
  if (m == "ones") {
    const Shape s = args.at("shape").get<Shape>();
    return Tensor::full(s, 1.0, DType::f64);
  }
  if (m == "transposeddiagonal") {
    const Tensor& x = inputs.at("input");
    const int64_t n = x.shape()[0];
    const std::vector<double> xv = x.to_doubles();
    std::vector<double> d(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) d[static_cast<size_t>(i)] = xv[static_cast<size_t>(i * n + i)];
    return Tensor::from_doubles(d, {n, 1}, DType::f64);
  }
  if (m == "squeeze") {
    const Tensor& x = inputs.at("input");
    Shape s;
    for (int64_t d : x.shape())
      if (d != 1) s.push_back(d);
    return Tensor::from_doubles(x.to_doubles(), s, DType::f64);
  }
  return std::nullopt;
}

bool same(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  const auto x = a.to_doubles(), y = b.to_doubles();
  for (size_t i = 0; i < x.size(); ++i)
    if (!(x[i] == y[i]) && !(std::isnan(x[i]) && std::isnan(y[i]))) return false;
  return true;
}

void check_finite(const Tensor& t, const std::string& what) {
  for (double v : t.to_doubles())
    if (!std::isfinite(v)) throw std::runtime_error(fmt::format("{} has a non-finite value {}", what, v));
}

double dot(const Tensor& a, const Tensor& b) {
  const auto x = a.to_doubles(), y = b.to_doubles();
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += x[i] * y[i];
  return s;
}

// <cotangent, outputs> summed over the outputs, and the sum of |cotangent * output| (the
// magnitude that bounds the rounding error of a difference of two such sums). Positions with a
// zero cotangent are left out, so masked non-finite outputs do not turn the sum into NaN.
std::pair<double, double> objective(const PhysicalModel& pm, const DataMap& inputs, const DataMap& cts) {
  const DataMap out = pm.evaluate(inputs);
  double s = 0, mag = 0;
  for (const auto& [k, ct] : cts) {
    const auto x = out.at(k).tensor.to_doubles(), c = ct.tensor.to_doubles();
    for (size_t i = 0; i < x.size(); ++i) {
      if (c[i] == 0) continue;
      s += x[i] * c[i];
      mag += std::fabs(x[i] * c[i]);
    }
  }
  return {s, mag};
}

DataMap shifted(const DataMap& inputs, const std::map<std::string, Tensor>& dir, double h) {
  DataMap out = inputs;
  for (const auto& [k, v] : dir) {
    auto x = inputs.at(k).tensor.to_doubles();
    const auto d = v.to_doubles();
    for (size_t i = 0; i < x.size(); ++i) x[i] += h * d[i];
    out[k] = Data(Tensor::from_doubles(x, v.shape(), DType::f64));
  }
  return out;
}

// Checks <gradient, v> against the central difference of the objective along v. Tolerance:
// the FD reference itself is only accurate to ~h^2 (truncation) plus the rounding error of the
// quotient, so we accept |a - n| <= 1e-6 * max(1, sum|g v|, |n|) + 64 * eps * sum|ct * out| / h.
// The case's 1e-13/1e-12 tolerances are for comparing two implementations and would reject a
// correct VJP here. At a kink (relu at 0, ...) the step may straddle it: retry with smaller
// steps before failing; the kinks have measure zero for the drawn inputs.
void check_direction(const PhysicalModel& pm, const DataMap& inputs, const DataMap& cts, const DataMap& grads,
                     const std::map<std::string, Tensor>& dir, const std::string& what) {
  double analytic = 0, scale = 1;
  for (const auto& [k, v] : dir) {
    const auto g = grads.at(k).tensor.to_doubles(), d = v.to_doubles();
    for (size_t i = 0; i < g.size(); ++i) {
      if (d[i] == 0) continue;  // entries left out of the direction (non-finite gradients)
      analytic += g[i] * d[i];
      scale += std::fabs(g[i] * d[i]);
    }
  }
  std::string last;
  for (double h : {1e-5, 1e-6, 1e-7}) {
    const auto [fp, mp] = objective(pm, shifted(inputs, dir, h), cts);
    const auto [fm, mm] = objective(pm, shifted(inputs, dir, -h), cts);
    const double numeric = (fp - fm) / (2 * h);
    const double tol = 1e-6 * std::max(scale, std::fabs(numeric)) + 64 * DBL_EPSILON * std::max(mp, mm) / h;
    if (std::fabs(analytic - numeric) <= tol) return;
    last = fmt::format("gradient check along a random direction of {}: VJP gives {} but central differences give {} "
                       "(h = {}, tolerance {})",
                       what, analytic, numeric, h, tol);
  }
  throw std::runtime_error(last);
}

// What one iteration checked; `none` says why it checked nothing.
struct IterationChecks {
  int forward = 0, cross_backend = 0, gradient = 0;
  std::string none;
  int total() const { return forward + cross_backend + gradient; }
};

// Checks the VJP of `pm` at `inputs` against central differences along random directions.
// Outside a function's domain (log of a negative number, a negative base to a fractional
// power, ...) every backend returns NaN; finite differences cannot check such outputs, so they
// get a zero cotangent and the check covers the finite ones. Returns the number of directions
// checked (0 when every output was non-finite: a difference of zeros checks nothing) and sets
// `outputs_finite`.
int check_gradients(const PhysicalModel& pm, const DataMap& inputs, const std::map<std::string, Tensor>& values,
                    const std::string& name, Rng& rng, std::set<std::string>& trainable_seen,
                    std::set<std::string>& checked, bool& outputs_finite) {
  const DataMap out = pm.evaluate(inputs);
  DataMap cts;
  outputs_finite = true;
  bool any_finite = false;
  for (const auto& [k, v] : out) {
    std::vector<double> ct = normal_tensor(v.tensor.shape(), rng).to_doubles();
    const std::vector<double> x = v.tensor.to_doubles();
    for (size_t i = 0; i < x.size(); ++i) {
      if (!std::isfinite(x[i])) {
        ct[i] = 0;
        outputs_finite = false;
      } else {
        any_finite = true;
      }
    }
    cts[k] = Data(Tensor::from_doubles(ct, v.tensor.shape(), DType::f64));
  }
  const PhysicalModel::Result r = pm.evaluate(inputs, cts);
  for (const auto& [k, v] : out)
    if (!same(v.tensor, r.outputs.at(k).tensor)) throw std::runtime_error("output '" + k + "' differs between runs");
  std::map<std::string, Tensor> all;
  for (const std::string& k : pm.trainable_keys()) {
    const Tensor& g = r.gradients.at(k).tensor;
    if (g.shape() != values.at(k).shape())
      throw std::runtime_error(fmt::format("gradient of '{}' has shape {} but the input has {}", k,
                                           shape_str(g.shape()), shape_str(values.at(k).shape())));
    if (outputs_finite) check_finite(g, "gradient of '" + k + "'");
    // The direction scales each element by its magnitude, so the steps stay relative to the
    // point: near a pole (1/x, log x at small x) an absolute step would make the FD truncation
    // error dominate. Non-finite gradient entries (0 * NaN where an output is masked) are left out.
    std::vector<double> d = normal_tensor(g.shape(), rng).to_doubles();
    const std::vector<double> x = values.at(k).to_doubles(), gv = g.to_doubles();
    for (size_t i = 0; i < d.size(); ++i)
      d[i] = std::isfinite(gv[i]) ? d[i] * (x[i] != 0 ? std::fabs(x[i]) : 1.0) : 0.0;
    all[k] = Tensor::from_doubles(d, g.shape(), DType::f64);
    trainable_seen.insert(k);
    if (any_finite && std::any_of(d.begin(), d.end(), [](double e) { return e != 0; })) checked.insert(k);
  }
  if (logical::lowercase(name) == "stopgradient") {  // Mithril's rule: identity forward, zero gradient
    for (const auto& [k, g] : r.gradients)
      if (dot(g.tensor, g.tensor) != 0) throw std::runtime_error("StopGradient gave a non-zero gradient");
    return all.empty() ? 0 : 1;
  }
  if (all.empty() || !any_finite) return 0;
  int directions = 1;
  check_direction(pm, inputs, cts, r.gradients, all, "all trainable inputs");
  if (all.size() > 1)
    for (const auto& [k, v] : all) {
      check_direction(pm, inputs, cts, r.gradients, {{k, v}}, "'" + k + "'");
      ++directions;
    }
  return directions;
}

// The backend the forward outputs are compared with: the float64 reference backend, or the cpu
// backend when the case runs on the reference backend itself.
BackendPtr second_backend(const CompileOptions& base) {
  return make_backend(base.backend_or_default().name() == "reference" ? "cpu" : "reference", BackendOptions{});
}

// allclose with the case's tolerances (README §8); non-finite values must agree exactly.
// Returns the number of finite elements compared.
size_t compare_close(const Tensor& got, const Tensor& want, double atol, double rtol, const std::string& what) {
  if (got.shape() != want.shape())
    throw std::runtime_error(fmt::format("{} has shape {} but the reference has {}", what, shape_str(got.shape()),
                                         shape_str(want.shape())));
  const auto a = got.to_doubles(), b = want.to_doubles();
  size_t compared = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i]) || !std::isfinite(b[i])) {
      if (!(a[i] == b[i]) && !(std::isnan(a[i]) && std::isnan(b[i])))
        throw std::runtime_error(fmt::format("{}: element {} is {} but the reference gives {}", what, i, a[i], b[i]));
      continue;
    }
    if (std::fabs(a[i] - b[i]) > atol + rtol * std::fabs(b[i]))
      throw std::runtime_error(fmt::format("{}: element {} is {} but the reference gives {} (|diff| = {})", what, i,
                                           a[i], b[i], std::fabs(a[i] - b[i])));
    ++compared;
  }
  return compared;
}

// `checked` collects the trainable keys that took part in a gradient check (not every entry of
// their gradient was left out as non-finite).
IterationChecks run_iteration(const json& c, Rng& rng, std::set<std::string>& trainable_seen,
                              std::set<std::string>& checked, const CompileOptions& base) {
  IterationChecks done;
  const json& md = c.at("model");
  const std::string name = md.at("name").get<std::string>();
  json args = md.value("regular_args", json::object());
  const json drawn = draw_args(md.value("randomized_args", json::object()), md.value("floats", json::array()), rng);
  for (const auto& [k, v] : drawn.items()) args[k] = v;
  const logical::ModelResolver resolve = [](const json& d) { return logical::model_from_dict(d); };
  logical::Model model = name == "Model" ? logical::model_from_dict(md) : logical::make_model(name, args, resolve);
  const json differentiabilities = md.value("assigned_differentiabilities", json::array());
  for (const json& d : differentiabilities)
    model.set_differentiability(d[0].get<std::string>(), d[1].get<bool>());

  std::map<std::string, Shape> named;
  const json random_shapes = c.value("random_shapes", json::object());
  for (const auto& [k, spec] : random_shapes.items()) named[k] = draw_shape(spec, {}, rng);
  auto draw = [&](const json& info) {
    if (info.is_array()) {  // a list of [lo, hi] ranges: one integer per element
      std::vector<double> v;
      for (const json& r : info) v.push_back(static_cast<double>(draw_bound(r, rng)));
      return Tensor::from_doubles(v, {static_cast<int64_t>(v.size())}, DType::f64);
    }
    return draw_tensor(info, draw_shape(info.value("shapes", json::array()), named, rng), rng);
  };
  std::map<std::string, Tensor> values;
  CompileOptions opt = base;
  opt.inference = true;
  const json static_info = c.value("static_input_info", json::object());
  const json input_info = c.value("input_info", json::object());
  for (const auto& [k, info] : static_info.items()) {
    values[k] = draw(info);
    opt.constant_tensors[k] = Data(values[k]);
  }
  DataMap inputs;
  for (const auto& [k, info] : input_info.items()) {
    values[k] = draw(info);
    inputs[k] = Data(values[k]);
  }
  const PhysicalModel probe = compile(model, opt);
  // Inputs the case gives no shape for (weights, loss targets) get the shapes symbolic shape
  // inference derives from the drawn ones, as upstream Mithril's randomized test does.
  std::map<std::string, Shape> known;
  for (const auto& [k, v] : values) known[k] = v.shape();
  // A dim nothing determines (the output size of an encoder whose outputs are unused) is drawn.
  const std::map<std::string, Shape> derived =
      logical::infer_missing_shapes(probe.flat_model(), known, [&] { return draw_int(1, 5, rng); });
  std::vector<std::string> trainable;
  for (const std::string& k : probe.input_keys()) {
    if (!inputs.count(k)) {
      const auto s = derived.find(k);
      if (s == derived.end())
        throw std::runtime_error(fmt::format("shape inference leaves the shape of input '{}' of {} open", k, name));
      values[k] = normal_tensor(s->second, rng);
      inputs[k] = Data(values[k]);
    }
    if (k != "threshold" && k != "quantile") trainable.push_back(k);
  }

  // The forward outputs against the same model on a second backend, in float64.
  const double atol = c.value("64bit_tolerance", 1e-13), rtol = c.value("64bit_relative_tolerance", 1e-13);
  const DataMap first = probe.evaluate(inputs);
  {
    CompileOptions other = opt;
    other.backend = second_backend(base);
    const DataMap theirs = compile(model, other).evaluate(inputs);
    size_t compared = 0;
    for (const auto& [k, v] : first)
      compared += compare_close(v.tensor, theirs.at(k).tensor, atol, rtol,
                                fmt::format("output '{}' against backend {}", k, other.backend->name()));
    if (compared > 0) ++done.cross_backend;
  }

  if (c.value("inference", false)) {
    const DataMap second = probe.evaluate(inputs);
    for (const auto& [k, v] : first) {
      if (!same(v.tensor, second.at(k).tensor)) throw std::runtime_error("output '" + k + "' differs between two runs");
      check_finite(v.tensor, "output '" + k + "'");
    }
    if (const auto ref = inference_reference(name, args, values); ref && first.count("output")) {
      compare_close(first.at("output").tensor, *ref, atol, rtol, fmt::format("output (args {})", args.dump()));
      ++done.forward;
    }
    if (done.total() == 0) done.none = "no output element was finite, so nothing could be compared";
    return done;
  }

  opt.inference = false;
  opt.trainable_keys = trainable;
  const PhysicalModel pm = compile(model, opt);
  if (trainable.empty()) {
    if (done.total() == 0) done.none = "the model has no trainable inputs and no output element was finite";
    return done;
  }
  bool outputs_finite = true;
  done.gradient += check_gradients(pm, inputs, values, name, rng, trainable_seen, checked, outputs_finite);
  if (!outputs_finite) {
    // Outside a function's domain (a negative base to a fractional power, the log of a negative
    // number) the outputs are NaN, and a gradient summed over broadcast dims is NaN too (0 * NaN),
    // so some keys may never be checked at such points, whatever the seed. Check again at the
    // point with every drawn input folded to its absolute value, when that point is inside the
    // domain.
    DataMap folded = inputs;
    std::map<std::string, Tensor> folded_values = values;
    for (const auto& [k, v] : inputs) {
      if (v.is_list || !std::count(trainable.begin(), trainable.end(), k)) continue;
      std::vector<double> x = v.tensor.to_doubles();
      for (double& e : x) e = std::fabs(e);
      folded_values[k] = Tensor::from_doubles(x, v.tensor.shape(), DType::f64);
      folded[k] = Data(folded_values[k]);
    }
    bool folded_finite = true;
    for (const auto& [k, v] : pm.evaluate(folded))
      for (double e : v.tensor.to_doubles()) folded_finite = folded_finite && std::isfinite(e);
    if (folded_finite) {
      bool unused = true;
      done.gradient += check_gradients(pm, folded, folded_values, name, rng, trainable_seen, checked, unused);
    }
  }
  if (done.gradient == 0)
    done.none = "every output was non-finite at the drawn inputs and at their absolute values, so no gradient "
                "direction could be checked";
  return done;
}

}  // namespace

json draw_args(const json& randomized_args, const json& floats, Rng& rng) {
  json out = json::object();
  for (const auto& [k, spec] : randomized_args.items()) {
    const bool is_float = floats.is_array() && std::find(floats.begin(), floats.end(), json(k)) != floats.end();
    out[k] = draw_value(spec, is_float, rng);
  }
  return out;
}

Shape draw_shape(const json& shapes, const std::map<std::string, Shape>& named, Rng& rng) {
  if (shapes.is_string()) {
    const auto it = named.find(shapes.get<std::string>());
    MI_CHECK(it != named.end(), KeyError, "[randomized] unknown random shape '{}'", shapes.get<std::string>());
    return it->second;
  }
  Shape s;
  for (const json& d : shapes) s.push_back(draw_bound(d, rng));
  return s;
}

Tensor draw_tensor(const json& info, const Shape& shape, Rng& rng) {
  const size_t n = static_cast<size_t>(numel(shape));
  std::vector<double> v(n);
  if (info.value("mode", "") == "int") {
    const json& iv = info.at("interval");
    const int64_t lo = draw_bound(iv[0], rng), hi = draw_bound(iv[1], rng);
    for (double& x : v) x = static_cast<double>(draw_int(lo, hi, rng));
    return Tensor::from_doubles(v, shape, DType::f64);
  }
  std::normal_distribution<double> dist(info.value("mean", 0.0), info.value("std_dev", 1.0));
  for (double& x : v) x = dist(rng);
  if (info.value("is_positive", false))
    for (double& x : v) x = std::fabs(x);
  if (shape.size() >= 2 && (info.value("is_symmetric", false) || info.value("zero_diag", false))) {
    const int64_t r = shape[shape.size() - 2], cols = shape.back();
    for (size_t base = 0; base < n; base += static_cast<size_t>(r * cols))
      for (int64_t i = 0; i < r; ++i)
        for (int64_t j = 0; j < cols; ++j) {
          double& a = v[base + static_cast<size_t>(i * cols + j)];
          if (info.value("is_symmetric", false) && j > i && j < r && i < cols)
            v[base + static_cast<size_t>(j * cols + i)] = a;
          if (i == j && info.value("zero_diag", false)) a = 0;
        }
  }
  if (info.value("normalize", false)) {
    double total = 0;
    for (double x : v) total += x;
    for (double& x : v) x /= total;
  }
  if (info.value("bool", false))
    for (double& x : v) x = x > 0 ? 1.0 : 0.0;
  return Tensor::from_doubles(v, shape, DType::f64);
}

std::string RandomizedReport::summary() const {
  return fmt::format("{} iterations ({} drawn again): {} forward checks against a hand-written reference, {} against "
                     "a second backend, {} gradient directions against central differences",
                     iterations, redraws, forward_checks, cross_backend_checks, gradient_checks);
}

RandomizedReport run_randomized_case(const json& c, uint64_t seed, const CompileOptions& base) {
  Rng rng(seed);
  const int iterations = c.value("iterations", 10);
  std::set<std::string> trainable, checked;
  RandomizedReport report;
  for (int i = 0; i < iterations; ++i) {
    for (int attempt = 0;; ++attempt) {
      IterationChecks done;
      try {
        done = run_iteration(c, rng, trainable, checked, base);
      } catch (const std::exception& e) {
        throw std::runtime_error(fmt::format("seed {}, iteration {}: {}", seed, i, e.what()));
      }
      report.forward_checks += done.forward;
      report.cross_backend_checks += done.cross_backend;
      report.gradient_checks += done.gradient;
      // A case with trainable inputs counts as checked only through its gradients (run_iteration
      // sets `none` otherwise); one without is checked by the forward comparisons.
      if (done.none.empty()) break;
      if (attempt == kRandomizedRedraws)
        throw std::runtime_error(fmt::format("seed {}, iteration {}: nothing was checked in {} draws: {}", seed, i,
                                             attempt + 1,
                                             done.none));
      ++report.redraws;
    }
    ++report.iterations;
  }
  for (const std::string& k : trainable)
    if (!checked.count(k))
      throw std::runtime_error(fmt::format(
          "seed {}: the gradient of '{}' was never checked: it was non-finite in every iteration", seed, k));
  return report;
}

}  // namespace mithril::conformance
