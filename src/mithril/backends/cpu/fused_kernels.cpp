// Kernels of the fused ops (ops/fused.h). The epilogue steps run with the registered kernels of
// the original ops, on blocks of whole output rows written in place, so each step computes
// exactly what it computed unfused while the block stays in cache. A fused linear node is one
// GEMM (gemm.h) over all its products, reading transposed operands in place; the common tail of
// a linear layer (bias add, then optionally relu) is the GEMM's epilogue.
#include <algorithm>
#include <vector>

#include "mithril/backends/cpu/gemm.h"
#include "mithril/backends/cpu/gemv.h"
#include "mithril/backends/cpu/convert.h"
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
    kernels.push_back(&kernel_table().find(*step.op, dts, out_dt));
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
// with it: it becomes the GEMM's epilogue, applied to each register tile as it is stored,
// instead of a pass of the steps' kernels over the output.
template <typename T>
struct LinearTail {
  GemmEpilogue<T> epilogue;
  Tensor wide_bias;  // a 16-bit bias widened for the epilogue (Tensor copies allocate: none otherwise)
  size_t steps = 0;  // fused steps it covers

  LinearTail(const FusedOp& op, std::span<const Tensor> in) {
    if (!op.steps.empty() && op.steps[0].op->kind() == OpKind::Add) {
      const std::vector<int>& args = op.steps[0].args;
      const int other = args[0] == FusedStep::kRunning ? args[1] : args[0];
      const auto kind = other == FusedStep::kRunning ? std::nullopt : fused_operand_kind(in[static_cast<size_t>(other)].shape(), op.shape);
      if ((args[0] == FusedStep::kRunning || args[1] == FusedStep::kRunning) &&
          (kind == FusedOperand::row || kind == FusedOperand::scalar)) {
        const Tensor& b = in[static_cast<size_t>(other)];
        if (is_low_precision(b.dtype())) wide_bias = widen_tensor(b);  // a 16-bit model's bias, added in float32
        epilogue.bias = (wide_bias.defined() ? wide_bias : b).data<T>();
        epilogue.scalar_bias = b.numel() == 1;
        steps = 1;
      }
    }
    if (steps < op.steps.size() && op.steps[steps].op->kind() == OpKind::Relu) {
      epilogue.relu = true;
      ++steps;
    }
  }

  // Rows 0..m of c (m x n, contiguous), for the GEMV path.
  void apply(T* c, int64_t m, int64_t n) const {
    if (steps == 0) return;
    for (int64_t r = 0; r < m; ++r, c += n)
      for (int64_t j = 0; j < n; ++j) c[j] = epilogue.apply(c[j], j);
  }
};

// out (m x n) = sum_j op(x_j) @ op(w_j): a single product with one row goes through GEMV;
// otherwise the products are one GEMM over their concatenated k (gemm.h), with the linear tail
// as its epilogue. T is the compute type: a bf16/f16 node reads its 16-bit operands in the
// GEMM's packing, accumulates in float32 and rounds the result once.
template <typename T>
void fused_linear_kernel(const Op& base, std::span<const Tensor> in, std::span<Tensor> out) {
  const auto& op = static_cast<const FusedOp&>(base);
  const int64_t n = op.shape.back();
  const int64_t m = n == 0 ? 0 : numel(op.shape) / n;
  if (m == 0 || n == 0) return;
  const bool narrow = is_low_precision(op.dtype);
  Tensor wide_result;  // float32 result of a 16-bit node, rounded into out[0] at the end
  if (narrow) wide_result = Tensor::empty(out[0].shape(), DType::f32);
  T* c = (narrow ? wide_result : out[0]).data<T>();
  // The products' descriptions, on the stack for the usual few (a tiny graph's call is ~1 us).
  GemmProduct<T> few[4];
  std::vector<GemmProduct<T>> many(op.products.size() > 4 ? op.products.size() : 0);
  const std::span<GemmProduct<T>> products(many.empty() ? few : many.data(), op.products.size());
  for (size_t j = 0; j < op.products.size(); ++j) {
    const FusedProduct& p = op.products[j];
    const Tensor &x = in[2 * j], &w = in[2 * j + 1];
    const int64_t k = p.transpose_left ? x.shape()[0] : x.shape().back();
    products[j] = {x.raw_data(), p.transpose_left ? m : k, p.transpose_left, w.raw_data(), p.transpose_right ? k : n,
                   p.transpose_right, k, x.dtype(), w.dtype()};
  }
  const LinearTail<T> tail(op, in);
  if (products.size() == 1 && m == 1 && products[0].k > 0) {  // batch 1: stream w once (gemv.h)
    const GemmProduct<T>& p = products[0];
    Tensor wide_x;
    if (is_low_precision(in[0].dtype())) wide_x = widen_tensor(in[0]);
    const T* x = (wide_x.defined() ? wide_x : in[0]).data<T>();
    if (p.trans_b) gemv_rows(p.b, p.b_type, p.ldb, x, c, n, p.k);
    else gemv_rowvec(x, p.b, p.b_type, p.ldb, c, p.k, n);
    tail.apply(c, m, n);
  } else {
    gemm<T>(std::span<const GemmProduct<T>>(products), m, n, false, c, n, tail.epilogue);
  }
  if (narrow) narrow_tensor(wide_result, out[0]);
  run_steps(op, in, out[0], tail.steps);
}

}  // namespace

void register_fused_kernels(KernelTable& r) {
  add_for_dtypes(r, OpKind::FusedElementwise, {DType::f64, DType::f32, DType::f16, DType::bf16, DType::i64, DType::i32, DType::i8, DType::b8},
                 fused_elementwise_kernel, "fused_elementwise");
  const std::string engine = gemm_engine();
  r.add(OpKind::FusedLinear, DType::f64, fused_linear_kernel<double>, "fused_linear_f64_" + engine);
  r.add(OpKind::FusedLinear, DType::f32, fused_linear_kernel<float>, "fused_linear_f32_" + engine);
  r.add(OpKind::FusedLinear, DType::bf16, fused_linear_kernel<float>, "fused_linear_bf16_f32_" + engine);
  r.add(OpKind::FusedLinear, DType::f16, fused_linear_kernel<float>, "fused_linear_f16_f32_" + engine);
}

}  // namespace mithril::cpu
