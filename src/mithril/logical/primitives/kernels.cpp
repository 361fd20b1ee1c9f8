// Kernel and distance primitives: distance matrices, the norm modifier, polynomial features,
// the MDS and t-SNE cores, and the RBF and polynomial kernels. Mithril composes several of
// these from smaller models; here each is one primitive built from ops, with the same formulas
// (README section 4.4), so values and gradients agree.
#include "mithril/core/error.h"
#include "mithril/logical/primitives/common.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/linalg.h"
#include "mithril/ops/loss.h"
#include "mithril/ops/reduce.h"
#include "mithril/ops/shape.h"
#include "mithril/ops/unary.h"

namespace mithril::logical {
namespace {

// Mithril's Power(robust=...) as used inside its composite models.
Var power(const Var& base, const Var& exponent, bool robust) {
  return robust ? ops::robust_pow(base, exponent, kMinPositiveNormal) : ops::pow(base, exponent);
}

void add_distance_matrix(PrimitiveRegistry& r) {
  r.add("DistanceMatrix", {}, [](const json&) {
    return single_output("DistanceMatrix", {tensor_port("left"), tensor_port("right"), tensor_port("norm")},
                         [](Graph&, const PortReader& in) {
                           return distance_matrix(in.tensor("left"), in.tensor("right"), in.tensor("norm"));
                         });
  });
}

void add_norm_modifier(PrimitiveRegistry& r) {
  r.add("NormModifier", {}, [](const json&) {
    return single_output("NormModifier", {tensor_port("input")},
                         [](Graph&, const PortReader& in) { return norm_modifier(in.tensor("input")); });
  });
}

// Every monomial of total degree 1..degree of the columns of input [N, d], in the order of
// itertools.combinations_with_replacement over (1, x_1, ..., x_d) without the all-ones term.
Var polynomial_features(const Var& x, int64_t degree) {
  MI_CHECK(x.ndim() == 2, ShapeError, "[PolynomialFeatures] input must be [N, d], got shape {}", shape_str(x.shape()));
  MI_CHECK(degree >= 1, ValueError, "[PolynomialFeatures] degree must be at least 1, got {}", degree);
  const int64_t d = x.dim(1);
  std::vector<Var> columns;
  for (int64_t j = 0; j < d; ++j) columns.push_back(ops::slice(x, 1, j, j + 1));
  std::vector<Var> features;
  std::vector<int64_t> combo(static_cast<size_t>(degree), 0);  // non-decreasing indices into (1, x_1, ..., x_d)
  while (true) {
    // Advance to the next combination (the first, all ones, is skipped).
    int64_t i = degree - 1;
    while (i >= 0 && combo[static_cast<size_t>(i)] == d) --i;
    if (i < 0) break;
    const int64_t next = combo[static_cast<size_t>(i)] + 1;
    for (int64_t k = i; k < degree; ++k) combo[static_cast<size_t>(k)] = next;
    std::optional<Var> term;
    for (int64_t c : combo) {
      if (c == 0) continue;
      const Var& col = columns[static_cast<size_t>(c - 1)];
      term = term ? *term * col : col;
    }
    features.push_back(*term);
  }
  return ops::concat(features, 1);
}

void add_polynomial_features(PrimitiveRegistry& r) {
  r.add("PolynomialFeatures", {}, [](const json&) {
    PortDef degree = scalar_port("degree", nullptr);
    degree.default_value.reset();  // required
    return single_output("PolynomialFeatures", {tensor_port("input"), degree}, [](Graph&, const PortReader& in) {
      return polynomial_features(in.tensor("input"), in.scalar_int("degree"));
    });
  });
}

// p = NormModifier(norm); D = DistanceMatrix(input1, input2, p); D^(1/p) if get_final_distance.
void add_encoder_distance_matrix(PrimitiveRegistry& r) {
  r.add("EncoderDistanceMatrix", {"get_final_distance", "robust"}, [](const json& args) {
    const Args a("EncoderDistanceMatrix", args);
    const bool final_distance = a.get_bool("get_final_distance", true);
    const bool robust = a.get_bool("robust", true);
    return single_output("EncoderDistanceMatrix", {tensor_port("input1"), tensor_port("input2"), tensor_port("norm")},
                         [=](Graph&, const PortReader& in) {
                           const Var p = norm_modifier(in.tensor("norm"));
                           const Var dist = distance_matrix(in.tensor("input1"), in.tensor("input2"), p);
                           if (!final_distance) return dist;
                           return power(dist, 1.0 / p, robust);
                         });
  });
}

// p = NormModifier(norm), r = StableReciprocal(p).
// exact:     (sum |dist - pred^r|^p / sum dist^p)^r
// not exact: (sum |dist^r - pred^r|^p / sum dist)^r
void add_mds_core(PrimitiveRegistry& r) {
  r.add("MDSCore", {"exact_distances", "robust"}, [](const json& args) {
    const Args a("MDSCore", args);
    const bool exact = a.get_bool("exact_distances", true);
    const bool robust = a.get_bool("robust", true);
    return single_output(
        "MDSCore", {tensor_port("distances"), tensor_port("pred_distances"), tensor_port("norm")},
        [=](Graph&, const PortReader& in) {
          const Var dist = in.tensor("distances");
          const Var p = norm_modifier(in.tensor("norm"));
          const Var rp = ops::stable_reciprocal(p);
          const Var pred_r = power(in.tensor("pred_distances"), rp, robust);
          const Var diff = exact ? dist - pred_r : power(dist, rp, robust) - pred_r;
          const Var scale = exact ? ops::sum(power(dist, p, robust)) : ops::sum(dist);
          const Var stress = ops::sum(power(ops::abs(diff), p, robust));
          return power(stress * ops::stable_reciprocal(scale), rp, robust);
        });
  });
}

// Q = 1/(1 + pred) with a zero diagonal, normalised to sum 1; output = sum KL(Q -> p_joint).
void add_tsne_core(PrimitiveRegistry& r) {
  r.add("TSNECore", {"exact_distances", "calculate_p_joint", "perplexity"}, [](const json& args) {
    const Args a("TSNECore", args);
    a.get_bool("exact_distances", true);  // only matters when p_joint is computed
    a.get_double("perplexity", 20.0);
    MI_CHECK(!a.get_bool("calculate_p_joint", false), AttributeError,
             "[TSNECore] calculate_p_joint=True is not supported yet: give p_joint");
    PrimitiveDef def = single_output("TSNECore", {tensor_port("distances"), tensor_port("pred_distances"), tensor_port("p_joint")},
                         [](Graph& graph, const PortReader& in) {
                           const Var pred = in.tensor("pred_distances");
                           MI_CHECK(pred.ndim() == 2 && pred.dim(0) == pred.dim(1), ShapeError,
                                    "[TSNECore] pred_distances must be [N, N], got shape {}", shape_str(pred.shape()));
                           const Var off_diagonal =
                               1.0 - ops::eye(graph, pred.dim(0), pred.dim(0), 0, pred.dtype());
                           const Var q = ops::reciprocal(pred + 1.0) * off_diagonal;
                           return ops::sum(ops::kl_divergence(q / ops::sum(q), in.tensor("p_joint")));
                         });
    def.shapes = {{"distances", {"N", "N"}}, {"pred_distances", {"N", "N"}}, {"p_joint", {"N", "N"}}, {"output", json::array()}};
    return def;
  });
}

// l_scale^2 * exp(-0.5 * sum_k (x_ik - y_jk)^2 / sigma^2) -> [N, M].
void add_rbf_kernel(PrimitiveRegistry& r) {
  r.add("RBFKernel", {}, [](const json&) {
    return single_output(
        "RBFKernel", {tensor_port("input1"), tensor_port("input2"), tensor_port("l_scale"), tensor_port("sigma")},
        [](Graph&, const PortReader& in) {
          const Var x = in.tensor("input1");
          const Var y = in.tensor("input2");
          const Var squared = ops::sum(ops::square(ops::unsqueeze(x, 1) - ops::unsqueeze(y, 0)), Axes{2});
          const Var l_scale = in.tensor("l_scale");
          return (l_scale * l_scale) * ops::exp((squared * -0.5) / ops::square(in.tensor("sigma")));
        });
  });
}

// (input1 . input2^T + poly_coef)^degree.
void add_polynomial_kernel(PrimitiveRegistry& r) {
  r.add("PolynomialKernel", {"robust"}, [](const json& args) {
    const bool robust = Args("PolynomialKernel", args).get_bool("robust", true);
    return single_output(
        "PolynomialKernel",
        {tensor_port("input1"), tensor_port("input2"), tensor_port("poly_coef"), tensor_port("degree")},
        [=](Graph&, const PortReader& in) {
          const Var gram = ops::matmul(in.tensor("input1"), ops::transpose(in.tensor("input2")));
          return power(gram + in.tensor("poly_coef"), in.tensor("degree"), robust);
        });
  });
}

}  // namespace

void register_kernel_primitives(PrimitiveRegistry& r) {
  add_distance_matrix(r);
  add_norm_modifier(r);
  add_polynomial_features(r);
  add_encoder_distance_matrix(r);
  add_mds_core(r);
  add_tsne_core(r);
  add_rbf_kernel(r);
  add_polynomial_kernel(r);
}

}  // namespace mithril::logical
