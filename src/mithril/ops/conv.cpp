#include "mithril/ops/conv.h"

#include <algorithm>

#include "mithril/core/error.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/shape.h"

namespace mithril {
namespace {

// One row per op of the conv family, in ops.def order: the number of spatial axes its windows
// slide over, and whether the pooling input is an operand (MaxPool2dBackward takes (grad_out,
// input)) rather than the `input_shape` attribute. The gradient rules are the structs' vjp below.
struct ConvTraits {
  OpKind kind;
  int spatial_dims;
  bool input_operand = false;
};
constexpr ConvTraits kConvTraits[] = {
    {OpKind::Conv1d, 1},
    {OpKind::Conv2d, 2},
    {OpKind::Conv2dBackwardInput, 2},
    {OpKind::Conv2dBackwardWeight, 2},
    {OpKind::MaxPool1d, 1},
    {OpKind::MaxPool2d, 2},
    {OpKind::MaxPool2dBackward, 2, true},
    {OpKind::AvgPool2d, 2},
    {OpKind::AvgPool2dBackward, 2},
};
static_assert(declares_family(kConvTraits, "conv"), "kConvTraits needs one row per conv op, in ops.def order");

const ConvTraits& conv_traits(OpKind kind) {
  const ConvTraits* t = find_row(kConvTraits, kind);
  MI_ASSERT(t != nullptr);
  return *t;
}

// 1-D ops hold their parameters as an H = 1 2-D op; messages show only the `nd` spatial
// entries the user gave.
Shape last(const std::array<int64_t, 2>& v, int nd) { return nd == 2 ? Shape{v[0], v[1]} : Shape{v[1]}; }
Shape pads(const std::array<int64_t, 4>& v, int nd) {
  return nd == 2 ? Shape{v[0], v[1], v[2], v[3]} : Shape{v[2], v[3]};
}
bool all_positive(const Shape& s) {
  return std::all_of(s.begin(), s.end(), [](int64_t v) { return v > 0; });
}
bool all_non_negative(const Shape& s) {
  return std::all_of(s.begin(), s.end(), [](int64_t v) { return v >= 0; });
}

// Sliding-window output sizes over the last `nd` axes of `input` for a kernel of `kernel`.
Shape window_output(std::string_view op, int nd, const Shape& input, const Shape& kernel,
                    const std::array<int64_t, 2>& stride, const std::array<int64_t, 4>& padding,
                    const std::array<int64_t, 2>& dilation) {
  MI_CHECK(all_positive(last(stride, nd)), AttributeError, "[{}] stride must be positive, got {}", op,
           shape_str(last(stride, nd)));
  MI_CHECK(all_positive(last(dilation, nd)), AttributeError, "[{}] dilation must be positive, got {}", op,
           shape_str(last(dilation, nd)));
  MI_CHECK(all_non_negative(pads(padding, nd)), AttributeError, "[{}] padding must be non-negative, got {}", op,
           shape_str(pads(padding, nd)));
  Shape padded, span, out;
  for (int a = 2 - nd; a < 2; ++a) {
    const int64_t in = input[input.size() - 2 + static_cast<size_t>(a)];
    const int64_t k = kernel[kernel.size() - 2 + static_cast<size_t>(a)];
    padded.push_back(in + padding[static_cast<size_t>(2 * a)] + padding[static_cast<size_t>(2 * a + 1)]);
    span.push_back(dilation[static_cast<size_t>(a)] * (k - 1) + 1);
    out.push_back((padded.back() - span.back()) / stride[static_cast<size_t>(a)] + 1);
  }
  for (size_t i = 0; i < out.size(); ++i)
    MI_CHECK(span[i] <= padded[i], ShapeError, "[{}] dilated kernel {} is larger than padded input {}", op,
             shape_str(span), shape_str(padded));
  return out;
}

// The output shape of a convolution with `nd` spatial axes (1: NCW, 2: NCHW); `p` holds the
// parameters in 2-D form.
Shape conv_output(std::string_view op, int nd, const Conv2dParams& p, const Shape& input, const Shape& weight) {
  const size_t rank = static_cast<size_t>(nd) + 2;
  MI_CHECK(input.size() == rank, ShapeError, "[{}] input must be {}-D {}, got {}", op, rank,
           nd == 2 ? "(N, C_in, H, W)" : "(N, C_in, W)", shape_str(input));
  MI_CHECK(weight.size() == rank, ShapeError, "[{}] weight must be {}-D {}, got {}", op, rank,
           nd == 2 ? "(C_out, C_in/groups, KH, KW)" : "(C_out, C_in/groups, K)", shape_str(weight));
  MI_CHECK(p.groups > 0, AttributeError, "[{}] groups must be positive, got {}", op, p.groups);
  MI_CHECK(all_positive(Shape(weight.begin() + 2, weight.end())), ShapeError,
           "[{}] kernel dims must be positive, got weight {}", op, shape_str(weight));
  const int64_t c_in = input[1], c_out = weight[0];
  MI_CHECK(c_in % p.groups == 0, ShapeError, "[{}] groups={} does not divide input channels {}", op, p.groups, c_in);
  MI_CHECK(c_out % p.groups == 0, ShapeError, "[{}] groups={} does not divide output channels {}", op, p.groups, c_out);
  MI_CHECK(weight[1] * p.groups == c_in, ShapeError,
           "[{}] channel mismatch: input {} has {} channels but weight {} with groups={} expects {}", op,
           shape_str(input), c_in, shape_str(weight), p.groups, weight[1] * p.groups);
  // In 2-D form the 1-D shapes gain H = 1 through `last`/`pads`, which only read the W entries.
  const Shape in2 = nd == 2 ? input : Shape{input[0], input[1], 1, input[2]};
  const Shape w2 = nd == 2 ? weight : Shape{weight[0], weight[1], 1, weight[2]};
  Shape out{input[0], c_out};
  const Shape spatial = window_output(op, nd, in2, w2, p.stride, p.padding, p.dilation);
  out.insert(out.end(), spatial.begin(), spatial.end());
  return out;
}

std::string conv_attributes(int nd, const Conv2dParams& p) {
  return fmt::format("stride={}, padding={}, dilation={}, groups={}", shape_str(last(p.stride, nd)),
                     shape_str(pads(p.padding, nd)), shape_str(last(p.dilation, nd)), p.groups);
}

std::vector<DType> float_pair(const Op& op, std::span<const DType> in, const char* first, const char* second) {
  check_arity(op, in.size(), 2);
  MI_CHECK(in[0] == in[1], DTypeError, "[{}] dtype mismatch: {} is {} but {} is {}", op.name(), first,
           dtype_name(in[0]), second, dtype_name(in[1]));
  MI_CHECK(is_float(in[0]), DTypeError, "[{}] needs floating-point inputs, got {}", op.name(), dtype_name(in[0]));
  return {in[0]};
}

// 2 multiply-adds per output element per weight element of one output channel.
Cost conv_cost(const Op& op, const OpSignature& sig, const Shape& out, const Shape& weight) {
  Cost c = op.Op::cost(sig);
  c.flops = 2.0 * static_cast<double>(numel(out)) * static_cast<double>(numel(weight) / weight[0]);
  return c;
}

void check_grad_out(std::string_view op, const Conv2dParams& p, const Shape& input, const Shape& weight,
                    const Shape& grad_out) {
  const Shape expected = conv_output(op, 2, p, input, weight);
  MI_CHECK(grad_out == expected, ShapeError, "[{}] grad_out has shape {} but conv2d of input {} and weight {} gives {}",
           op, shape_str(grad_out), shape_str(input), shape_str(weight), shape_str(expected));
}

// The output shape of pooling over the last `nd` axes of `input` (p in 2-D form).
Shape pool_output(std::string_view op, int nd, const Pool2dParams& p, const Shape& input) {
  MI_CHECK(static_cast<int>(input.size()) >= nd, ShapeError, "[{}] input must have at least {} dim{}, got {}", op, nd,
           nd == 1 ? "" : "s", shape_str(input));
  MI_CHECK(all_positive(last(p.kernel, nd)), AttributeError, "[{}] kernel must be positive, got {}", op,
           shape_str(last(p.kernel, nd)));
  Shape in2 = input;
  if (nd == 1) in2.insert(in2.end() - 1, 1);
  const Shape spatial = window_output(op, nd, in2, Shape{p.kernel[0], p.kernel[1]}, p.stride, p.padding, p.dilation);
  Shape out(input.begin(), input.end() - nd);
  out.insert(out.end(), spatial.begin(), spatial.end());
  return out;
}

std::string pool_attributes(int nd, const Pool2dParams& p) {
  return fmt::format("kernel={}, stride={}, padding={}, dilation={}", shape_str(last(p.kernel, nd)),
                     shape_str(last(p.stride, nd)), shape_str(pads(p.padding, nd)), shape_str(last(p.dilation, nd)));
}

DType pool_dtype(std::string_view op, DType t) {
  MI_CHECK(is_float(t), DTypeError, "[{}] needs a floating-point input, got {}", op, dtype_name(t));
  return t;
}

Cost pool_cost(const Op& op, const OpSignature& sig, const Shape& pooled, const Pool2dParams& p) {
  Cost c = op.Op::cost(sig);
  c.flops = static_cast<double>(numel(pooled) * p.kernel[0] * p.kernel[1]);
  return c;
}

Pool2dParams resolve_stride(Pool2dParams p) {
  for (size_t a = 0; a < 2; ++a)
    if (p.stride[a] == 0) p.stride[a] = p.kernel[a];
  return p;
}

}  // namespace

Conv2dParams Conv1dParams::as_2d() const {
  return {{1, stride}, {0, 0, padding[0], padding[1]}, {1, dilation}, groups};
}

Pool2dParams Pool1dParams::as_2d() const {
  return {{1, kernel}, {1, stride}, {0, 0, padding[0], padding[1]}, {1, dilation}};
}

// ---- Conv2d ----
std::vector<Shape> Conv2dOp::infer_shapes(std::span<const Shape> in) const {
  check_arity(*this, in.size(), 2);
  return {conv_output(name(), conv_traits(kind()).spatial_dims, params, in[0], in[1])};
}
std::vector<DType> Conv2dOp::infer_dtypes(std::span<const DType> in) const {
  return float_pair(*this, in, "input", "weight");
}
std::vector<std::optional<Var>> Conv2dOp::vjp(const std::vector<Var>& in, const std::vector<Var>&,
                                              const std::vector<std::optional<Var>>& ct) const {
  const Var& g = *ct[0];
  return {ops::conv2d_backward_input(g, in[1], params, in[0].shape()),
          ops::conv2d_backward_weight(g, in[0], params, in[1].shape())};
}
std::string Conv2dOp::attributes() const { return conv_attributes(conv_traits(kind()).spatial_dims, params); }
Cost Conv2dOp::cost(const OpSignature& sig) const {
  return conv_cost(*this, sig, sig.output_shapes[0], sig.input_shapes[1]);
}

// ---- Conv1d ----
std::vector<Shape> Conv1dOp::infer_shapes(std::span<const Shape> in) const {
  check_arity(*this, in.size(), 2);
  return {conv_output(name(), conv_traits(kind()).spatial_dims, params.as_2d(), in[0], in[1])};
}
std::vector<DType> Conv1dOp::infer_dtypes(std::span<const DType> in) const {
  return float_pair(*this, in, "input", "weight");
}
std::vector<std::optional<Var>> Conv1dOp::vjp(const std::vector<Var>& in, const std::vector<Var>&,
                                              const std::vector<std::optional<Var>>& ct) const {
  // The same convolution over H = 1 images: (N, C, W) -> (N, C, 1, W).
  const auto as_image = [](const Var& v) { return ops::unsqueeze(v, 2); };
  const Var x = as_image(in[0]), w = as_image(in[1]), g = as_image(*ct[0]);
  const Conv2dParams p = params.as_2d();
  return {ops::squeeze(ops::conv2d_backward_input(g, w, p, x.shape()), 2),
          ops::squeeze(ops::conv2d_backward_weight(g, x, p, w.shape()), 2)};
}
std::string Conv1dOp::attributes() const {
  return conv_attributes(conv_traits(kind()).spatial_dims, params.as_2d());
}
Cost Conv1dOp::cost(const OpSignature& sig) const {
  return conv_cost(*this, sig, sig.output_shapes[0], sig.input_shapes[1]);
}

// ---- Conv2dBackwardInput: (grad_out, weight) ----
std::vector<Shape> Conv2dBackwardInputOp::infer_shapes(std::span<const Shape> in) const {
  check_arity(*this, in.size(), 2);
  check_grad_out(name(), params, input_shape, in[1], in[0]);
  return {input_shape};
}
std::vector<DType> Conv2dBackwardInputOp::infer_dtypes(std::span<const DType> in) const {
  return float_pair(*this, in, "grad_out", "weight");
}
std::vector<std::optional<Var>> Conv2dBackwardInputOp::vjp(const std::vector<Var>& in, const std::vector<Var>&,
                                                           const std::vector<std::optional<Var>>& ct) const {
  // grad_input = J_x^T grad_out is bilinear: <grad_input, c> = <grad_out, conv2d(c, weight)>.
  const Var& c = *ct[0];
  return {ops::conv2d(c, in[1], params), ops::conv2d_backward_weight(in[0], c, params, in[1].shape())};
}
std::string Conv2dBackwardInputOp::attributes() const {
  return fmt::format("{}, input_shape={}", conv_attributes(2, params), shape_str(input_shape));
}
Cost Conv2dBackwardInputOp::cost(const OpSignature& sig) const {
  return conv_cost(*this, sig, sig.input_shapes[0], sig.input_shapes[1]);
}

// ---- Conv2dBackwardWeight: (grad_out, input) ----
std::vector<Shape> Conv2dBackwardWeightOp::infer_shapes(std::span<const Shape> in) const {
  check_arity(*this, in.size(), 2);
  check_grad_out(name(), params, in[1], weight_shape, in[0]);
  return {weight_shape};
}
std::vector<DType> Conv2dBackwardWeightOp::infer_dtypes(std::span<const DType> in) const {
  return float_pair(*this, in, "grad_out", "input");
}
std::vector<std::optional<Var>> Conv2dBackwardWeightOp::vjp(const std::vector<Var>& in, const std::vector<Var>&,
                                                            const std::vector<std::optional<Var>>& ct) const {
  // grad_weight = J_w^T grad_out is bilinear: <grad_weight, c> = <grad_out, conv2d(input, c)>.
  const Var& c = *ct[0];
  return {ops::conv2d(in[1], c, params), ops::conv2d_backward_input(in[0], c, params, in[1].shape())};
}
std::string Conv2dBackwardWeightOp::attributes() const {
  return fmt::format("{}, weight_shape={}", conv_attributes(2, params), shape_str(weight_shape));
}
Cost Conv2dBackwardWeightOp::cost(const OpSignature& sig) const {
  return conv_cost(*this, sig, sig.input_shapes[0], sig.output_shapes[0]);
}

// ---- MaxPool1d / MaxPool2d / AvgPool2d ----
std::vector<Shape> PoolOp::infer_shapes(std::span<const Shape> in) const {
  check_arity(*this, in.size(), 1);
  return {pool_output(name(), conv_traits(kind()).spatial_dims, params, in[0])};
}
std::vector<DType> PoolOp::infer_dtypes(std::span<const DType> in) const {
  check_arity(*this, in.size(), 1);
  return {pool_dtype(name(), in[0])};
}
std::vector<std::optional<Var>> PoolOp::vjp(const std::vector<Var>& in, const std::vector<Var>&,
                                            const std::vector<std::optional<Var>>& ct) const {
  const Var& x = in[0];
  const Var& g = *ct[0];
  switch (kind()) {
    case OpKind::MaxPool2d:
      return {ops::max_pool2d_backward(g, x, params)};
    case OpKind::AvgPool2d:
      return {ops::avg_pool2d_backward(g, params, x.shape())};
    default: {
      // MaxPool1d: the 2-D rule over [..., 1, W].
      const Var gx = ops::max_pool2d_backward(ops::unsqueeze(g, -2), ops::unsqueeze(x, -2), params);
      return {ops::squeeze(gx, -2)};
    }
  }
}
std::string PoolOp::attributes() const { return pool_attributes(conv_traits(kind()).spatial_dims, params); }
Cost PoolOp::cost(const OpSignature& sig) const { return pool_cost(*this, sig, sig.output_shapes[0], params); }

// ---- MaxPool2dBackward (grad_out, input) / AvgPool2dBackward (grad_out) ----
std::vector<Shape> PoolBackwardOp::infer_shapes(std::span<const Shape> in) const {
  const bool input_operand = conv_traits(kind()).input_operand;
  check_arity(*this, in.size(), input_operand ? 2 : 1);
  const Shape& input = input_operand ? in[1] : input_shape;
  const Shape expected = pool_output(name(), 2, params, input);
  MI_CHECK(in[0] == expected, ShapeError, "[{}] grad_out has shape {} but pooling input {} gives {}", name(),
           shape_str(in[0]), shape_str(input), shape_str(expected));
  return {input};
}
std::vector<DType> PoolBackwardOp::infer_dtypes(std::span<const DType> in) const {
  if (conv_traits(kind()).input_operand) return float_pair(*this, in, "grad_out", "input");
  check_arity(*this, in.size(), 1);
  return {pool_dtype(name(), in[0])};
}
std::vector<std::optional<Var>> PoolBackwardOp::vjp(const std::vector<Var>& in, const std::vector<Var>& out,
                                                    const std::vector<std::optional<Var>>& ct) const {
  // AvgPool2dBackward is the transpose of the (linear) average pooling, so its own transpose is
  // average pooling again. MaxPool2dBackward is not differentiable (ops.def).
  if (kind() != OpKind::AvgPool2dBackward) return Op::vjp(in, out, ct);
  return {ops::avg_pool2d(*ct[0], params)};
}
std::string PoolBackwardOp::attributes() const {
  if (conv_traits(kind()).input_operand) return pool_attributes(2, params);
  return fmt::format("{}, input_shape={}", pool_attributes(2, params), shape_str(input_shape));
}
Cost PoolBackwardOp::cost(const OpSignature& sig) const { return pool_cost(*this, sig, sig.input_shapes[0], params); }

namespace ops {

Var conv2d(const Var& input, const Var& weight, const Conv2dParams& p) {
  auto [x, w] = promote_operands(input, weight);
  return input.graph().apply1(std::make_shared<Conv2dOp>(p), {x, w});
}
Var conv1d(const Var& input, const Var& weight, const Conv1dParams& p) {
  auto [x, w] = promote_operands(input, weight);
  return input.graph().apply1(std::make_shared<Conv1dOp>(p), {x, w});
}
Var conv2d_backward_input(const Var& grad_out, const Var& weight, const Conv2dParams& p, const Shape& input_shape) {
  auto [g, w] = promote_operands(grad_out, weight);
  return grad_out.graph().apply1(std::make_shared<Conv2dBackwardInputOp>(p, input_shape), {g, w});
}
Var conv2d_backward_weight(const Var& grad_out, const Var& input, const Conv2dParams& p, const Shape& weight_shape) {
  auto [g, x] = promote_operands(grad_out, input);
  return grad_out.graph().apply1(std::make_shared<Conv2dBackwardWeightOp>(p, weight_shape), {g, x});
}

Var max_pool2d(const Var& input, const Pool2dParams& p) {
  return input.graph().apply1(std::make_shared<PoolOp>(OpKind::MaxPool2d, resolve_stride(p)), {input});
}
Var max_pool1d(const Var& input, const Pool1dParams& p) {
  return input.graph().apply1(std::make_shared<PoolOp>(OpKind::MaxPool1d, resolve_stride(p.as_2d())), {input});
}
Var avg_pool2d(const Var& input, const Pool2dParams& p) {
  return input.graph().apply1(std::make_shared<PoolOp>(OpKind::AvgPool2d, resolve_stride(p)), {input});
}
Var max_pool2d_backward(const Var& grad_out, const Var& input, const Pool2dParams& p) {
  auto [g, x] = promote_operands(grad_out, input);
  return grad_out.graph().apply1(
      std::make_shared<PoolBackwardOp>(OpKind::MaxPool2dBackward, resolve_stride(p), Shape{}), {g, x});
}
Var avg_pool2d_backward(const Var& grad_out, const Pool2dParams& p, const Shape& input_shape) {
  return grad_out.graph().apply1(
      std::make_shared<PoolBackwardOp>(OpKind::AvgPool2dBackward, resolve_stride(p), input_shape), {grad_out});
}

}  // namespace ops
}  // namespace mithril
