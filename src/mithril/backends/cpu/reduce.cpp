// CPU kernels for the reduction family. Each output element reduces a contiguous block
// (see make_reduction_view); blocks are split over threads, and each block is reduced by one
// thread in a fixed order, so results do not depend on scheduling.
#include <cmath>

#include "mithril/backends/cpu/loops.h"
#include "mithril/backends/cpu/registry.h"
#include "mithril/ops/reduce.h"

namespace mithril::cpu {
namespace {

// Calls f(row_pointer, count) -> value for every output element.
template <typename T, typename R, typename F>
void reduce_rows(const Op& op, const Tensor& in, Tensor& out, F f) {
  const auto& rop = static_cast<const ReduceOp&>(op);
  const ReductionView v = make_reduction_view(in, rop.axes);
  const T* x = v.data.data<T>();
  R* y = out.data<R>();
  const int64_t count = v.count;
  parallel_for(0, v.outer, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(count, 1)),
               [&](int64_t b, int64_t e) {
                 for (int64_t i = b; i < e; ++i) y[i] = f(x + i * count, count);
               });
}

template <typename T>
void sum_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  reduce_rows<T, T>(op, in[0], out[0], [](const T* p, int64_t n) {
    T acc = T(0);
    for (int64_t i = 0; i < n; ++i) acc += p[i];
    return acc;
  });
}

}  // namespace

void register_reduce_kernels(KernelRegistry& r) {
  r.add(OpKind::Sum, DType::f64, sum_kernel<double>, "sum_f64");
  r.add(OpKind::Sum, DType::f32, sum_kernel<float>, "sum_f32");
  r.add(OpKind::Sum, DType::i32, sum_kernel<int32_t>, "sum_i32");
  r.add(OpKind::Sum, DType::i64, sum_kernel<int64_t>, "sum_i64");
}

}  // namespace mithril::cpu
