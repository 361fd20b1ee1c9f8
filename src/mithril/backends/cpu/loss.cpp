// CPU kernels for the loss family. The formulas follow Mithril's NumPy backend operation by
// operation (so float64 results agree to the last bits); cross entropy on logits shifts each
// row by its maximum before exponentiating, and binary cross entropy on logits uses
// logsigmoid(x) = min(0, x) - log1p(exp(-|x|)), so neither overflows.
#include <algorithm>
#include <cmath>
#include <vector>

#include "mithril/backends/cpu/loops.h"
#include "mithril/backends/cpu/registry.h"
#include "mithril/core/error.h"
#include "mithril/ops/loss.h"
#include "mithril/ops/unary.h"

namespace mithril::cpu {
namespace {

// Mithril's robust log: ln|x| at or above the threshold, continued linearly below it. `thr` is
// the threshold as applied in T (effective_threshold), as in the unary Log kernel.
template <typename T>
T robust_log(T x, T thr) {
  const T a = std::abs(x);
  return a >= thr ? std::log(a) : std::log(thr) + a / thr - T(1);
}

template <typename T>
T log_of(T x, bool robust, T thr) {
  return robust ? robust_log(x, thr) : std::log(x);
}

template <typename T>
T threshold_in(double threshold) {
  return static_cast<T>(effective_threshold(threshold, dtype_of_v<T>));
}

template <typename T>
void elementwise_loss_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const auto& lop = static_cast<const ElementwiseLossOp&>(op);
  const Tensor& x = in[0];
  const Tensor& t = in[1];
  Tensor& o = out[0];
  switch (op.kind()) {
    case OpKind::SquaredError:
      map_binary<T, T, T>(x, t, o, [](T a, T b) {
        const T d = a - b;
        return d * d;
      });
      break;
    case OpKind::AbsoluteError: map_binary<T, T, T>(x, t, o, [](T a, T b) { return std::abs(a - b); }); break;
    case OpKind::HingeLoss:
      map_binary<T, T, T>(x, t, o, [](T a, T b) { return std::max(T(0), T(1) - b * a); });
      break;
    case OpKind::QuadHingeLoss:
      map_binary<T, T, T>(x, t, o, [](T a, T b) {
        const T h = std::max(T(0), T(1) - b * a);
        return h * h;
      });
      break;
    case OpKind::QuantileLoss: {
      const T q = static_cast<T>(lop.quantile);
      map_binary<T, T, T>(x, t, o, [q](T a, T b) {
        const T e = b - a;
        return std::max(q * e, (q - T(1)) * e);
      });
      break;
    }
    case OpKind::KLDivergence: {
      const T thr = threshold_in<T>(lop.threshold);
      map_binary<T, T, T>(x, t, o, [thr](T a, T b) { return b * (robust_log(b, thr) - robust_log(a, thr)); });
      break;
    }
    default: MI_THROW(KernelError, "[{}] is not an elementwise loss", op.name());
  }
}

// Input rows along the class axis: element c of row r (r = outer * inner + i) is at
// x[row_base(r) + c * inner].
struct ClassRows {
  int64_t rows, classes, inner;
  int64_t base(int64_t r) const { return (r / inner) * classes * inner + r % inner; }
};

template <typename T>
struct Shifted {  // a row's maximum and log(sum(exp(x - max)))
  T max, log_norm;
};
template <typename T>
Shifted<T> shift_row(const T* row, const ClassRows& v) {
  T m = row[0];
  for (int64_t c = 1; c < v.classes; ++c) m = std::max(m, row[c * v.inner]);
  T s = T(0);
  for (int64_t c = 0; c < v.classes; ++c) s += std::exp(row[c * v.inner] - m);
  return {m, std::log(s)};
}

template <typename T, typename I>
void categorical_cross_entropy(const CrossEntropyOp& op, const ClassRows& v, const T* x, const I* target,
                               const std::vector<T>& w, T* out) {
  // Validated up front: throwing from inside the parallel region would leave a partial output.
  for (int64_t r = 0; r < v.rows; ++r)
    MI_CHECK(target[r] >= 0 && target[r] < v.classes, ValueError,
             "[cross_entropy] class index {} out of range for {} classes", target[r], v.classes);
  const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(v.classes, 1));
  const T thr = threshold_in<T>(op.threshold);
  parallel_for(0, v.rows, grain, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const T* row = x + v.base(r);
      const auto k = static_cast<int64_t>(target[r]);
      const T xk = row[k * v.inner];
      switch (op.input_type) {
        case LossInputType::logits: {
          const Shifted<T> s = shift_row(row, v);
          out[r] = (s.log_norm - (xk - s.max)) * w[static_cast<size_t>(k)];
          break;
        }
        case LossInputType::probs: out[r] = -log_of(xk, op.robust, thr) * w[static_cast<size_t>(k)]; break;
        case LossInputType::log_probs: out[r] = -xk * w[static_cast<size_t>(k)]; break;
      }
    }
  });
}

template <typename T>
void distribution_cross_entropy(const CrossEntropyOp& op, const ClassRows& v, const T* x, const T* target,
                                const std::vector<T>& w, T* out) {
  const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(v.classes, 1));
  const T thr = threshold_in<T>(op.threshold);
  parallel_for(0, v.rows, grain, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const int64_t base = v.base(r);
      const T* row = x + base;
      const T* t = target + base;
      T acc = T(0);
      if (op.input_type == LossInputType::logits) {
        // -sum t * log_softmax(x) * w, with log_softmax = (x - max) - log_norm.
        const Shifted<T> s = shift_row(row, v);
        for (int64_t c = 0; c < v.classes; ++c)
          acc += t[c * v.inner] * (s.log_norm - (row[c * v.inner] - s.max)) * w[static_cast<size_t>(c)];
        out[r] = acc;
        continue;
      }
      for (int64_t c = 0; c < v.classes; ++c) {
        const T xc = row[c * v.inner];
        const T lc = op.input_type == LossInputType::probs ? log_of(xc, op.robust, thr) : xc;
        acc += t[c * v.inner] * lc * w[static_cast<size_t>(c)];
      }
      out[r] = -acc;
    }
  });
}

template <typename T>
void cross_entropy_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const auto& ce = static_cast<const CrossEntropyOp&>(op);
  const AxisView av = make_axis_view(in[0].shape(), 1);
  const ClassRows v{av.outer * av.inner, av.n, av.inner};
  std::vector<T> w(static_cast<size_t>(v.classes), T(1));
  for (size_t c = 0; c < ce.weights.size(); ++c) w[c] = static_cast<T>(ce.weights[c]);
  const T* x = in[0].data<T>();
  T* o = out[0].data<T>();
  if (!ce.categorical) {
    distribution_cross_entropy(ce, v, x, in[1].data<T>(), w, o);
  } else if (in[1].dtype() == DType::i32) {
    categorical_cross_entropy(ce, v, x, in[1].data<int32_t>(), w, o);
  } else {
    categorical_cross_entropy(ce, v, x, in[1].data<int64_t>(), w, o);
  }
}

template <typename T>
void binary_cross_entropy_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const auto& bce = static_cast<const BinaryCrossEntropyOp&>(op);
  const bool robust = bce.robust;
  const T thr = threshold_in<T>(bce.threshold);
  const T pw = static_cast<T>(bce.pos_weight);
  if (bce.input_type == LossInputType::probs) {
    map_binary<T, T, T>(in[0], in[1], out[0], [=](T p, T t) {
      return -pw * t * log_of(p, robust, thr) - (T(1) - t) * log_of(T(1) - p, robust, thr);
    });
    return;
  }
  map_binary<T, T, T>(in[0], in[1], out[0], [=](T x, T t) {
    // Mithril takes log(1 + e) through its (robust) log when robust, log1p otherwise.
    const T e = std::exp(-std::abs(x));
    const T log_sigmoid = std::min(T(0), x) - (robust ? robust_log(T(1) + e, thr) : std::log1p(e));
    const T log_weight = (pw - T(1)) * t + T(1);
    return (T(1) - t) * x - log_weight * log_sigmoid;
  });
}

template <typename T>
void add_loss_kernels(KernelTable& r) {
  const DType dt = dtype_of_v<T>;
  for (OpKind k : {OpKind::SquaredError, OpKind::AbsoluteError, OpKind::HingeLoss, OpKind::QuadHingeLoss,
                   OpKind::QuantileLoss, OpKind::KLDivergence})
    r.add(k, dt, elementwise_loss_kernel<T>, fmt::format("{}_{}", op_name(k), dtype_name(dt)));
  r.add(OpKind::CrossEntropy, dt, cross_entropy_kernel<T>, fmt::format("cross_entropy_{}", dtype_name(dt)));
  r.add(OpKind::BinaryCrossEntropy, dt, binary_cross_entropy_kernel<T>,
        fmt::format("binary_cross_entropy_{}", dtype_name(dt)));
}

}  // namespace

void register_loss_kernels(KernelTable& r) {
  add_loss_kernels<double>(r);
  add_loss_kernels<float>(r);
}

}  // namespace mithril::cpu
