// Quantized products: y[m, n] = x[m, k] · wᵀ for a weight w of n rows of k values stored in a
// block format (quant_format.h). The activations are quantized to Q8_0 row by row on the fly,
// each block pair is an int32 dot product, and the block sums are scaled and accumulated in
// float32 (ggml's scheme). Batch 1 is a GEMV (four weight rows per pass over x), larger batches a
// GEMM (tiles of four activation rows by two weight rows, so each weight block is read once per
// four rows). The threads of the pool split the output columns (weight rows). Every path gives
// the bits of dot_ref for every element.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "mithril/backends/ggml/quant_format.h"
#include "mithril/core/cpu_features.h"
#include "mithril/core/tensor.h"

namespace mithril::ggml {

// A weight matrix of `rows` rows of `cols` values (cols a multiple of 32), each row
// quant_row_bytes(type, cols) bytes of blocks, rows back to back.
struct QuantMatrix {
  QuantType type = QuantType::q8_0;
  int64_t rows = 0, cols = 0;
  std::vector<uint8_t> data;
  int64_t row_bytes() const { return quant_row_bytes(type, cols); }
  const uint8_t* row(int64_t r) const { return data.data() + r * row_bytes(); }
};

// Quantizes a float32/float64 matrix of shape (rows, cols), or read transposed (a (cols, rows)
// tensor whose columns are the rows) with `transposed`. `what` names it in errors.
QuantMatrix quantize_matrix(QuantType type, const Tensor& w, bool transposed, std::string_view what);
// The float32 values the blocks stand for, (rows, cols).
Tensor dequantize_matrix(const QuantMatrix& w);

// The kernel paths: `scalar` is dot_ref itself; `avx2` needs AVX2+FMA (maddubs/madd).
enum class QuantPath { scalar, avx2 };
// The best path this machine runs (MITHRIL_ISA caps it).
QuantPath best_quant_path();
const char* quant_path_name(QuantPath path);
bool quant_path_available(QuantPath path);

// y (m, n) = x (m, k) · wᵀ, all float32 row-major with leading dimensions k and n. A path this
// machine lacks is a ValueError.
void quant_matmul(const QuantMatrix& w, const float* x, int64_t m, float* y, QuantPath path);
void quant_matmul(const QuantMatrix& w, const float* x, int64_t m, float* y);  // best path

// Pieces the kernels are made of, for the tests: activation quantization per path.
void quantize_activations(const float* x, int64_t k, BlockQ8_0* out, QuantPath path);

namespace detail {
void quantize_activations_avx2(const float* x, int64_t k, BlockQ8_0* out);
// Rows [j0, j1) of w against m quantized activation rows of nb blocks each.
void quant_rows_avx2(const QuantMatrix& w, const BlockQ8_0* xq, int64_t m, int64_t j0, int64_t j1, float* y);
}  // namespace detail

}  // namespace mithril::ggml
