// Checked size arithmetic, the closest-name helper and the checked environment readers.
#include "mithril/core/checked.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "mithril/core/closest.h"
#include "mithril/core/env.h"
#include "mithril/core/tensor.h"
#include "support/error_of.h"

namespace mithril {
namespace {

using testing::error_of;

TEST(Checked, NumelAndBytes) {
  EXPECT_EQ(checked_numel({}, "[t]"), 1);
  EXPECT_EQ(checked_numel({3, 0, 5}, "[t]"), 0);
  EXPECT_EQ(checked_numel({int64_t{1} << 31, int64_t{1} << 31}, "[t]"), int64_t{1} << 62);
  EXPECT_EQ(checked_bytes({4, 3}, 8, "[t]"), 96);
  EXPECT_EQ(error_of<ValueError>([] { checked_numel({int64_t{1} << 32, int64_t{1} << 32}, "[shapes] 'p'"); }),
            "[shapes] 'p': shape (4294967296,4294967296) has more elements than fit in 64 bits");
  EXPECT_EQ(error_of<ValueError>([] { checked_numel({2, -1}, "[t]"); }), "[t]: shape (2,-1) has a negative dimension -1");
  // A zero dim does not excuse the others: strides multiply them (found by the IDX fuzzer).
  EXPECT_THROW(checked_numel({0, int64_t{1} << 40, int64_t{1} << 40}, "[t]"), ValueError);
  // Fits in int64 as a count, not as bytes.
  EXPECT_EQ(error_of<ValueError>([] { checked_bytes({int64_t{1} << 60}, 8, "[t]"); }),
            "[t]: shape (1152921504606846976,) needs 1152921504606846976 elements x 8 bytes, over the limit of "
            "4611686018427387904 bytes per tensor");
}

TEST(Checked, TensorOfImpossibleSizeIsAnError) {
  EXPECT_THROW(Tensor::empty({int64_t{1} << 32, int64_t{1} << 32}, DType::f32), ValueError);
  EXPECT_THROW(Tensor::empty({int64_t{1} << 61}, DType::f64), ValueError);
}

TEST(Closest, EditDistanceAndSuggestions) {
  EXPECT_EQ(edit_distance("hiden", "hidden"), 1u);
  EXPECT_EQ(edit_distance("Relu", "relu"), 0u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(closest_names("hiden", {"conv1", "hidden", "heads"}), (std::vector<std::string>{"hidden"}));
  EXPECT_EQ(closest_names("Liner", {"Relu", "Layer", "Linear"}), (std::vector<std::string>{"Linear", "Layer"}));
  EXPECT_EQ(closest_names("Exp", {"Add", "Exponential", "Relu"}), (std::vector<std::string>{"Exponential"}));
  EXPECT_TRUE(closest_names("zzzzzz", {"Linear", "Relu"}).empty());
}

// Each case sets the variable, reads it and restores the environment.
struct ScopedEnv {
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    ::setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (had_) ::setenv(name_, old_.c_str(), 1);
    else ::unsetenv(name_);
  }
  const char* name_;
  std::string old_;
  bool had_ = false;
};

TEST(Env, IntegersAreCheckedNamingTheVariable) {
  {
    ScopedEnv e("MITHRIL_NUM_THREADS", "3");
    EXPECT_EQ(env_int("MITHRIL_NUM_THREADS", 1, 1024), 3);
  }
  for (const char* bad : {"banana", "0", "-2", "2x", "1.5", "99999"}) {
    ScopedEnv e("MITHRIL_NUM_THREADS", bad);
    EXPECT_EQ(error_of<ValueError>([] { (void)env_int("MITHRIL_NUM_THREADS", 1, 1024); }),
              fmt::format("MITHRIL_NUM_THREADS='{}' is not an integer from 1 to 1024", bad));
  }
  ScopedEnv e("MITHRIL_NUM_THREADS", "");
  EXPECT_EQ(env_int("MITHRIL_NUM_THREADS", 1, 1024), std::nullopt);
}

TEST(Env, SwitchesAcceptOnlySwitchValues) {
  for (const char* on : {"1", "true", "YES", "on"}) {
    ScopedEnv e("MITHRIL_VERBOSE", on);
    EXPECT_TRUE(env_flag("MITHRIL_VERBOSE"));
  }
  for (const char* off : {"0", "false", "No", "off", ""}) {
    ScopedEnv e("MITHRIL_VERBOSE", off);
    EXPECT_FALSE(env_flag("MITHRIL_VERBOSE"));
  }
  ScopedEnv e("MITHRIL_VERBOSE", "banana");
  EXPECT_EQ(error_of<ValueError>([] { (void)env_flag("MITHRIL_VERBOSE"); }),
            "MITHRIL_VERBOSE='banana' is not a switch: expected 1 or 0 (true/false, yes/no, on/off)");
}

}  // namespace
}  // namespace mithril
