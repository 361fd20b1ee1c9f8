// A program outside the source tree that uses the installed package: a Linear + Relu model,
// compiled and evaluated on the cpu and the reference backend (ctest install.consumer builds it
// with CMake and with pkg-config).
#include <mithril/mithril.hpp>

#include <cstdio>
#include <vector>

int main() {
  using namespace mithril;
  using logical::IOKey;
  using logical::Model;

  Model model;
  model |= logical::Linear(3).connect({{"input", "x"}, {"weight", "w"}, {"bias", "b"}});
  model += Model::primitive("Relu").connect({{"output", IOKey{.name = "y", .expose = true}}});
  const PhysicalModel pm = compile(model);  // float64

  const DataMap inputs = {{"x", Tensor::from_doubles({1, 2, 3}, {1, 3}, DType::f64)},
                          {"w", Tensor::from_doubles({1, 0, -1, 1, 1, 1, -1, -1, -1}, {3, 3}, DType::f64)},
                          {"b", Tensor::from_doubles({3, -1.5, 0}, {3}, DType::f64)}};
  const std::vector<double> y = pm.evaluate(inputs).at("y").tensor.to_doubles();
  // relu(x w^T + b) = relu([-2 + 3, 6 - 1.5, -6]) = [1, 4.5, 0]
  double sum = 0;
  for (double v : y) sum += v;
  std::printf("consumer: y = [%g, %g, %g], sum %g\n", y.at(0), y.at(1), y.at(2), sum);
  // The same model on the reference backend, picked by object: the same numbers.
  const std::vector<double> y_ref = compile(model, ReferenceBackend()).evaluate(inputs).at("y").tensor.to_doubles();
  const bool ok = y == std::vector<double>{1, 4.5, 0} && y_ref == y;
  if (!ok) std::printf("consumer: expected y = [1, 4.5, 0] on the cpu and the reference backend\n");
  return ok ? 0 : 1;
}
