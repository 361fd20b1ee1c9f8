// The check_numerics compile option: a run stops at the first node that writes NaN or Inf,
// naming it; without the option the same run returns the non-finite values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "mithril/backends/reference/reference_backend.h"
#include "mithril/core/error.h"
#include "mithril/logical/model_dict.h"
#include "mithril/runtime/compile.h"
#include "support/error_of.h"

namespace mithril {
namespace {

using testing::error_of;

// y = exp(log(x)): log(0) = -inf is the first non-finite value, exp turns it back into 0.
logical::Model log_exp() {
  return logical::model_from_dict(logical::json::parse(R"({"name": "Model",
      "submodels": {"l": "Log", "e": "Exponential"},
      "connections": {"l": {"input": "x"}, "e": {"input": {"key": {"connect": [["l", "output"]]}}, "output": "y"}},
      "exposed_keys": ["y"]})"));
}

const DataMap kInputs = {{"x", Tensor::from_doubles({1.0, 0.0, 2.0}, {3}, DType::f64)}};

TEST(CheckNumerics, OffTheNonFiniteValueFlowsOn) {
  const Tensor y = compile(log_exp()).evaluate(kInputs).at("y").tensor;
  EXPECT_EQ(y.to_doubles(), (std::vector<double>{1.0, 0.0, 2.0}));
}

TEST(CheckNumerics, OnTheFirstBadNodeIsNamed) {
  CompileOptions o;
  o.check_numerics = true;
  o.optimizations.operator_fusion = false;  // log and exp stay two nodes
  for (const bool reference : {false, true}) {
    if (reference) o.backend = ReferenceBackend::make();
    const PhysicalModel pm = compile(log_exp(), o);
    const std::string e = error_of<ValueError>([&] { (void)pm.evaluate(kInputs); });
    EXPECT_EQ(e.rfind("[check_numerics] node ", 0), 0u) << e;
    EXPECT_NE(e.find("(log"), std::string::npos) << e;
    EXPECT_NE(e.find("wrote -inf at index 1 of output 0 (shape (3,), f64), its inputs (3,) f64"), std::string::npos) << e;
  }
  // Finite runs pass.
  const DataMap fine = {{"x", Tensor::from_doubles({1.0, 3.0, 2.0}, {3}, DType::f64)}};
  EXPECT_NO_THROW((void)compile(log_exp(), o).evaluate(fine));
}

TEST(CheckNumerics, EnvironmentTurnsItOn) {
  ::setenv("MITHRIL_CHECK_NUMERICS", "1", 1);  // read when a program is built: here, at the first evaluate
  CompileOptions o;
  o.optimizations.operator_fusion = false;  // fused, the -inf stays inside one node that writes 0
  const PhysicalModel pm = compile(log_exp(), o);
  const std::string e = error_of<ValueError>([&] { (void)pm.evaluate(kInputs); });
  ::unsetenv("MITHRIL_CHECK_NUMERICS");
  EXPECT_NE(e.find("wrote -inf at index 1"), std::string::npos) << e;
}

}  // namespace
}  // namespace mithril
