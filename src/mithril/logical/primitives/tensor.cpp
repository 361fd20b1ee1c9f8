// Tensor-manipulation primitives of Mithril's functional API: Shape, Size, Indexer, Reshape,
// BroadcastTo, Cast, Arange, ZerosLike, OnesLike, AtLeast1D, ToTuple, ArgMax/ArgMin, IsNan,
// NanToNum, Clamp and SiLU.
//
// Shapes are concrete when a primitive is built, so Shape and Size build graph constants, and
// Indexer and ToTuple of constants fold to constants on the host: `x.shape()[0]` reaching the
// shape port of a Reshape is a value known at build time, as the shape ports require (a shape
// computed from run-time data is a ValueError).
#include <algorithm>
#include <cmath>
#include <limits>

#include "mithril/core/error.h"
#include "mithril/logical/primitives/common.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/reduce.h"
#include "mithril/ops/shape.h"
#include "mithril/ops/unary.h"

namespace mithril::logical {
namespace {

bool is_constant(const Var& v) { return v.graph().is_constant(v.id()); }

// The integers a shape port holds: its JSON value, or a graph constant (a Shape, an Indexer of
// one, a ToTuple of such values).
std::vector<int64_t> static_ints(const PortReader& in, const std::string& port) {
  const json& s = in.scalar(port);
  if (s.is_number_integer()) return {s.get<int64_t>()};
  if (s.is_array()) return in.scalar_ints(port);
  const Var v = in.tensor(port);
  MI_CHECK(is_constant(v), ValueError,
           "[{}] port '{}' must be known when the model is built (integers, or values computed from shapes), but it "
           "is computed from run-time data",
           in.model(), port);
  std::vector<int64_t> out;
  for (double d : v.graph().constant_value(v.id()).to_doubles()) {
    MI_CHECK(d == std::floor(d), ValueError, "[{}] port '{}' must hold integers, got {}", in.model(), port, d);
    out.push_back(static_cast<int64_t>(d));
  }
  return out;
}

Var int_constant(Graph& g, const std::vector<int64_t>& values, Shape shape) {
  std::vector<double> v(values.begin(), values.end());
  return g.constant(Tensor::from_doubles(v, shape, DType::i64));
}

void add_shape(PrimitiveRegistry& r) {
  r.add("Shape", {}, [](const json&) {
    return single_output("Shape", {tensor_port("input")}, [](Graph& g, const PortReader& in) {
      const Shape s = in.tensor("input").shape();
      return int_constant(g, s, {static_cast<int64_t>(s.size())});
    });
  });
  // Size: the number of elements (dim = null) or the size of one dim (negative counts from the end).
  r.add("Size", {}, [](const json&) {
    return single_output("Size", {tensor_port("input"), scalar_port("dim", nullptr)}, [](Graph& g, const PortReader& in) {
      const Shape s = in.tensor("input").shape();
      if (in.scalar("dim").is_null()) return int_constant(g, {numel(s)}, {});
      int64_t d = in.scalar_int("dim");
      const int64_t rank = static_cast<int64_t>(s.size());
      MI_CHECK(d >= -rank && d < rank, ValueError, "[Size] dim {} is out of range for an input of shape {}", d,
               shape_str(s));
      if (d < 0) d += rank;
      return int_constant(g, {s[static_cast<size_t>(d)]}, {});
    });
  });
}

// One step of an index: select one position (the axis goes), a Python slice, a new axis of
// size 1 (null), or the ellipsis ("...").
struct IndexStep {
  enum Kind { select, range, new_axis, ellipsis } kind = select;
  int64_t start = 0, stop = 0, step = 1;
};

std::optional<int64_t> optional_int(const json& o, const char* key) {
  if (!o.contains(key) || o.at(key).is_null()) return std::nullopt;
  MI_CHECK(o.at(key).is_number_integer(), ValueError, "[Indexer] slice {} must be an integer or null, got {}", key,
           o.at(key).dump());
  return o.at(key).get<int64_t>();
}

std::vector<IndexStep> parse_index(const json& index) {
  std::vector<IndexStep> steps;
  const json items = index.is_array() ? index : json::array({index});
  for (const json& e : items) {
    IndexStep s;
    s.kind = IndexStep::select;
    if (e.is_number_integer()) {
      s.start = e.get<int64_t>();
    } else if (e.is_null()) {
      s.kind = IndexStep::new_axis;
    } else if (e.is_string() && e.get<std::string>() == "...") {
      s.kind = IndexStep::ellipsis;
    } else if (e.is_object()) {
      for (const auto& [k, v] : e.items())
        MI_CHECK(k == "start" || k == "stop" || k == "step", ValueError,
                 "[Indexer] a slice has keys start, stop and step, got '{}'", k);
      s.kind = IndexStep::range;
      s.step = optional_int(e, "step").value_or(1);
      MI_CHECK(s.step > 0, ValueError, "[Indexer] slice step must be positive, got {}", s.step);
      s.start = optional_int(e, "start").value_or(0);
      s.stop = optional_int(e, "stop").value_or(std::numeric_limits<int64_t>::max());
    } else {
      MI_THROW(ValueError,
               "[Indexer] an index is an integer, a slice {{\"start\", \"stop\", \"step\"}}, null (new axis) or "
               "\"...\", or a list of those; got {}",
               e.dump());
    }
    steps.push_back(s);
  }
  return steps;
}

// The slices to take and the shape of the result, for an input of shape `in`.
struct IndexPlan {
  std::vector<int64_t> starts, stops, steps;  // one per input axis
  Shape out;
};

IndexPlan plan_index(const Shape& in, const json& index) {
  std::vector<IndexStep> steps = parse_index(index);
  int64_t consumed = 0, ellipses = 0;
  for (const IndexStep& s : steps) {
    if (s.kind == IndexStep::select || s.kind == IndexStep::range) ++consumed;
    if (s.kind == IndexStep::ellipsis) ++ellipses;
  }
  const int64_t rank = static_cast<int64_t>(in.size());
  MI_CHECK(ellipses <= 1, ValueError, "[Indexer] index {} has more than one ellipsis", index.dump());
  MI_CHECK(consumed <= rank, ShapeError, "[Indexer] index {} has {} entries for an input of shape {}", index.dump(),
           consumed, shape_str(in));
  IndexPlan p;
  int64_t axis = 0;
  auto whole = [&](int64_t a) {
    p.starts.push_back(0);
    p.stops.push_back(in[static_cast<size_t>(a)]);
    p.steps.push_back(1);
    p.out.push_back(in[static_cast<size_t>(a)]);
  };
  for (const IndexStep& s : steps) {
    if (s.kind == IndexStep::new_axis) {
      p.out.push_back(1);
      continue;
    }
    if (s.kind == IndexStep::ellipsis) {
      for (int64_t k = 0; k < rank - consumed; ++k) whole(axis++);
      continue;
    }
    const int64_t n = in[static_cast<size_t>(axis)];
    if (s.kind == IndexStep::select) {
      int64_t i = s.start;
      MI_CHECK(i >= -n && i < n, ShapeError, "[Indexer] index {} is out of range for axis {} of size {} (shape {})", i,
               axis, n, shape_str(in));
      if (i < 0) i += n;
      p.starts.push_back(i);
      p.stops.push_back(i + 1);
      p.steps.push_back(1);
    } else {  // Python's slice rules: negative bounds count from the end, then clamp to [0, n]
      auto bound = [n](int64_t b) { return std::clamp(b < 0 ? b + n : b, int64_t{0}, n); };
      const int64_t start = bound(s.start), stop = std::max(bound(s.stop), start);
      p.starts.push_back(start);
      p.stops.push_back(stop);
      p.steps.push_back(s.step);
      p.out.push_back((stop - start + s.step - 1) / s.step);
    }
    ++axis;
  }
  while (axis < rank) whole(axis++);
  return p;
}

void add_indexer(PrimitiveRegistry& r) {
  r.add("Indexer", {}, [](const json&) {
    return single_output("Indexer", {tensor_port("input"), scalar_port("index", nullptr)},
                         [](Graph& g, const PortReader& in) {
                           const Var x = in.tensor("input");
                           const IndexPlan p = plan_index(x.shape(), in.scalar("index"));
                           if (is_constant(x)) {  // fold: shapes and their parts stay build-time values
                             Tensor t = g.constant_value(x.id());
                             for (size_t a = 0; a < p.starts.size(); ++a)
                               t = t.slice(static_cast<int64_t>(a), p.starts[a], p.stops[a], p.steps[a]);
                             return g.constant(t.contiguous().reshape(p.out).clone());
                           }
                           Axes axes;
                           for (size_t a = 0; a < p.starts.size(); ++a) axes.push_back(static_cast<int64_t>(a));
                           Var y = ops::slice(x, axes, p.starts, p.stops, p.steps);
                           return ops::reshape(y, p.out);
                         });
  });
}

void add_reshape(PrimitiveRegistry& r) {
  r.add("Reshape", {}, [](const json&) {
    return single_output("Reshape", {tensor_port("input"), index_port("shape")}, [](Graph&, const PortReader& in) {
      return ops::reshape(in.tensor("input"), static_ints(in, "shape"));
    });
  });
  r.add("BroadcastTo", {}, [](const json&) {
    return single_output("BroadcastTo", {tensor_port("input"), index_port("shape")}, [](Graph&, const PortReader& in) {
      return ops::broadcast_to(in.tensor("input"), static_ints(in, "shape"));
    });
  });
}

// ToTuple (arg n): packs n scalars (or one-element tensors) into a 1-D int64 tensor, e.g. the
// target shape of a Reshape built from parts of input shapes.
void add_to_tuple(PrimitiveRegistry& r) {
  r.add("ToTuple", {"n"}, [](const json& args) {
    const int64_t n = Args("ToTuple", args).get_int("n", 1);
    MI_CHECK(n >= 1, AttributeError, "[ToTuple] argument n must be at least 1, got {}", n);
    std::vector<PortDef> ports;
    for (int64_t i = 1; i <= n; ++i) ports.push_back(index_port("input" + std::to_string(i)));
    return single_output("ToTuple", ports, [n](Graph& g, const PortReader& in) {
      std::vector<int64_t> values;
      std::vector<Var> parts;
      bool folded = true;
      for (int64_t i = 1; i <= n; ++i) {
        const std::string port = "input" + std::to_string(i);
        const Var v = in.tensor(port);
        MI_CHECK(v.shape().empty() || v.shape() == Shape{1}, ShapeError,
                 "[ToTuple] port '{}' must hold one number, got shape {}", port, shape_str(v.shape()));
        parts.push_back(ops::reshape(v, {1}));
        if (!is_constant(v)) folded = false;
        else values.push_back(static_cast<int64_t>(g.constant_value(v.id()).item()));
      }
      if (folded) return int_constant(g, values, {n});
      return ops::concat(parts, 0);
    });
  });
}

void add_cast(PrimitiveRegistry& r) {
  r.add("Cast", {}, [](const json&) {
    return same_shape(single_output("Cast", {tensor_port("input"), scalar_port("dtype", nullptr)},
                                    [](Graph&, const PortReader& in) {
                                      const json& d = in.scalar("dtype");
                                      MI_CHECK(d.is_string(), ValueError,
                                               "[Cast] port 'dtype' must name a dtype (\"float32\", \"int64\", ...), "
                                               "got {}",
                                               d.dump());
                                      return ops::cast(in.tensor("input"), parse_dtype(d.get<std::string>()));
                                    }));
  });
}

// A number a port holds at build time: its JSON value or a one-element graph constant (such as
// `x.shape()[1]`); whether it is an integer.
std::pair<double, bool> static_number(const PortReader& in, const std::string& port) {
  const json& s = in.scalar(port);
  if (s.is_number()) return {s.get<double>(), s.is_number_integer()};
  const Var v = in.tensor(port);
  MI_CHECK(is_constant(v) && v.graph().constant_value(v.id()).numel() == 1, ValueError,
           "[{}] port '{}' must be a number known when the model is built (a number, or one computed from shapes)",
           in.model(), port);
  return {v.graph().constant_value(v.id()).item(), is_int(v.dtype())};
}

// Arange(start = 0, stop, step = 1): int64 when every bound is an integer, else float64. The
// bounds may be computed from shapes (Arange(stop = x.shape()[1]) for positions).
void add_arange(PrimitiveRegistry& r) {
  r.add("Arange", {}, [](const json&) {
    return single_output("Arange", {tensor_port("start", 0), tensor_port("stop"), tensor_port("step", 1)},
                         [](Graph& g, const PortReader& in) {
                           const auto [start, int_start] = static_number(in, "start");
                           const auto [stop, int_stop] = static_number(in, "stop");
                           const auto [step, int_step] = static_number(in, "step");
                           MI_CHECK(step != 0, ValueError, "[Arange] step must not be 0");
                           const double count = std::ceil((stop - start) / step);
                           const int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
                           std::vector<double> v(static_cast<size_t>(n));
                           for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = start + static_cast<double>(i) * step;
                           const bool ints = int_start && int_stop && int_step;
                           return g.constant(Tensor::from_doubles(v, {n}, ints ? DType::i64 : DType::f64));
                         });
  });
}

void add_like(PrimitiveRegistry& r, const char* name, double value) {
  r.add(name, {}, [=](const json&) {
    return same_shape(single_output(name, {tensor_port("input")}, [=](Graph& g, const PortReader& in) {
      const Var x = in.tensor("input");
      return g.constant(Tensor::full(x.shape(), value, x.dtype()));
    }));
  });
}

void add_at_least_1d(PrimitiveRegistry& r) {
  r.add("AtLeast1D", {}, [](const json&) {
    return single_output("AtLeast1D", {tensor_port("input")}, [](Graph&, const PortReader& in) {
      const Var x = in.tensor("input");
      return x.ndim() == 0 ? ops::reshape(x, {1}) : x;
    });
  });
}

// ArgMax/ArgMin(axis = null: over the flattened input, keepdim = false): int64 indices.
void add_arg(PrimitiveRegistry& r, const char* name, Var (*fn)(const Var&, int64_t, bool)) {
  r.add(name, {}, [=](const json&) {
    return single_output(name, {tensor_port("input"), scalar_port("axis", nullptr), scalar_port("keepdim", false)},
                         [=](Graph&, const PortReader& in) {
                           const Var x = in.tensor("input");
                           const bool keepdim = in.scalar_bool("keepdim");
                           if (!in.scalar("axis").is_null()) return fn(x, in.scalar_int("axis"), keepdim);
                           const Var flat = fn(ops::reshape(x, {-1}), 0, false);
                           return keepdim ? ops::reshape(flat, Shape(static_cast<size_t>(x.ndim()), 1)) : flat;
                         });
  });
}

// IsNan: x != x holds exactly for NaN.
void add_is_nan(PrimitiveRegistry& r) {
  r.add("IsNan", {}, [](const json&) {
    return same_shape(single_output("IsNan", {tensor_port("input")}, [](Graph&, const PortReader& in) {
      const Var x = in.tensor("input");
      return ops::not_equal(x, x);
    }));
  });
}

// NanToNum(nan = 0, posinf = null, neginf = null): NumPy's rule, infinities become the largest
// finite values of the dtype unless given. The gradient passes where the input is finite.
void add_nan_to_num(PrimitiveRegistry& r) {
  r.add("NanToNum", {}, [](const json&) {
    return same_shape(single_output(
        "NanToNum",
        {tensor_port("input"), scalar_port("nan", 0.0), scalar_port("posinf", nullptr), scalar_port("neginf", nullptr)},
        [](Graph&, const PortReader& in) {
          const Var x = in.tensor("input");
          const double big = x.dtype() == DType::f32   ? std::numeric_limits<float>::max()
                             : x.dtype() == DType::f64 ? std::numeric_limits<double>::max()
                                                       : 0.0;
          MI_CHECK(is_float(x.dtype()) && big != 0.0, DTypeError,
                   "[NanToNum] needs a float32 or float64 input, got {}", dtype_name(x.dtype()));
          auto number = [&](const char* port, double fallback) {
            const json& v = in.scalar(port);
            if (v.is_null()) return fallback;
            MI_CHECK(v.is_number(), ValueError, "[NanToNum] port '{}' must be a number or null, got {}", port, v.dump());
            return v.get<double>();
          };
          const double inf = std::numeric_limits<double>::infinity();
          Var y = ops::where(ops::not_equal(x, x), ops::scalar_like(x, number("nan", 0.0)), x);
          y = ops::where(ops::equal(x, ops::scalar_like(x, inf)), ops::scalar_like(x, number("posinf", big)), y);
          return ops::where(ops::equal(x, ops::scalar_like(x, -inf)), ops::scalar_like(x, number("neginf", -big)), y);
        }));
  });
}

// Clamp(min = null, max = null): maximum with min, then minimum with max (NumPy's clip order).
void add_clamp(PrimitiveRegistry& r) {
  r.add("Clamp", {}, [](const json&) {
    return same_shape(single_output("Clamp", {tensor_port("input"), scalar_port("min", nullptr), scalar_port("max", nullptr)},
                                    [](Graph&, const PortReader& in) {
                                      Var y = in.tensor("input");
                                      for (const char* port : {"min", "max"}) {
                                        const json& v = in.scalar(port);
                                        if (v.is_null()) continue;
                                        MI_CHECK(v.is_number(), ValueError,
                                                 "[Clamp] port '{}' must be a number or null, got {}", port, v.dump());
                                        const Var bound = ops::scalar_like(y, v.get<double>());
                                        y = std::string(port) == "min" ? ops::maximum(y, bound) : ops::minimum(y, bound);
                                      }
                                      return y;
                                    }));
  });
}

void add_silu(PrimitiveRegistry& r) {
  r.add("SiLU", {}, [](const json&) {
    return same_shape(single_output("SiLU", {tensor_port("input")}, [](Graph&, const PortReader& in) {
      const Var x = in.tensor("input");
      return x * ops::sigmoid(x);
    }));
  });
}

}  // namespace

void register_tensor_primitives(PrimitiveRegistry& r) {
  add_shape(r);
  add_indexer(r);
  add_reshape(r);
  add_to_tuple(r);
  add_cast(r);
  add_arange(r);
  add_like(r, "ZerosLike", 0.0);
  add_like(r, "OnesLike", 1.0);
  add_at_least_1d(r);
  add_arg(r, "ArgMax", ops::argmax);
  add_arg(r, "ArgMin", ops::argmin);
  add_is_nan(r);
  add_nan_to_num(r);
  add_clamp(r);
  add_silu(r);
}

}  // namespace mithril::logical
