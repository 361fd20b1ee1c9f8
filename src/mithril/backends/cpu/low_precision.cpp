// f16 and bf16 kernels for every op that has a float32 kernel: low-precision storage, float32
// compute. Without AVX-512-BF16/FP16 arithmetic the win of 16-bit types on these CPUs is the
// halved memory traffic, so the registry wraps the float32 kernel: 16-bit inputs are widened,
// the float32 kernel runs, and 16-bit outputs are rounded back to nearest even. Elementwise
// ops (unary and binary families, operands of the output's shape) are converted in
// cache-sized blocks so the float32 copies never leave L2; everything else converts whole
// operands. Ops with their own 16-bit kernels (matmul's GEMV path, copies, layout ops) keep
// them: the wrapper is only added where no 16-bit kernel was registered.
#include <array>
#include <vector>

#include <fmt/format.h>

#include "mithril/backends/cpu/convert.h"
#include "mithril/backends/cpu/loops.h"
#include "mithril/backends/cpu/registry.h"

namespace mithril::cpu {
namespace {

// The float32 kernel each wrapper runs, chosen once when the registry is built.
std::array<KernelFn, kNumOps> g_f32_kernel{};

constexpr int64_t kBlock = 8192;  // elements per block: 32 KiB of float32 per operand

bool blockable(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  if (!is_elementwise(op.kind())) return false;
  for (const Tensor& t : in)
    if (t.shape() != out[0].shape()) return false;
  for (const Tensor& t : out)
    if (t.shape() != out[0].shape()) return false;
  return true;
}

// Elementwise: each thread walks its range in blocks, widening inputs into reused float32
// buffers, running the float32 kernel on the block (serially: nested parallel_for is inline)
// and narrowing the results. Non-16-bit operands (bool conditions, comparison results) are
// addressed in place through views.
void run_blocked(KernelFn f32, const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const int64_t n = out[0].numel();
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  parallel_for(0, blocks, std::max<int64_t>(1, kElementwiseGrain / kBlock), [&](int64_t b0, int64_t b1) {
    std::vector<Tensor> bin(in.size()), bout(out.size());
    std::vector<Tensor> buf_in(in.size()), buf_out(out.size());
    for (size_t i = 0; i < in.size(); ++i)
      if (is_low_precision(in[i].dtype())) buf_in[i] = Tensor::empty({kBlock}, DType::f32);
    for (size_t i = 0; i < out.size(); ++i)
      if (is_low_precision(out[i].dtype())) buf_out[i] = Tensor::empty({kBlock}, DType::f32);
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t s = b * kBlock, len = std::min(kBlock, n - s);
      for (size_t i = 0; i < in.size(); ++i) {
        if (buf_in[i].defined()) {
          bin[i] = buf_in[i].slice(0, 0, len);
          widen_to_f32(in[i].dtype(), static_cast<const uint16_t*>(in[i].raw_data()) + s, bin[i].data<float>(), len);
        } else {
          bin[i] = in[i].reshape({n}).slice(0, s, s + len);
        }
      }
      for (size_t i = 0; i < out.size(); ++i)
        bout[i] = buf_out[i].defined() ? buf_out[i].slice(0, 0, len) : out[i].reshape({n}).slice(0, s, s + len);
      f32(op, bin, bout);
      for (size_t i = 0; i < out.size(); ++i)
        if (buf_out[i].defined())
          narrow_from_f32(out[i].dtype(), bout[i].data<float>(), static_cast<uint16_t*>(out[i].raw_data()) + s, len);
    }
  });
}

void low_precision_kernel(const Op& op, std::span<const Tensor> in, std::span<Tensor> out) {
  const KernelFn f32 = g_f32_kernel[static_cast<size_t>(op.kind())];
  if (!out.empty() && out[0].numel() > 0 && blockable(op, in, out)) {
    run_blocked(f32, op, in, out);
    return;
  }
  std::vector<Tensor> fin(in.begin(), in.end()), fout(out.begin(), out.end());
  for (Tensor& t : fin)
    if (is_low_precision(t.dtype())) t = widen_tensor(t);
  for (Tensor& t : fout)
    if (is_low_precision(t.dtype())) t = Tensor::empty(t.shape(), DType::f32);
  f32(op, fin, fout);
  for (size_t i = 0; i < out.size(); ++i)
    if (is_low_precision(out[i].dtype())) narrow_tensor(fout[i], out[i]);
}

}  // namespace

void register_low_precision_kernels(KernelTable& r) {
  for (int k = 0; k < kNumOps; ++k) {
    const auto kind = static_cast<OpKind>(k);
    if (!r.has(kind, DType::f32)) continue;
    g_f32_kernel[static_cast<size_t>(k)] = r.find(kind, DType::f32).fn;
    for (DType t : {DType::bf16, DType::f16})
      if (!r.has(kind, t))
        r.add(kind, t, low_precision_kernel, fmt::format("{}_{}_via_f32", op_name(kind), dtype_name(t)), Isa::baseline, -100);
  }
}

}  // namespace mithril::cpu
