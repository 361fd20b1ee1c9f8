// The ggml backend: quantized inference in the manner of ggml. At compile, the weight of every
// product by a constant matrix (a Linear's weight given as a constant key, read transposed or
// not) is quantized to GGUF blocks (quant_format.h) and the product runs on the int8 kernels
// (quant_matmul.h); every other node, and products the format cannot hold (a row length that is
// not a multiple of 32, a weight that is a runtime input), run in floating point on the cpu
// backend's kernels, taken from the registry by name. One arena per program holds the
// intermediates; with mem_size > 0 the quantized and float weights plus the arena and the outputs
// must fit, or compile fails with the bytes needed, broken down, against the bytes allowed.
#pragma once

#include "mithril/backends/backend.h"

namespace mithril {

struct GgmlOptions {
  std::string quantize = "q8_0";  // "int8" (= q8_0), "q8_0", "q4_0"; empty: no quantization
  int64_t mem_size = 0;           // > 0: bytes the weights, the arena and the outputs must fit in
  DType precision = DType::f32;   // of the float parts: float32 or float64
};

class GgmlBackend final : public Backend {
 public:
  explicit GgmlBackend(GgmlOptions options = {});
  static BackendPtr from_options(const BackendOptions& options);
  static BackendPtr make(GgmlOptions options = {}) { return std::make_shared<GgmlBackend>(std::move(options)); }

  std::string_view name() const override { return "ggml"; }
  const KernelTable& kernels() const override;  // the cpu backend's
  // Operator fusion is off, so that products stay matmul nodes whose weights can be quantized
  // (a program fused elsewhere still runs: its fused nodes on the cpu kernels, in float).
  PassOptions passes(const PassOptions& requested) const override;
  std::unique_ptr<Executable> compile(const GraphProgram& program, const ExecutableOptions& options) const override;

 private:
  struct FromOptions {};
  GgmlBackend(const BackendOptions& options, FromOptions);
};

}  // namespace mithril
