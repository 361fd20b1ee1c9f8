// Reference kernel for matmul: NumPy semantics (batch dims broadcast, 1-D operands promoted),
// one float64 dot product per output element, summed in order of k.
#include "mithril/backends/reference/kernels.h"
#include "mithril/backends/reference/loops.h"
#include "mithril/ops/linalg.h"

namespace mithril::reference {
namespace {

void matmul_kernel(const Op&, std::span<const Tensor> in, std::span<Tensor> out) {
  const MatMulDims d = matmul_dims(in[0].shape(), in[1].shape());
  const std::vector<double> a = read(in[0]), b = read(in[1]);
  std::vector<double> y(static_cast<size_t>(numel(d.batch) * d.m * d.n));
  // Operands as contiguous stacks of matrices: left[lb] is (m, k), right[rb] is (k, n).
  for_each_index(d.batch, [&](const Index& idx, int64_t batch) {
    const int64_t lb = broadcast_source(idx, d.left_batch), rb = broadcast_source(idx, d.right_batch);
    for (int64_t i = 0; i < d.m; ++i)
      for (int64_t j = 0; j < d.n; ++j) {
        double s = 0;
        for (int64_t k = 0; k < d.k; ++k)
          s += a[static_cast<size_t>((lb * d.m + i) * d.k + k)] * b[static_cast<size_t>((rb * d.k + k) * d.n + j)];
        y[static_cast<size_t>((batch * d.m + i) * d.n + j)] = s;
      }
  });
  write(out[0], y);  // the output shape drops promoted axes; the element order is the same
}

}  // namespace

void register_linalg_kernels(KernelTable& t) {
  add_for_dtypes(t, OpKind::MatMul, {DType::f64, DType::f32, DType::f16, DType::bf16, DType::i32, DType::i64},
                 matmul_kernel, "matmul");
}

}  // namespace mithril::reference
