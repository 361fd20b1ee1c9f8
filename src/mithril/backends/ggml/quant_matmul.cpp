#include "mithril/backends/ggml/quant_matmul.h"

#include <vector>

#include "mithril/core/error.h"
#include "mithril/core/thread_pool.h"

namespace mithril::ggml {

QuantMatrix quantize_matrix(QuantType type, const Tensor& w, bool transposed, std::string_view what) {
  MI_CHECK(w.ndim() == 2, ShapeError, "[quantize] {} must be a matrix, got shape {}", what, shape_str(w.shape()));
  MI_CHECK(w.dtype() == DType::f32 || w.dtype() == DType::f64, DTypeError,
           "[quantize] {} must be float32 or float64, got {}", what, dtype_name(w.dtype()));
  Tensor m = (transposed ? w.transpose(0, 1) : w).astype(DType::f32).contiguous();
  QuantMatrix q;
  q.type = type;
  q.rows = m.shape()[0];
  q.cols = m.shape()[1];
  const int64_t rb = quant_row_bytes(type, q.cols, what);
  q.data.resize(static_cast<size_t>(q.rows * rb));
  const float* src = m.data<float>();
  for (int64_t r = 0; r < q.rows; ++r) quantize_row_ref(type, src + r * q.cols, q.cols, q.data.data() + r * rb, what);
  return q;
}

Tensor dequantize_matrix(const QuantMatrix& w) {
  Tensor out = Tensor::empty({w.rows, w.cols}, DType::f32);
  for (int64_t r = 0; r < w.rows; ++r) dequantize_row_ref(w.type, w.row(r), w.cols, out.data<float>() + r * w.cols);
  return out;
}

bool quant_path_available(QuantPath path) { return path == QuantPath::scalar || cpu_has(Isa::avx2_fma); }
QuantPath best_quant_path() { return cpu_has(Isa::avx2_fma) ? QuantPath::avx2 : QuantPath::scalar; }
const char* quant_path_name(QuantPath path) { return path == QuantPath::avx2 ? "avx2" : "scalar"; }

void quantize_activations(const float* x, int64_t k, BlockQ8_0* out, QuantPath path) {
  MI_CHECK(quant_path_available(path), ValueError, "[ggml] kernel path {} needs an instruction set this CPU lacks",
           quant_path_name(path));
  if (path == QuantPath::avx2) detail::quantize_activations_avx2(x, k, out);
  else quantize_activations_ref(x, k, out);
}

void quant_matmul(const QuantMatrix& w, const float* x, int64_t m, float* y, QuantPath path) {
  MI_CHECK(quant_path_available(path), ValueError, "[ggml] kernel path {} needs an instruction set this CPU lacks",
           quant_path_name(path));
  const int64_t k = w.cols, n = w.rows, nb = k / kBlock;
  if (m == 0 || n == 0) return;
  // The activations once, in parallel over rows; then the threads split the weight rows, each
  // reading its rows from memory once for all m activation rows.
  std::vector<BlockQ8_0> xq(static_cast<size_t>(m * nb));
  parallel_for(0, m, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) quantize_activations(x + i * k, k, xq.data() + i * nb, path);
  });
  // About 16K multiply-adds per chunk at least, in whole pairs of rows.
  const int64_t grain = std::max<int64_t>(2, (int64_t{1} << 14) / std::max<int64_t>(1, k * m));
  parallel_for(0, n, grain, [&](int64_t j0, int64_t j1) {
    if (path == QuantPath::avx2) {
      detail::quant_rows_avx2(w, xq.data(), m, j0, j1, y);
      return;
    }
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = j0; j < j1; ++j) y[i * n + j] = dot_ref(w.type, w.row(j), xq.data() + i * nb, nb);
  });
}

void quant_matmul(const QuantMatrix& w, const float* x, int64_t m, float* y) {
  quant_matmul(w, x, m, y, best_quant_path());
}

}  // namespace mithril::ggml
