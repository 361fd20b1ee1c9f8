// Reference kernels for the reduction family. A reduction gathers, for every output element,
// the input elements folded into it (in row-major order of the reduced axes) and folds that
// list in float64; ops along one axis (cumsum, softmax, log_softmax) work on each line along it.
#include <algorithm>
#include <cmath>

#include "mithril/backends/reference/kernels.h"
#include "mithril/backends/reference/loops.h"
#include "mithril/core/error.h"
#include "mithril/ops/reduce.h"

namespace mithril::reference {
namespace {

// groups[o] = the input values reduced into output element o, in row-major input order.
std::vector<std::vector<double>> reduction_groups(const Tensor& in, const Axes& axes) {
  const Shape& shape = in.shape();
  std::vector<bool> reduced(shape.size(), false);
  for (int64_t a : axes) reduced[static_cast<size_t>(a)] = true;
  Shape kept;
  for (size_t d = 0; d < shape.size(); ++d)
    if (!reduced[d]) kept.push_back(shape[d]);
  std::vector<std::vector<double>> groups(static_cast<size_t>(numel(kept)));
  const std::vector<double> x = read(in);
  for_each_index(shape, [&](const Index& idx, int64_t i) {
    Index k;
    for (size_t d = 0; d < shape.size(); ++d)
      if (!reduced[d]) k.push_back(idx[d]);
    groups[static_cast<size_t>(ravel(k, kept))].push_back(x[static_cast<size_t>(i)]);
  });
  return groups;
}

double sum(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s;
}

double mean(const std::vector<double>& v) { return sum(v) / static_cast<double>(v.size()); }

// max (min) that propagates NaN: the first NaN seen is the result.
double extremum(const std::vector<double>& v, bool max) {
  double m = max ? -kInf : kInf;
  for (double x : v) {
    if (std::isnan(x)) return x;
    if (max ? x > m : x < m) m = x;
  }
  return m;
}

// Index of the first extremum; the first NaN wins.
double arg_extremum(const std::vector<double>& v, bool max) {
  size_t best = 0;
  for (size_t k = 0; k < v.size(); ++k) {
    if (std::isnan(v[k])) return static_cast<double>(k);
    if (max ? v[k] > v[best] : v[k] < v[best]) best = k;
  }
  return static_cast<double>(best);
}

// The shift of a log-sum-exp: the maximum, or 0 when it is not finite (all -inf stays -inf,
// any +inf gives +inf, instead of inf - inf).
double lse_shift(const std::vector<double>& v) {
  double m = -kInf;
  for (double x : v) m = std::max(m, x);
  return std::isfinite(m) ? m : 0.0;
}

double logsumexp(const std::vector<double>& v) {
  const double m = lse_shift(v);
  double s = 0;
  for (double x : v) s += std::exp(x - m);
  return m + std::log(s);
}

double fold(const ReduceOp& op, const std::vector<double>& v) {
  switch (op.kind()) {
    case OpKind::Sum: return sum(v);
    case OpKind::Mean: return mean(v);
    case OpKind::Max: return extremum(v, true);
    case OpKind::Min: return extremum(v, false);
    case OpKind::Prod: {
      double p = 1;
      for (double x : v) p *= x;
      return p;
    }
    case OpKind::Variance: {
      const double m = mean(v);
      double s = 0;
      for (double x : v) s += (x - m) * (x - m);
      return s / (static_cast<double>(v.size()) - op.correction);
    }
    case OpKind::LogSumExp: return logsumexp(v);
    case OpKind::ArgMax: return arg_extremum(v, true);
    case OpKind::ArgMin: return arg_extremum(v, false);
    default: MI_THROW(KernelError, "[{}] is not a reduction of the reference backend", op.name());
  }
}

void reduce_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const auto& rop = static_cast<const ReduceOp&>(op);
  const auto groups = reduction_groups(in[0], rop.axes);
  std::vector<double> r(groups.size());
  for (size_t o = 0; o < groups.size(); ++o) r[o] = fold(rop, groups[o]);
  write(out[0], r);
}

// Ops along one axis: each line (outer, ., inner) is transformed as a whole.
void axis_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const int64_t axis = static_cast<const AxisOp&>(op).axis;
  const Shape& shape = in[0].shape();
  const int64_t n = shape[static_cast<size_t>(axis)];
  const int64_t inner = row_major_strides(shape)[static_cast<size_t>(axis)];
  const int64_t outer = n * inner == 0 ? 0 : numel(shape) / (n * inner);
  const std::vector<double> x = read(in[0]);
  std::vector<double> y(x.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t k) { return static_cast<size_t>((o * n + k) * inner + i); };
      std::vector<double> line;
      for (int64_t k = 0; k < n; ++k) line.push_back(x[at(k)]);
      if (op.kind() == OpKind::CumSum) {
        double s = 0;
        for (int64_t k = 0; k < n; ++k) y[at(k)] = s += line[static_cast<size_t>(k)];
        continue;
      }
      const double m = lse_shift(line);
      double s = 0;
      for (double v : line) s += std::exp(v - m);
      for (int64_t k = 0; k < n; ++k) {
        const double v = line[static_cast<size_t>(k)];
        y[at(k)] = op.kind() == OpKind::Softmax ? std::exp(v - m) / s : (v - m) - std::log(s);
      }
    }
  write(out[0], y);
}

}  // namespace

void register_reduce_kernels(KernelTable& t) {
  const auto numeric = {DType::f64, DType::f32, DType::f16, DType::bf16, DType::i32, DType::i64};
  const auto floating = {DType::f64, DType::f32, DType::f16, DType::bf16};
  for (OpKind k : {OpKind::Sum, OpKind::Prod, OpKind::Max, OpKind::Min, OpKind::ArgMax, OpKind::ArgMin})
    add_for_dtypes(t, k, numeric, reduce_kernel, op_name(k).data());
  for (OpKind k : {OpKind::Mean, OpKind::Variance, OpKind::LogSumExp})
    add_for_dtypes(t, k, floating, reduce_kernel, op_name(k).data());
  add_for_dtypes(t, OpKind::CumSum, numeric, axis_kernel, "cumsum");
  for (OpKind k : {OpKind::Softmax, OpKind::LogSoftmax}) add_for_dtypes(t, k, floating, axis_kernel, op_name(k).data());
}

}  // namespace mithril::reference
