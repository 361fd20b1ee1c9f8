// CPU kernels for the linalg family. Float matmul is one GEMM (gemm.h; or a GEMV when a side
// is a vector) per batch element, or a single call for the whole batch when the right
// matrix is shared and the left operand's batch can fold into its rows. Broadcast operands
// are addressed in place, never copied. Integer matmul is a plain loop.
#include <algorithm>
#include <type_traits>
#include <vector>

#include "mithril/backends/cpu/gemm.h"
#include "mithril/backends/cpu/gemv.h"
#include "mithril/backends/cpu/convert.h"
#include "mithril/backends/cpu/registry.h"
#include "mithril/ops/linalg.h"

namespace mithril::cpu {
namespace {

// Element offset of every batch element's matrix in each operand (0 strides where broadcast).
struct BatchOffsets {
  std::vector<int64_t> left, right;
};

BatchOffsets batch_offsets(const MatMulDims& d) {
  const size_t rank = d.batch.size();
  Strides ls(rank), rs(rank);
  int64_t lstep = d.m * d.k, rstep = d.k * d.n;
  for (size_t i = rank; i-- > 0;) {
    ls[i] = d.left_batch[i] == 1 ? 0 : lstep;
    rs[i] = d.right_batch[i] == 1 ? 0 : rstep;
    lstep *= d.left_batch[i];
    rstep *= d.right_batch[i];
  }
  const int64_t count = numel(d.batch);
  BatchOffsets off{std::vector<int64_t>(static_cast<size_t>(count)), std::vector<int64_t>(static_cast<size_t>(count))};
  std::vector<int64_t> idx(rank, 0);
  int64_t lo = 0, ro = 0;
  for (int64_t b = 0; b < count; ++b) {
    off.left[static_cast<size_t>(b)] = lo;
    off.right[static_cast<size_t>(b)] = ro;
    for (size_t i = rank; i-- > 0;) {  // row-major increment of the batch index
      lo += ls[i];
      ro += rs[i];
      if (++idx[i] < d.batch[i]) break;
      lo -= ls[i] * d.batch[i];
      ro -= rs[i] * d.batch[i];
      idx[i] = 0;
    }
  }
  return off;
}

// c (m x n) = a (m x k) @ b (k x n), all contiguous.
template <typename T>
void matmul_gemm(const T* a, const T* b, T* c, int64_t m, int64_t k, int64_t n) {
  if (k == 0) {
    std::fill(c, c + m * n, T(0));
  } else if (n == 1) {
    gemv_rows(a, dtype_of_v<T>, k, b, c, m, k);
  } else if (m == 1) {
    gemv_rowvec(a, b, dtype_of_v<T>, n, c, k, n);
  } else {
    gemm(false, false, m, n, k, a, k, b, n, false, c, n);
  }
}

// Integer products wrap around like NumPy's (computed unsigned: signed overflow is undefined).
template <typename T>
void matmul_naive(const T* a, const T* b, T* c, int64_t m, int64_t k, int64_t n) {
  using U = std::make_unsigned_t<T>;
  parallel_for(0, m, std::max<int64_t>(1, kMinParallelMacs / std::max<int64_t>(1, k * n)), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      T* row = c + i * n;
      std::fill(row, row + n, T(0));
      for (int64_t p = 0; p < k; ++p) {
        const U aip = static_cast<U>(a[i * k + p]);
        const T* brow = b + p * n;
        for (int64_t j = 0; j < n; ++j) row[j] = static_cast<T>(static_cast<U>(row[j]) + aip * static_cast<U>(brow[j]));
      }
    }
  });
}

template <typename T, void (*Product)(const T*, const T*, T*, int64_t, int64_t, int64_t)>
void matmul_kernel(const Op&, std::span<const Tensor> in, std::span<Tensor> out) {
  const MatMulDims d = matmul_dims(in[0].shape(), in[1].shape());
  const T* a = in[0].data<T>();
  const T* b = in[1].data<T>();
  T* c = out[0].data<T>();
  const int64_t batch = numel(d.batch);
  if (batch == 0 || d.m == 0 || d.n == 0) return;
  // A shared right matrix and an unbroadcast left operand: the batch is just more rows.
  if (numel(d.right_batch) == 1 && numel(d.left_batch) == batch) {
    Product(a, b, c, batch * d.m, d.k, d.n);
    return;
  }
  const BatchOffsets off = batch_offsets(d);
  auto run = [&](int64_t b0, int64_t b1) {
    for (int64_t i = b0; i < b1; ++i)
      Product(a + off.left[static_cast<size_t>(i)], b + off.right[static_cast<size_t>(i)], c + i * d.m * d.n, d.m, d.k,
              d.n);
  };
  run_batch(batch, d.m * d.n * d.k, d.m * d.n * d.k, run);
}

// f16/bf16 matmul, float32 compute: a row vector times a shared matrix reads the matrix in 16
// bits (gemv.h), a product with a shared right matrix is one GEMM whose packing
// widens the 16-bit operands, and other batched products widen both operands first.
void matmul_low_precision_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const MatMulDims d = matmul_dims(in[0].shape(), in[1].shape());
  const DType t = out[0].dtype();
  Tensor y = Tensor::empty(out[0].shape(), DType::f32);
  const bool row_vector = numel(d.right_batch) == 1 && in[0].numel() == d.k && numel(d.batch) * d.m == 1;
  if (row_vector && d.n > 1 && d.k > 0 && in[1].dtype() == t) {
    const Tensor x = in[0].dtype() == DType::f32 ? in[0] : widen_tensor(in[0]);
    gemv_rowvec(x.data<float>(), in[1].raw_data(), t, d.n, y.data<float>(), d.k, d.n);
  } else if (numel(d.right_batch) == 1 && numel(d.left_batch) == numel(d.batch) && d.k > 0) {
    // One GEMM whose packing reads the 16-bit operands (the batch is more rows of the left one).
    const GemmProduct<float> p{in[0].raw_data(), d.k, false, in[1].raw_data(), d.n, false, d.k, in[0].dtype(), in[1].dtype()};
    gemm<float>(std::span<const GemmProduct<float>>(&p, 1), numel(d.batch) * d.m, d.n, false, y.data<float>(), d.n);
  } else {
    const Tensor f32_in[2] = {is_low_precision(in[0].dtype()) ? widen_tensor(in[0]) : in[0],
                              is_low_precision(in[1].dtype()) ? widen_tensor(in[1]) : in[1]};
    Tensor f32_out[1] = {y};
    matmul_kernel<float, matmul_gemm<float>>(op, f32_in, f32_out);
  }
  narrow_tensor(y, out[0]);
}

}  // namespace

void register_linalg_kernels(KernelTable& r) {
  const std::string engine = gemm_engine();
  r.add(OpKind::MatMul, DType::f64, matmul_kernel<double, matmul_gemm<double>>, "matmul_f64_" + engine);
  r.add(OpKind::MatMul, DType::f32, matmul_kernel<float, matmul_gemm<float>>, "matmul_f32_" + engine);
  r.add(OpKind::MatMul, DType::bf16, matmul_low_precision_kernel, "matmul_bf16_gemv_or_f32_" + engine);
  r.add(OpKind::MatMul, DType::f16, matmul_low_precision_kernel, "matmul_f16_gemv_or_f32_" + engine);
  r.add(OpKind::MatMul, DType::i64, matmul_kernel<int64_t, matmul_naive<int64_t>>, "matmul_i64");
  r.add(OpKind::MatMul, DType::i32, matmul_kernel<int32_t, matmul_naive<int32_t>>, "matmul_i32");
}

}  // namespace mithril::cpu
