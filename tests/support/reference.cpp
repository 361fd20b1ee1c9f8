#include "support/reference.h"

namespace mithril::testing {

std::vector<double> reference_binary(const Tensor& a, const Tensor& b, const std::function<double(double, double)>& f) {
  const Shape out = broadcast_shapes(a.shape(), b.shape(), "reference");
  std::vector<double> r;
  for (int64_t flat = 0; flat < numel(out); ++flat) {
    std::vector<int64_t> idx(out.size());
    int64_t rem = flat;
    for (size_t d = out.size(); d-- > 0;) {
      idx[d] = rem % out[d];
      rem /= out[d];
    }
    auto pick = [&](const Tensor& t) {
      std::vector<int64_t> ti(t.shape().size());
      const size_t off = out.size() - ti.size();
      for (size_t d = 0; d < ti.size(); ++d) ti[d] = t.shape()[d] == 1 ? 0 : idx[d + off];
      return t.at(ti);
    };
    r.push_back(f(pick(a), pick(b)));
  }
  return r;
}

}  // namespace mithril::testing
