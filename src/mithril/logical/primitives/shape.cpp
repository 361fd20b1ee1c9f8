// Layout primitives: transposes, gathers along axis 0, squeezing, diagonals, concatenation,
// flattening, packing tensors into a list (ToList), and constant-pattern tensors (Eye,
// EyeComplement, Ones) whose shape is given by scalar ports.
#include <algorithm>

#include "mithril/core/error.h"
#include "mithril/logical/primitives/common.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/shape.h"

namespace mithril::logical {
namespace {

void add_transpose(PrimitiveRegistry& r) {
  r.add("Transpose", {}, [](const json&) {
    return with_shape_rule(single_output("Transpose", {tensor_port("input"), scalar_port("axes", nullptr)},
                         [](Graph&, const PortReader& in) {
                           const Var x = in.tensor("input");
                           if (in.scalar("axes").is_null()) return ops::transpose(x);
                           const std::vector<int64_t> axes = in.scalar_ints("axes");
                           MI_CHECK(static_cast<int64_t>(axes.size()) == x.ndim(), ShapeError,
                                    "[Transpose] axes {} do not permute an input of shape {}", fmt::join(axes, ","),
                                    shape_str(x.shape()));
                           return ops::permute(x, axes);
                         }), PrimitiveDef::ShapeRule::transpose);
  });
}

void add_permute_tensor(PrimitiveRegistry& r) {
  r.add("PermuteTensor", {}, [](const json&) {
    return single_output("PermuteTensor", {tensor_port("input"), index_port("indices")},
                         [](Graph&, const PortReader& in) {
                           return ops::gather(in.tensor("input"), in.tensor("indices"), 0);
                         });
  });
}

void add_swap_axes(PrimitiveRegistry& r) {
  r.add("SwapAxes", {}, [](const json&) {
    return single_output("SwapAxes", {tensor_port("input"), scalar_port("axis1", nullptr), scalar_port("axis2", nullptr)},
                         [](Graph&, const PortReader& in) {
                           return ops::swap_axes(in.tensor("input"), in.scalar_int("axis1"), in.scalar_int("axis2"));
                         });
  });
}

// Removes every axis of size 1.
void add_squeeze(PrimitiveRegistry& r) {
  r.add("Squeeze", {}, [](const json&) {
    return single_output("Squeeze", {tensor_port("input")}, [](Graph&, const PortReader& in) {
      const Var x = in.tensor("input");
      Shape kept;
      for (int64_t d : x.shape())
        if (d != 1) kept.push_back(d);
      return ops::reshape(x, kept);
    });
  });
}

// The diagonal of a square matrix [N, N] as a column [N, 1].
void add_transposed_diagonal(PrimitiveRegistry& r) {
  r.add("TransposedDiagonal", {}, [](const json&) {
    return single_output("TransposedDiagonal", {tensor_port("input")}, [](Graph&, const PortReader& in) {
      const Var x = in.tensor("input");
      MI_CHECK(x.ndim() == 2 && x.dim(0) == x.dim(1), ShapeError,
               "[TransposedDiagonal] expects a square matrix, got shape {}", shape_str(x.shape()));
      return ops::reshape(ops::diagonal(x), {x.dim(0), 1});
    });
  });
}

// Concatenates a list of tensors along `axis`; axis = null flattens each first. The legacy
// argument `n` (number of inputs) is accepted and must agree with the list.
void add_concat(PrimitiveRegistry& r) {
  r.add("Concat", {"n"}, [](const json& args) {
    const int64_t n = Args("Concat", args).get_int("n", -1);
    // Mithril differentiates Concat's list input by default (the golden cases expect it).
    PortDef input = list_port("input");
    input.differentiable = true;
    return single_output("Concat", {input, scalar_port("axis", 0)}, [n](Graph&, const PortReader& in) {
      std::vector<Var> xs = in.tensors("input");
      MI_CHECK(n < 0 || n == static_cast<int64_t>(xs.size()), ValueError,
               "[Concat] argument n = {} but {} inputs are connected", n, xs.size());
      if (in.scalar("axis").is_null()) {
        for (Var& x : xs) x = ops::reshape(x, {-1});
        return ops::concat(xs, 0);
      }
      return ops::concat(xs, in.scalar_int("axis"));
    });
  });
}

void add_flatten(PrimitiveRegistry& r) {
  r.add("Flatten", {}, [](const json&) {
    return with_shape_rule(
        single_output("Flatten", {tensor_port("input"), scalar_port("start_dim", 0), scalar_port("end_dim", -1)},
                      [](Graph&, const PortReader& in) {
                        return ops::flatten(in.tensor("input"), in.scalar_int("start_dim"), in.scalar_int("end_dim"));
                      }),
        PrimitiveDef::ShapeRule::flatten);
  });
}

// LeadingSlice: input[:N] along axis 0, where N is the first dim of `like` (only its shape is
// read, so `like` gets no gradient). OneToMany feeds step t the first N_t rows of step t-1's
// output, N_t being the batch of target t; Mithril builds this from Shape, Indexer and Slice
// primitives, which take values our logical layer keeps static.
void add_leading_slice(PrimitiveRegistry& r) {
  r.add("LeadingSlice", {}, [](const json&) {
    PrimitiveDef def =
        single_output("LeadingSlice", {tensor_port("input"), tensor_port("like")}, [](Graph&, const PortReader& in) {
          const Var x = in.tensor("input"), like = in.tensor("like");
          MI_CHECK(x.ndim() >= 1 && like.ndim() >= 1 && like.dim(0) <= x.dim(0), ShapeError,
                   "[LeadingSlice] cannot take the first {} rows of input {}", like.ndim() ? like.dim(0) : 0,
                   shape_str(x.shape()));
          return ops::slice(x, 0, 0, like.dim(0));
        });
    def.shapes = {{"input", {nullptr, "V,..."}}, {"like", {"N", "W,..."}}, {"output", {"N", "V,..."}}};
    return def;
  });
}

// ToList (arg n = 1): packs input1..inputN into the list-valued output, e.g. for Concat.
void add_to_list(PrimitiveRegistry& r) {
  r.add("ToList", {"n"}, [](const json& args) {
    const int64_t n = Args("ToList", args).get_int("n", 1);
    MI_CHECK(n >= 1, AttributeError, "[ToList] argument n must be at least 1, got {}", n);
    PrimitiveDef def;
    def.name = "ToList";
    for (int64_t i = 1; i <= n; ++i) def.ports.push_back(tensor_port("input" + std::to_string(i)));
    def.ports.push_back(output_port());
    def.ports.back().list = true;
    def.build_lists = [n](Graph&, const PortValues& in) {
      const PortReader reader("ToList", in);
      std::vector<Var> xs;
      for (int64_t i = 1; i <= n; ++i) xs.push_back(reader.tensor("input" + std::to_string(i)));
      return std::map<std::string, std::vector<Var>>{{"output", xs}};
    };
    return def;
  });
}

// A float64 [N, M] constant (M = null -> N) with `diagonal` on the main diagonal, `off` elsewhere.
Var diagonal_pattern(Graph& graph, const PortReader& in, double diagonal, double off) {
  MI_CHECK(!in.scalar("N").is_null(), ValueError, "[{}] port 'N' must be given", in.model());
  const int64_t n = in.scalar_int("N");
  const int64_t m = in.scalar("M").is_null() ? n : in.scalar_int("M");
  MI_CHECK(n >= 0 && m >= 0, ValueError, "[{}] N = {} and M = {} must not be negative", in.model(), n, m);
  std::vector<double> v(static_cast<size_t>(n * m), off);
  for (int64_t i = 0; i < std::min(n, m); ++i) v[static_cast<size_t>(i * m + i)] = diagonal;
  return graph.constant(Tensor::from_doubles(v, {n, m}, DType::f64));
}

void add_eye(PrimitiveRegistry& r) {
  r.add("Eye", {}, [](const json&) {
    return single_output("Eye", {scalar_port("N", nullptr), scalar_port("M", nullptr)},
                         [](Graph& g, const PortReader& in) { return diagonal_pattern(g, in, 1.0, 0.0); });
  });
  r.add("EyeComplement", {}, [](const json&) {
    return single_output("EyeComplement", {scalar_port("N", nullptr), scalar_port("M", nullptr)},
                         [](Graph& g, const PortReader& in) { return diagonal_pattern(g, in, 0.0, 1.0); });
  });
}

void add_ones(PrimitiveRegistry& r) {
  r.add("Ones", {}, [](const json&) {
    return single_output("Ones", {scalar_port("shape", nullptr)}, [](Graph& g, const PortReader& in) {
      MI_CHECK(!in.scalar("shape").is_null(), ValueError, "[Ones] port 'shape' must be given");
      const json& s = in.scalar("shape");
      const Shape shape = s.is_array() ? in.scalar_ints("shape") : Shape{in.scalar_int("shape")};
      return g.constant(Tensor::full(shape, 1.0, DType::f64));
    });
  });
}

}  // namespace

void register_shape_primitives(PrimitiveRegistry& r) {
  add_leading_slice(r);
  add_to_list(r);
  add_eye(r);
  add_ones(r);
  add_transpose(r);
  add_permute_tensor(r);
  add_swap_axes(r);
  add_squeeze(r);
  add_transposed_diagonal(r);
  add_concat(r);
  add_flatten(r);
}

}  // namespace mithril::logical
