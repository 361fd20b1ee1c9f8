#include "mithril/backends/executable.h"

namespace mithril {

std::vector<Tensor> Executable::run(const std::vector<Tensor>& inputs) const {
  std::vector<const Tensor*> ptrs;
  for (const Tensor& t : inputs) ptrs.push_back(&t);
  std::vector<Tensor> results;
  run(ptrs, results);
  return results;
}

}  // namespace mithril
