// Layout primitives: transposes, gathers along axis 0, squeezing, diagonals, concatenation and
// flattening.
#include "mithril/core/error.h"
#include "mithril/logical/primitives/common.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/shape.h"

namespace mithril::logical {
namespace {

void add_transpose(PrimitiveRegistry& r) {
  r.add("Transpose", {}, [](const json&) {
    return single_output("Transpose", {tensor_port("input"), scalar_port("axes", nullptr)},
                         [](Graph&, const PortReader& in) {
                           const Var x = in.tensor("input");
                           if (in.scalar("axes").is_null()) return ops::transpose(x);
                           const std::vector<int64_t> axes = in.scalar_ints("axes");
                           MI_CHECK(static_cast<int64_t>(axes.size()) == x.ndim(), ShapeError,
                                    "[Transpose] axes {} do not permute an input of shape {}", fmt::join(axes, ","),
                                    shape_str(x.shape()));
                           return ops::permute(x, axes);
                         });
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
    return single_output("Flatten", {tensor_port("input"), scalar_port("start_dim", 0), scalar_port("end_dim", -1)},
                         [](Graph&, const PortReader& in) {
                           return ops::flatten(in.tensor("input"), in.scalar_int("start_dim"),
                                               in.scalar_int("end_dim"));
                         });
  });
}

}  // namespace

void register_shape_primitives(PrimitiveRegistry& r) {
  add_transpose(r);
  add_permute_tensor(r);
  add_swap_axes(r);
  add_squeeze(r);
  add_transposed_diagonal(r);
  add_concat(r);
  add_flatten(r);
}

}  // namespace mithril::logical
