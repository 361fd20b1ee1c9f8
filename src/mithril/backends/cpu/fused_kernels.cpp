// Kernels of the fused ops (ops/fused.h). The epilogue steps run with the registered kernels of
// the original ops, on blocks of whole output rows written in place, so each step computes
// exactly what it computed unfused while the block stays in cache. The common tail of a linear
// layer (bias add, then optionally relu) is a plain loop with no per-call setup, run on each
// GEMM block right after its product; each product is one BLAS call, reading transposed
// operands in place instead of copying them.
#include <algorithm>
#include <vector>

#include "mithril/backends/cpu/blas.h"
#include "mithril/backends/cpu/loops.h"
#include "mithril/backends/cpu/registry.h"
#include "mithril/ops/fused.h"

namespace mithril::cpu {
namespace {

constexpr int64_t kBlockElements = 4096;  // elements per block: a few blocks of doubles fit in L1/L2

// Runs steps[first..] over `out` (shape op.shape) with the fused node's inputs `in`.
void run_steps(const FusedOp& op, std::span<const Tensor> in, Tensor& out, size_t first) {
  if (first >= op.steps.size()) return;
  const Shape& shape = op.shape;
  const int64_t total = numel(shape);
  if (total == 0) return;
  const int64_t cols = shape.empty() ? 1 : shape.back();
  const int64_t rows = total / cols;
  // Inputs as the blocks will read them: full operands as (rows, cols), others reshaped so
  // they broadcast against a (block rows, cols) block.
  std::vector<Tensor> operands(in.size());
  std::vector<bool> full(in.size(), false);
  const size_t first_operand = op.first_operand();
  for (size_t i = first_operand; i < in.size(); ++i) {
    switch (*fused_operand_kind(in[i].shape(), shape)) {
      case FusedOperand::full:
        operands[i] = in[i].reshape({rows, cols});
        full[i] = true;
        break;
      case FusedOperand::scalar: operands[i] = in[i].reshape({}); break;
      case FusedOperand::row: operands[i] = in[i].reshape({cols}); break;
      case FusedOperand::column:  // sliced by rows like a full operand, broadcast along them
        operands[i] = in[i].reshape({rows, 1});
        full[i] = true;
        break;
    }
  }
  std::vector<const KernelEntry*> kernels;
  for (size_t s = first; s < op.steps.size(); ++s) {
    const FusedStep& step = op.steps[s];
    std::vector<DType> dts;
    for (int a : step.args) dts.push_back(a == FusedStep::kRunning ? op.dtype : in[static_cast<size_t>(a)].dtype());
    const DType out_dt[] = {op.dtype};
    kernels.push_back(&KernelRegistry::instance().find(*step.op, dts, out_dt));
  }
  const Tensor out2d = out.reshape({rows, cols});
  const int64_t block_rows = std::max<int64_t>(1, kBlockElements / std::max<int64_t>(cols, 1));
  const int64_t blocks = (rows + block_rows - 1) / block_rows;
  // Threads only for as much work per thread as a plain elementwise kernel would want: waking
  // the pool costs more than a few small blocks (an LSTM step's gates are 8192 elements).
  const int64_t work_per_block = block_rows * cols * static_cast<int64_t>(op.steps.size() - first);
  parallel_for(0, blocks, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, work_per_block)), [&](int64_t b0, int64_t b1) {
    std::vector<Tensor> args, slices(in.size());
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t r0 = b * block_rows, r1 = std::min(rows, r0 + block_rows);
      Tensor block = out2d.slice(0, r0, r1);
      std::fill(slices.begin(), slices.end(), Tensor());  // full operands' rows of this block, sliced on first use
      for (size_t s = first; s < op.steps.size(); ++s) {
        const FusedStep& step = op.steps[s];
        args.clear();
        for (int a : step.args) {
          if (a == FusedStep::kRunning) {
            args.push_back(block);
            continue;
          }
          const auto i = static_cast<size_t>(a);
          if (full[i] && !slices[i].defined()) slices[i] = operands[i].slice(0, r0, r1);
          args.push_back(full[i] ? slices[i] : operands[i]);
        }
        kernels[s - first]->fn(*step.op, args, std::span<Tensor>(&block, 1));
      }
    }
  });
}

void fused_elementwise_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  run_steps(static_cast<const FusedOp&>(op), in, out[0], 0);
}

// The plain tail of a linear layer, bias add then optionally relu, when the fused steps start
// with it: applied by a loop on each GEMM block while the block is in cache, instead of by the
// steps' kernels.
template <typename T>
struct LinearTail {
  const T* bias = nullptr;  // row (n) or scalar operand of the add; null: no add
  bool scalar_bias = false;
  bool relu = false;
  size_t steps = 0;  // fused steps it covers

  LinearTail(const FusedOp& op, std::span<const Tensor> in) {
    if (!op.steps.empty() && op.steps[0].op->kind() == OpKind::Add) {
      const std::vector<int>& args = op.steps[0].args;
      const int other = args[0] == FusedStep::kRunning ? args[1] : args[0];
      const auto kind = other == FusedStep::kRunning ? std::nullopt : fused_operand_kind(in[static_cast<size_t>(other)].shape(), op.shape);
      if ((args[0] == FusedStep::kRunning || args[1] == FusedStep::kRunning) &&
          (kind == FusedOperand::row || kind == FusedOperand::scalar)) {
        bias = in[static_cast<size_t>(other)].data<T>();
        scalar_bias = in[static_cast<size_t>(other)].numel() == 1;
        steps = 1;
      }
    }
    if (steps < op.steps.size() && op.steps[steps].op->kind() == OpKind::Relu) {
      relu = true;
      ++steps;
    }
  }

  // Rows i0..i1, columns j0..j1 of c (row stride n).
  void apply(T* c, int64_t n, int64_t i0, int64_t i1, int64_t j0, int64_t j1) const {
    if (steps == 0) return;
    for (int64_t i = i0; i < i1; ++i) {
      T* row = c + i * n;
      if (bias)
        for (int64_t j = j0; j < j1; ++j) row[j] = row[j] + bias[scalar_bias ? 0 : j];
      if (relu)
        for (int64_t j = j0; j < j1; ++j) row[j] = row[j] < T(0) ? T(0) : row[j];
    }
  }
};

// Inner sizes at most this small make inefficient GEMMs (packing and C traffic per few
// multiply-adds): many such products are concatenated along k into one GEMM instead.
constexpr int64_t kConcatMaxInner = 64;

// Copies the k_j x `width` operand `src` (k along rows when k_rows, else along columns) to
// columns/rows [k0, k0 + k_j) of the concatenation `dst` (k_total along the same axis).
template <typename T>
void place_along_k(const T* src, int64_t kj, int64_t width, bool k_rows, T* dst, int64_t k0, int64_t k_total) {
  if (k_rows) {
    std::copy(src, src + kj * width, dst + k0 * width);
  } else {
    for (int64_t r = 0; r < width; ++r) std::copy(src + r * kj, src + (r + 1) * kj, dst + r * k_total + k0);
  }
}

// sum_j op(x_j) op(w_j) as one GEMM over the concatenations [x_0 | x_1 | ...] and [w_0; w_1; ...]
// along k, when there are several products with the same transposes and all small inner sizes
// (an unrolled recurrence's weight gradient: 64 products with k = batch 32). Returns false
// when that does not apply.
template <typename T>
bool concatenated_product(const FusedOp& op, std::span<const Tensor> in, const std::vector<int64_t>& ks, int64_t k_total, int64_t m,
                          int64_t n, T* c) {
  if (op.products.size() < 4 || k_total == 0) return false;
  for (size_t j = 0; j < op.products.size(); ++j)
    if (!(op.products[j] == op.products[0]) || ks[j] > kConcatMaxInner) return false;
  const FusedProduct& p = op.products[0];
  std::vector<T> xs(static_cast<size_t>(k_total * m)), ws(static_cast<size_t>(k_total * n));
  int64_t k0 = 0;
  for (size_t j = 0; j < op.products.size(); ++j) {
    // x_j is (m, k_j), or (k_j, m) read transposed; w_j is (k_j, n), or (n, k_j) read transposed.
    place_along_k(in[2 * j].data<T>(), ks[j], m, p.transpose_left, xs.data(), k0, k_total);
    place_along_k(in[2 * j + 1].data<T>(), ks[j], n, !p.transpose_right, ws.data(), k0, k_total);
    k0 += ks[j];
  }
  gemm(p.transpose_left, p.transpose_right, m, n, k_total, T(1), xs.data(), p.transpose_left ? m : k_total, ws.data(),
       p.transpose_right ? k_total : n, T(0), c, n);
  return true;
}

// out (m x n) = sum_j op(x_j) @ op(w_j): a single product with one row goes through GEMV; many
// products with small inner sizes through one GEMM over their concatenation; otherwise the
// output is split into blocks once, and each block gets all products in turn, the first
// overwriting it and the others accumulated by the GEMM (beta = 1).
template <typename T>
void fused_linear_kernel(const Op& base, std::span<const Tensor> in, std::span<Tensor> out) {
  const auto& op = static_cast<const FusedOp&>(base);
  const int64_t n = op.shape.back();
  const int64_t m = n == 0 ? 0 : numel(op.shape) / n;
  if (m == 0 || n == 0) return;
  T* c = out[0].data<T>();
  std::vector<int64_t> ks;
  int64_t k_total = 0;
  for (size_t j = 0; j < op.products.size(); ++j) {
    ks.push_back(op.products[j].transpose_left ? in[2 * j].shape()[0] : in[2 * j].shape().back());
    k_total += ks.back();
  }
  const FusedProduct& p0 = op.products[0];
  const LinearTail<T> tail(op, in);
  if (op.products.size() == 1 && m == 1 && ks[0] > 0) {
    const T* x = in[0].data<T>();
    const T* w = in[1].data<T>();
    if (p0.transpose_right) blas_gemv(false, n, ks[0], w, ks[0], x, c);
    else gemv_rowvec(x, w, n, c, ks[0], n);
    tail.apply(c, n, 0, m, 0, n);
  } else if (concatenated_product<T>(op, in, ks, k_total, m, n, c)) {
    tail.apply(c, n, 0, m, 0, n);
  } else {
    for_gemm_blocks(m, n, m * n * k_total, [&](int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
      bool written = false;
      for (size_t j = 0; j < op.products.size(); ++j) {
        if (ks[j] == 0) continue;
        const FusedProduct& p = op.products[j];
        gemm_block(p.transpose_left, p.transpose_right, i0, i1, j0, j1, ks[j], T(1), in[2 * j].data<T>(), p.transpose_left ? m : ks[j],
                   in[2 * j + 1].data<T>(), p.transpose_right ? ks[j] : n, written ? T(1) : T(0), c, n);
        written = true;
      }
      if (!written)
        for (int64_t i = i0; i < i1; ++i) std::fill(c + i * n + j0, c + i * n + j1, T(0));
      tail.apply(c, n, i0, i1, j0, j1);
    });
  }
  run_steps(op, in, out[0], tail.steps);
}

}  // namespace

void register_fused_kernels(KernelRegistry& r) {
  add_for_dtypes(r, OpKind::FusedElementwise, {DType::f64, DType::f32, DType::f16, DType::bf16, DType::i64, DType::i32, DType::i8, DType::b8},
                 fused_elementwise_kernel, "fused_elementwise");
  r.add(OpKind::FusedLinear, DType::f64, fused_linear_kernel<double>, "fused_linear_f64_openblas");
  r.add(OpKind::FusedLinear, DType::f32, fused_linear_kernel<float>, "fused_linear_f32_openblas");
}

}  // namespace mithril::cpu
