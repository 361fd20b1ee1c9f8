// Independent reference implementations shared by the op tests: plain loops over doubles,
// written without any of the library's kernels.
#pragma once

#include <functional>
#include <vector>

#include "mithril/core/tensor.h"

namespace mithril::testing {

// f(a[i'], b[i'']) over the NumPy broadcast shape of a and b, in row-major order.
std::vector<double> reference_binary(const Tensor& a, const Tensor& b, const std::function<double(double, double)>& f);

}  // namespace mithril::testing
