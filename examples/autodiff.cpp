// Builds a small graph, derives its gradient graph with autodiff, and runs both on the CPU.
// Run: build/examples/autodiff
#include <iostream>

#include "mithril/backends/cpu/executor.h"
#include "mithril/graph/autodiff.h"
#include "mithril/ops/binary.h"
#include "mithril/ops/linalg.h"
#include "mithril/ops/reduce.h"
#include "mithril/ops/unary.h"

int main() {
  using namespace mithril;
  Graph g;
  Var x = g.input("x", {4, 3}, DType::f64);
  Var w = g.input("w", {3, 2}, DType::f64);
  Var b = g.input("b", {2}, DType::f64);
  Var loss = ops::mean(ops::relu(ops::matmul(x, w) + b));
  // Appends the reverse-mode gradient graph of `loss` (cotangent 1) with respect to w and b.
  auto grads = vjp(g, {loss}, {ops::scalar_like(loss, 1.0)}, {w, b});

  const Tensor xt = Tensor::from_doubles({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {4, 3}, DType::f64);
  const Tensor wt = Tensor::from_doubles({0.1, -0.2, 0.3, 0.4, -0.5, 0.6}, {3, 2}, DType::f64);
  const Tensor bt = Tensor::from_doubles({0.5, -1.0}, {2}, DType::f64);
  const auto out = cpu::run_graph(g, {loss, *grads[0], *grads[1]}, {xt, wt, bt});
  std::cout << "loss = " << out[0] << "\ndloss/dw = " << out[1] << "\ndloss/db = " << out[2] << "\n";
  return 0;
}
