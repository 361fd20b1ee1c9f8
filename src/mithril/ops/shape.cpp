#include "mithril/ops/shape.h"

#include <algorithm>
#include <numeric>

#include "mithril/core/error.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/reduce.h"

namespace mithril {
namespace {
double bytes_of(const Shape& shape, DType dtype) {
  return static_cast<double>(numel(shape) * static_cast<int64_t>(dtype_size(dtype)));
}

// Ops that read as many elements as they write.
Cost copy_cost(const OpSignature& sig) {
  Cost c;
  c.bytes = 2.0 * bytes_of(sig.output_shapes[0], sig.output_dtypes[0]);
  return c;
}

// Ops that read every input and write every output once, without arithmetic.
Cost io_cost(const OpSignature& sig) {
  Cost c;
  for (size_t i = 0; i < sig.input_shapes.size(); ++i) c.bytes += bytes_of(sig.input_shapes[i], sig.input_dtypes[i]);
  for (size_t i = 0; i < sig.output_shapes.size(); ++i) c.bytes += bytes_of(sig.output_shapes[i], sig.output_dtypes[i]);
  return c;
}

void check_index_dtype(const Op& op, DType indices) {
  MI_CHECK(indices == DType::i32 || indices == DType::i64, DTypeError, "[{}] indices must be i32 or i64, got {}",
           op.name(), dtype_name(indices));
}

// Length of diagonal `offset` of an (rows, cols) matrix, written so that no offset overflows.
int64_t diagonal_length(int64_t rows, int64_t cols, int64_t offset) {
  if (offset >= 0) return offset >= cols ? 0 : std::min(rows, cols - offset);
  return offset <= -rows ? 0 : std::min(rows + offset, cols);
}

Shape gathered_shape(const Shape& data, const Shape& indices, int64_t axis) {
  Shape out(data.begin(), data.begin() + axis);
  out.insert(out.end(), indices.begin(), indices.end());
  out.insert(out.end(), data.begin() + axis + 1, data.end());
  return out;
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
           "[permute] axes ({}) have {} entries for input of shape {}", fmt::join(axes, ","), axes.size(),
           shape_str(in[0]));
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

// ---- Slice ----
std::vector<SliceOp::Range> SliceOp::resolve(const Shape& input) const {
  MI_CHECK(starts.size() == axes.size() && stops.size() == axes.size() && steps.size() == axes.size(), AttributeError,
           "[slice] {} axes but {} starts, {} stops and {} steps", axes.size(), starts.size(), stops.size(),
           steps.size());
  const auto nd = static_cast<int64_t>(input.size());
  std::vector<Range> ranges(input.size());
  for (size_t d = 0; d < input.size(); ++d) ranges[d] = {0, input[d], 1};
  std::vector<bool> seen(input.size(), false);
  for (size_t k = 0; k < axes.size(); ++k) {
    const auto a = static_cast<size_t>(normalize_axis(axes[k], nd, "slice"));
    MI_CHECK(!seen[a], AttributeError, "[slice] axis {} repeated in ({})", axes[k], fmt::join(axes, ","));
    seen[a] = true;
    MI_CHECK(steps[k] > 0, AttributeError, "[slice] step must be positive, got {} for axis {}", steps[k], axes[k]);
    const int64_t n = input[a];
    auto clamp = [n](int64_t v) { return v < 0 ? std::max<int64_t>(v + n, 0) : std::min(v, n); };
    const int64_t start = clamp(starts[k]), stop = clamp(stops[k]);
    ranges[a] = {start, stop > start ? (stop - start + steps[k] - 1) / steps[k] : 0, steps[k]};
  }
  return ranges;
}
std::vector<Shape> SliceOp::infer_shapes(std::span<const Shape> in) const {
  check_arity(*this, in.size(), 1);
  Shape out;
  for (const Range& r : resolve(in[0])) out.push_back(r.size);
  return {out};
}
std::vector<std::optional<Var>> SliceOp::vjp(const std::vector<Var>& in, const std::vector<Var>&,
                                             const std::vector<std::optional<Var>>& ct) const {
  // The cotangent goes back to the positions it was read from; zeros everywhere else.
  const Shape shape = in[0].shape();
  const std::vector<Range> ranges = resolve(shape);
  std::vector<int64_t> low, high, interior;
  for (size_t d = 0; d < shape.size(); ++d) {
    const Range& r = ranges[d];
    if (r.size == 0) {
      low.push_back(shape[d]);
      high.push_back(0);
      interior.push_back(0);
      continue;
    }
    low.push_back(r.start);
    high.push_back(shape[d] - r.start - (r.size - 1) * r.step - 1);
    interior.push_back(r.step - 1);
  }
  return {ops::pad(*ct[0], low, high, interior)};
}
std::string SliceOp::attributes() const {
  return fmt::format("axes=({}), starts=({}), stops=({}), steps=({})", fmt::join(axes, ","), fmt::join(starts, ","),
                     fmt::join(stops, ","), fmt::join(steps, ","));
}
Cost SliceOp::cost(const OpSignature& sig) const { return copy_cost(sig); }

// ---- Pad ----
std::vector<Shape> PadOp::infer_shapes(std::span<const Shape> in) const {
  check_arity(*this, in.size(), 1);
  const Shape& x = in[0];
  MI_CHECK(low.size() == x.size() && high.size() == x.size() && interior.size() == x.size(), AttributeError,
           "[pad] low ({}), high ({}) and interior ({}) need one entry per dim of input shape {}", fmt::join(low, ","),
           fmt::join(high, ","), fmt::join(interior, ","), shape_str(x));
  Shape out;
  for (size_t d = 0; d < x.size(); ++d) {
    MI_CHECK(low[d] >= 0 && high[d] >= 0 && interior[d] >= 0, AttributeError,
             "[pad] padding must be non-negative: low=({}) high=({}) interior=({})", fmt::join(low, ","),
             fmt::join(high, ","), fmt::join(interior, ","));
    out.push_back(low[d] + x[d] + std::max<int64_t>(x[d] - 1, 0) * interior[d] + high[d]);
  }
  return {out};
}
std::vector<std::optional<Var>> PadOp::vjp(const std::vector<Var>& in, const std::vector<Var>&,
                                           const std::vector<std::optional<Var>>& ct) const {
  // Read back the positions the input was written to.
  const Shape shape = in[0].shape();
  Axes axes;
  std::vector<int64_t> starts, stops, steps;
  for (size_t d = 0; d < shape.size(); ++d) {
    axes.push_back(static_cast<int64_t>(d));
    starts.push_back(low[d]);
    stops.push_back(shape[d] == 0 ? low[d] : low[d] + (shape[d] - 1) * (interior[d] + 1) + 1);
    steps.push_back(interior[d] + 1);
  }
  return {ops::slice(*ct[0], axes, starts, stops, steps)};
}
std::string PadOp::attributes() const {
  return fmt::format("low=({}), high=({}), interior=({}), value={}", fmt::join(low, ","), fmt::join(high, ","),
                     fmt::join(interior, ","), value);
}
Cost PadOp::cost(const OpSignature& sig) const { return io_cost(sig); }

// ---- Concat ----
std::vector<Shape> ConcatOp::infer_shapes(std::span<const Shape> in) const {
  MI_CHECK(!in.empty(), ValueError, "[concat] expects at least 1 input, got 0");
  const auto nd = static_cast<int64_t>(in[0].size());
  MI_CHECK(axis >= 0 && axis < nd, AttributeError, "[concat] axis {} is out of range for inputs of rank {}", axis, nd);
  Shape out = in[0];
  for (size_t i = 1; i < in.size(); ++i) {
    bool match = in[i].size() == in[0].size();
    for (int64_t d = 0; match && d < nd; ++d)
      match = d == axis || in[i][static_cast<size_t>(d)] == in[0][static_cast<size_t>(d)];
    MI_CHECK(match, ShapeError,
             "[concat] input {} has shape {} but input 0 has shape {}: all dims except axis {} must match", i,
             shape_str(in[i]), shape_str(in[0]), axis);
    out[static_cast<size_t>(axis)] += in[i][static_cast<size_t>(axis)];
  }
  return {out};
}
std::vector<std::optional<Var>> ConcatOp::vjp(const std::vector<Var>& in, const std::vector<Var>&,
                                              const std::vector<std::optional<Var>>& ct) const {
  std::vector<int64_t> sizes;
  for (const Var& x : in) sizes.push_back(x.dim(axis));
  const std::vector<Var> pieces = ops::split(*ct[0], sizes, axis);
  return {pieces.begin(), pieces.end()};
}
std::string ConcatOp::attributes() const { return fmt::format("axis={}", axis); }
Cost ConcatOp::cost(const OpSignature& sig) const { return io_cost(sig); }

// ---- Split ----
std::vector<Shape> SplitOp::infer_shapes(std::span<const Shape> in) const {
  check_arity(*this, in.size(), 1);
  const auto nd = static_cast<int64_t>(in[0].size());
  MI_CHECK(axis >= 0 && axis < nd, AttributeError, "[split] axis {} is out of range for input of shape {}", axis,
           shape_str(in[0]));
  MI_CHECK(!sizes.empty(), AttributeError, "[split] needs at least one output size");
  int64_t total = 0;
  std::vector<Shape> out;
  for (int64_t s : sizes) {
    MI_CHECK(s >= 0, AttributeError, "[split] sizes ({}) must be non-negative", fmt::join(sizes, ","));
    total += s;
    out.push_back(in[0]);
    out.back()[static_cast<size_t>(axis)] = s;
  }
  MI_CHECK(total == in[0][static_cast<size_t>(axis)], ShapeError,
           "[split] sizes ({}) add up to {} but axis {} of shape {} has size {}", fmt::join(sizes, ","), total, axis,
           shape_str(in[0]), in[0][static_cast<size_t>(axis)]);
  return out;
}
std::vector<DType> SplitOp::infer_dtypes(std::span<const DType> in) const {
  return std::vector<DType>(sizes.size(), in[0]);
}
std::vector<std::optional<Var>> SplitOp::vjp(const std::vector<Var>&, const std::vector<Var>&,
                                             const std::vector<std::optional<Var>>& ct) const {
  std::vector<Var> pieces;
  for (const auto& c : ct) pieces.push_back(*c);  // autodiff fills missing cotangents with zeros
  return {ops::concat(pieces, axis)};
}
std::string SplitOp::attributes() const { return fmt::format("axis={}, sizes=({})", axis, fmt::join(sizes, ",")); }
Cost SplitOp::cost(const OpSignature& sig) const { return io_cost(sig); }

// ---- Gather ----
std::vector<Shape> GatherOp::infer_shapes(std::span<const Shape> in) const {
  check_arity(*this, in.size(), 2);
  MI_CHECK(axis >= 0 && axis < static_cast<int64_t>(in[0].size()), AttributeError,
           "[gather] axis {} is out of range for input of shape {}", axis, shape_str(in[0]));
  return {gathered_shape(in[0], in[1], axis)};
}
std::vector<DType> GatherOp::infer_dtypes(std::span<const DType> in) const {
  check_index_dtype(*this, in[1]);
  return {in[0]};
}
std::vector<std::optional<Var>> GatherOp::vjp(const std::vector<Var>& in, const std::vector<Var>&,
                                              const std::vector<std::optional<Var>>& ct) const {
  return {ops::scatter_add(*ct[0], in[1], axis, in[0].shape()), std::nullopt};
}
std::string GatherOp::attributes() const { return fmt::format("axis={}", axis); }
Cost GatherOp::cost(const OpSignature& sig) const {
  Cost c = copy_cost(sig);
  c.bytes += bytes_of(sig.input_shapes[1], sig.input_dtypes[1]);
  return c;
}

// ---- ScatterAdd ----
std::vector<Shape> ScatterAddOp::infer_shapes(std::span<const Shape> in) const {
  check_arity(*this, in.size(), 2);
  MI_CHECK(axis >= 0 && axis < static_cast<int64_t>(shape.size()), AttributeError,
           "[scatter_add] axis {} is out of range for output shape {}", axis, shape_str(shape));
  const Shape expected = gathered_shape(shape, in[1], axis);
  MI_CHECK(in[0] == expected, ShapeError,
           "[scatter_add] updates have shape {} but indices of shape {} into {} along axis {} need {}",
           shape_str(in[0]), shape_str(in[1]), shape_str(shape), axis, shape_str(expected));
  return {shape};
}
std::vector<DType> ScatterAddOp::infer_dtypes(std::span<const DType> in) const {
  MI_CHECK(in[0] != DType::b8, DTypeError, "[scatter_add] updates must be numeric, got bool");
  check_index_dtype(*this, in[1]);
  return {in[0]};
}
std::vector<std::optional<Var>> ScatterAddOp::vjp(const std::vector<Var>& in, const std::vector<Var>&,
                                                  const std::vector<std::optional<Var>>& ct) const {
  return {ops::gather(*ct[0], in[1], axis), std::nullopt};
}
std::string ScatterAddOp::attributes() const { return fmt::format("axis={}, shape={}", axis, shape_str(shape)); }
Cost ScatterAddOp::cost(const OpSignature& sig) const {
  Cost c = io_cost(sig);
  c.flops = static_cast<double>(numel(sig.input_shapes[0]));
  return c;
}

// ---- Diagonal ----
std::vector<Shape> DiagonalOp::infer_shapes(std::span<const Shape> in) const {
  check_arity(*this, in.size(), 1);
  const Shape& x = in[0];
  MI_CHECK(x.size() >= 2, ShapeError, "[diagonal] input of shape {} needs at least 2 dims", shape_str(x));
  Shape out(x.begin(), x.end() - 2);
  out.push_back(diagonal_length(x[x.size() - 2], x[x.size() - 1], offset));
  return {out};
}
std::vector<std::optional<Var>> DiagonalOp::vjp(const std::vector<Var>& in, const std::vector<Var>&,
                                                const std::vector<std::optional<Var>>& ct) const {
  const Shape shape = in[0].shape();
  const int64_t rows = shape[shape.size() - 2], cols = shape[shape.size() - 1];
  const int64_t len = diagonal_length(rows, cols, offset);
  if (len == 0) return {ops::broadcast_to(ops::scalar_like(in[0], 0.0), shape)};
  // In a row-major (rows*cols) matrix the diagonal elements sit `cols + 1` apart starting at
  // the first one, so padding with `cols` interior zeros and reshaping places them exactly.
  const int64_t first = (offset < 0 ? -offset * cols : offset);
  const size_t nd = shape.size() - 1;
  std::vector<int64_t> low(nd, 0), high(nd, 0), interior(nd, 0);
  low[nd - 1] = first;
  interior[nd - 1] = cols;
  high[nd - 1] = rows * cols - first - (len - 1) * (cols + 1) - 1;
  return {ops::reshape(ops::pad(*ct[0], low, high, interior), shape)};
}
std::string DiagonalOp::attributes() const { return fmt::format("offset={}", offset); }
Cost DiagonalOp::cost(const OpSignature& sig) const { return copy_cost(sig); }

// ---- Eye ----
std::vector<Shape> EyeOp::infer_shapes(std::span<const Shape> in) const {
  check_arity(*this, in.size(), 0);
  MI_CHECK(n >= 0 && m >= 0, AttributeError, "[eye] n and m must be non-negative, got n={} m={}", n, m);
  return {{n, m}};
}
std::vector<DType> EyeOp::infer_dtypes(std::span<const DType>) const { return {dtype}; }
std::string EyeOp::attributes() const {
  return fmt::format("n={}, m={}, offset={}, dtype={}", n, m, offset, dtype_name(dtype));
}
Cost EyeOp::cost(const OpSignature& sig) const { return io_cost(sig); }
DType EyeOp::dispatch_dtype(std::span<const DType>, std::span<const DType>) const { return dtype; }

// ---- OneHot ----
std::vector<Shape> OneHotOp::infer_shapes(std::span<const Shape> in) const {
  check_arity(*this, in.size(), 1);
  MI_CHECK(num_classes > 0, AttributeError, "[one_hot] num_classes must be positive, got {}", num_classes);
  Shape out = in[0];
  out.push_back(num_classes);
  return {out};
}
std::vector<DType> OneHotOp::infer_dtypes(std::span<const DType> in) const {
  check_index_dtype(*this, in[0]);
  return {dtype};
}
std::string OneHotOp::attributes() const {
  return fmt::format("num_classes={}, dtype={}", num_classes, dtype_name(dtype));
}
Cost OneHotOp::cost(const OpSignature& sig) const { return io_cost(sig); }
DType OneHotOp::dispatch_dtype(std::span<const DType>, std::span<const DType> outputs) const { return outputs[0]; }

namespace ops {

Var cast(const Var& x, DType to) {
  if (x.dtype() == to) return x;
  return x.graph().apply1(std::make_shared<CastOp>(to), {x});
}

Var reshape(const Var& x, Shape shape) {
  shape = resolve_reshape(x.shape(), std::move(shape));
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
  const Shape shape = x.shape();  // one copy: x.shape() returns a fresh vector each call
  const int64_t s = normalize_axis(start_dim, x.ndim(), "flatten");
  const int64_t e = normalize_axis(end_dim, x.ndim(), "flatten");
  MI_CHECK(s <= e, AttributeError, "[flatten] start_dim {} is after end_dim {} for shape {}", start_dim, end_dim,
           shape_str(shape));
  Shape out(shape.begin(), shape.begin() + s);
  int64_t merged = 1;
  for (int64_t i = s; i <= e; ++i) merged *= shape[static_cast<size_t>(i)];
  out.push_back(merged);
  out.insert(out.end(), shape.begin() + e + 1, shape.end());
  return reshape(x, out);
}

Var squeeze(const Var& x, int64_t axis) {
  const auto a = static_cast<size_t>(normalize_axis(axis, x.ndim(), "squeeze"));
  MI_CHECK(x.shape()[a] == 1, ShapeError, "[squeeze] axis {} of shape {} has size {}, not 1", axis,
           shape_str(x.shape()), x.shape()[a]);
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

Var slice(const Var& x, int64_t axis, int64_t start, int64_t stop, int64_t step) {
  return slice(x, Axes{axis}, {start}, {stop}, {step});
}

Var slice(const Var& x, const Axes& axes, const std::vector<int64_t>& starts, const std::vector<int64_t>& stops,
          const std::vector<int64_t>& steps) {
  const std::vector<int64_t> st = steps.empty() ? std::vector<int64_t>(axes.size(), 1) : steps;
  const Shape shape = x.shape();
  const std::vector<SliceOp::Range> ranges = SliceOp(axes, starts, stops, st).resolve(shape);
  // Canonical attributes (resolved, one entry per sliced dim) so equal slices compare equal.
  Axes a;
  std::vector<int64_t> b, e, s;
  for (size_t d = 0; d < shape.size(); ++d) {
    const SliceOp::Range& r = ranges[d];
    if (r.start == 0 && r.size == shape[d]) continue;  // takes the whole dim
    a.push_back(static_cast<int64_t>(d));
    b.push_back(r.start);
    e.push_back(r.size == 0 ? r.start : r.start + (r.size - 1) * r.step + 1);
    s.push_back(r.size > 1 ? r.step : 1);
  }
  if (a.empty()) return x;
  return x.graph().apply1(std::make_shared<SliceOp>(std::move(a), std::move(b), std::move(e), std::move(s)), {x});
}

Var pad(const Var& x, const std::vector<int64_t>& low, const std::vector<int64_t>& high,
        const std::vector<int64_t>& interior, double value) {
  const auto nd = static_cast<size_t>(x.ndim());
  const std::vector<int64_t> in = interior.empty() ? std::vector<int64_t>(nd, 0) : interior;
  auto zero = [](const std::vector<int64_t>& v) {
    return std::all_of(v.begin(), v.end(), [](int64_t p) { return p == 0; });
  };
  if (low.size() == nd && high.size() == nd && in.size() == nd && zero(low) && zero(high) && zero(in)) return x;
  return x.graph().apply1(std::make_shared<PadOp>(low, high, in, value), {x});
}

Var concat(const std::vector<Var>& xs, int64_t axis) {
  MI_CHECK(!xs.empty(), ValueError, "[concat] expects at least 1 input, got 0");
  const int64_t a = normalize_axis(axis, xs[0].ndim(), "concat");
  if (xs.size() == 1) return xs[0];
  return xs[0].graph().apply1(std::make_shared<ConcatOp>(a), xs);
}

std::vector<Var> split(const Var& x, const std::vector<int64_t>& sizes, int64_t axis) {
  return x.graph().apply(std::make_shared<SplitOp>(normalize_axis(axis, x.ndim(), "split"), sizes), {x});
}

Var gather(const Var& x, const Var& indices, int64_t axis) {
  return x.graph().apply1(std::make_shared<GatherOp>(normalize_axis(axis, x.ndim(), "gather")), {x, indices});
}

Var scatter_add(const Var& updates, const Var& indices, int64_t axis, const Shape& shape) {
  const int64_t a = normalize_axis(axis, static_cast<int64_t>(shape.size()), "scatter_add");
  return updates.graph().apply1(std::make_shared<ScatterAddOp>(a, shape), {updates, indices});
}

Var embedding(const Var& indices, const Var& weight) { return gather(weight, indices, 0); }

Var diagonal(const Var& x, int64_t offset) { return x.graph().apply1(std::make_shared<DiagonalOp>(offset), {x}); }

Var eye(Graph& graph, int64_t n, int64_t m, int64_t offset, DType dtype) {
  return graph.apply1(std::make_shared<EyeOp>(n, m, offset, dtype), {});
}

Var one_hot(const Var& indices, int64_t num_classes, DType dtype) {
  return indices.graph().apply1(std::make_shared<OneHotOp>(num_classes, dtype), {indices});
}

}  // namespace ops
}  // namespace mithril
