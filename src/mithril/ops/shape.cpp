#include "mithril/ops/shape.h"

#include <numeric>

#include "mithril/core/error.h"
#include "mithril/ops/reduce.h"

namespace mithril {
namespace {
Cost copy_cost(const OpSignature& sig) {
  Cost c;
  c.bytes = 2.0 * static_cast<double>(numel(sig.output_shapes[0]) * static_cast<int64_t>(dtype_size(sig.output_dtypes[0])));
  return c;
}
}  // namespace

// ---- Cast ----
std::vector<Shape> CastOp::infer_shapes(std::span<const Shape> in) const {
  check_arity(*this, in.size(), 1);
  return {in[0]};
}
std::vector<DType> CastOp::infer_dtypes(std::span<const DType>) const { return {to}; }
std::vector<std::optional<Var>> CastOp::vjp(const std::vector<Var>& in, const std::vector<Var>&,
                                            const std::vector<std::optional<Var>>& ct) const {
  if (!is_float(in[0].dtype())) return {std::nullopt};  // integer/bool inputs carry no gradient
  return {ops::cast(*ct[0], in[0].dtype())};
}
std::string CastOp::attributes() const { return fmt::format("to={}", dtype_name(to)); }
Cost CastOp::cost(const OpSignature& sig) const { return Op::cost(sig); }

// ---- Reshape ----
std::vector<Shape> ReshapeOp::infer_shapes(std::span<const Shape> in) const {
  check_arity(*this, in.size(), 1);
  MI_CHECK(numel(in[0]) == numel(shape), ShapeError, "[reshape] cannot reshape {} ({} elements) into {} ({} elements)",
           shape_str(in[0]), numel(in[0]), shape_str(shape), numel(shape));
  return {shape};
}
std::vector<std::optional<Var>> ReshapeOp::vjp(const std::vector<Var>& in, const std::vector<Var>&,
                                               const std::vector<std::optional<Var>>& ct) const {
  return {ops::reshape(*ct[0], in[0].shape())};
}
std::string ReshapeOp::attributes() const { return fmt::format("shape={}", shape_str(shape)); }
Cost ReshapeOp::cost(const OpSignature& sig) const { return copy_cost(sig); }

// ---- BroadcastTo ----
std::vector<Shape> BroadcastToOp::infer_shapes(std::span<const Shape> in) const {
  check_arity(*this, in.size(), 1);
  MI_CHECK(can_broadcast_to(in[0], shape), ShapeError, "[broadcast_to] cannot broadcast {} to {}", shape_str(in[0]),
           shape_str(shape));
  return {shape};
}
std::vector<std::optional<Var>> BroadcastToOp::vjp(const std::vector<Var>& in, const std::vector<Var>&,
                                                   const std::vector<std::optional<Var>>& ct) const {
  return {ops::sum_to(*ct[0], in[0].shape())};
}
std::string BroadcastToOp::attributes() const { return fmt::format("shape={}", shape_str(shape)); }
Cost BroadcastToOp::cost(const OpSignature& sig) const { return copy_cost(sig); }

// ---- Permute ----
std::vector<Shape> PermuteOp::infer_shapes(std::span<const Shape> in) const {
  check_arity(*this, in.size(), 1);
  const auto nd = static_cast<int64_t>(in[0].size());
  MI_CHECK(static_cast<int64_t>(axes.size()) == nd, AttributeError,
           "[permute] axes ({}) have {} entries for input of shape {}", fmt::join(axes, ","), axes.size(), shape_str(in[0]));
  std::vector<bool> seen(axes.size(), false);
  Shape out;
  for (int64_t a : axes) {
    MI_CHECK(a >= 0 && a < nd && !seen[static_cast<size_t>(a)], AttributeError,
             "[permute] axes ({}) are not a permutation of 0..{}", fmt::join(axes, ","), nd - 1);
    seen[static_cast<size_t>(a)] = true;
    out.push_back(in[0][static_cast<size_t>(a)]);
  }
  return {out};
}
std::vector<std::optional<Var>> PermuteOp::vjp(const std::vector<Var>&, const std::vector<Var>&,
                                               const std::vector<std::optional<Var>>& ct) const {
  Axes inverse(axes.size());
  for (size_t i = 0; i < axes.size(); ++i) inverse[static_cast<size_t>(axes[i])] = static_cast<int64_t>(i);
  return {ops::permute(*ct[0], inverse)};
}
std::string PermuteOp::attributes() const { return fmt::format("axes=({})", fmt::join(axes, ",")); }
Cost PermuteOp::cost(const OpSignature& sig) const { return copy_cost(sig); }

namespace ops {

Var cast(const Var& x, DType to) {
  if (x.dtype() == to) return x;
  return x.graph().apply1(std::make_shared<CastOp>(to), {x});
}

Var reshape(const Var& x, Shape shape) {
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      MI_CHECK(infer < 0, ShapeError, "[reshape] more than one -1 in target shape {}", shape_str(shape));
      infer = static_cast<int64_t>(i);
    } else {
      MI_CHECK(shape[i] >= 0, ShapeError, "[reshape] negative dimension in target shape {}", shape_str(shape));
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    const int64_t n = numel(x.shape());
    MI_CHECK(known != 0 && n % known == 0, ShapeError, "[reshape] cannot reshape {} into {}", shape_str(x.shape()),
             shape_str(shape));
    shape[static_cast<size_t>(infer)] = n / known;
  }
  if (shape == x.shape()) return x;
  return x.graph().apply1(std::make_shared<ReshapeOp>(std::move(shape)), {x});
}

Var broadcast_to(const Var& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  return x.graph().apply1(std::make_shared<BroadcastToOp>(shape), {x});
}

Var permute(const Var& x, const Axes& axes) {
  Axes norm;
  for (int64_t a : axes) norm.push_back(normalize_axis(a, x.ndim(), "permute"));
  bool identity = true;
  for (size_t i = 0; i < norm.size(); ++i) identity = identity && norm[i] == static_cast<int64_t>(i);
  if (identity && static_cast<int64_t>(norm.size()) == x.ndim()) return x;
  return x.graph().apply1(std::make_shared<PermuteOp>(std::move(norm)), {x});
}

Var transpose(const Var& x) {
  Axes axes(static_cast<size_t>(x.ndim()));
  std::iota(axes.rbegin(), axes.rend(), 0);
  return permute(x, axes);
}

Var swap_axes(const Var& x, int64_t a, int64_t b) {
  Axes axes(static_cast<size_t>(x.ndim()));
  std::iota(axes.begin(), axes.end(), 0);
  std::swap(axes[static_cast<size_t>(normalize_axis(a, x.ndim(), "swap_axes"))],
            axes[static_cast<size_t>(normalize_axis(b, x.ndim(), "swap_axes"))]);
  return permute(x, axes);
}

Var flatten(const Var& x, int64_t start_dim, int64_t end_dim) {
  if (x.ndim() == 0) return reshape(x, {1});
  const int64_t s = normalize_axis(start_dim, x.ndim(), "flatten");
  const int64_t e = normalize_axis(end_dim, x.ndim(), "flatten");
  MI_CHECK(s <= e, AttributeError, "[flatten] start_dim {} is after end_dim {} for shape {}", start_dim, end_dim,
           shape_str(x.shape()));
  Shape out(x.shape().begin(), x.shape().begin() + s);
  int64_t merged = 1;
  for (int64_t i = s; i <= e; ++i) merged *= x.shape()[static_cast<size_t>(i)];
  out.push_back(merged);
  out.insert(out.end(), x.shape().begin() + e + 1, x.shape().end());
  return reshape(x, out);
}

Var squeeze(const Var& x, int64_t axis) {
  const auto a = static_cast<size_t>(normalize_axis(axis, x.ndim(), "squeeze"));
  MI_CHECK(x.shape()[a] == 1, ShapeError, "[squeeze] axis {} of shape {} has size {}, not 1", axis, shape_str(x.shape()),
           x.shape()[a]);
  Shape s = x.shape();
  s.erase(s.begin() + static_cast<int64_t>(a));
  return reshape(x, s);
}

Var unsqueeze(const Var& x, int64_t axis) {
  const auto a = static_cast<size_t>(normalize_axis(axis, x.ndim() + 1, "unsqueeze"));
  Shape s = x.shape();
  s.insert(s.begin() + static_cast<int64_t>(a), 1);
  return reshape(x, s);
}

}  // namespace ops
}  // namespace mithril
