#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>

#include "mithril/core/dtype.h"
#include "mithril/core/error.h"

namespace mithril {
namespace {

TEST(DType, TraitsTable) {
  EXPECT_EQ(dtype_size(DType::f64), 8u);
  EXPECT_EQ(dtype_size(DType::bf16), 2u);
  EXPECT_EQ(dtype_size(DType::b8), 1u);
  EXPECT_TRUE(is_float(DType::f16));
  EXPECT_FALSE(is_float(DType::i32));
  EXPECT_TRUE(is_int(DType::i8));
  EXPECT_FALSE(is_int(DType::b8));
  EXPECT_EQ(dtype_name(DType::bf16), "bf16");
}

TEST(DType, ParseAcceptsAliasesAndRejectsUnknown) {
  EXPECT_EQ(parse_dtype("float32"), DType::f32);
  EXPECT_EQ(parse_dtype("bfloat16"), DType::bf16);
  EXPECT_EQ(parse_dtype("int64"), DType::i64);
  try {
    parse_dtype("float128");
    FAIL();
  } catch (const DTypeError& e) {
    EXPECT_STREQ(e.what(), "unknown dtype 'float128': expected one of f64, f32, f16, bf16, i8, i32, i64, bool");
  }
}

TEST(DType, PromotionFollowsNumPyOrder) {
  EXPECT_EQ(promote(DType::i32, DType::f32), DType::f32);
  EXPECT_EQ(promote(DType::f32, DType::f64), DType::f64);
  EXPECT_EQ(promote(DType::b8, DType::i8), DType::i8);
  EXPECT_EQ(promote(DType::i8, DType::i64), DType::i64);
  EXPECT_EQ(promote(DType::f16, DType::bf16), DType::f32);
  EXPECT_EQ(promote(DType::i64, DType::f16), DType::f16);
}

TEST(DType, BFloat16RoundsToNearestEven) {
  // 1 + 2^-8 is exactly halfway between bf16 1.0 and 1.0078125: ties go to the even mantissa (1.0).
  EXPECT_EQ(bf16_to_float(float_to_bf16(1.0f + 0x1p-8f)), 1.0f);
  // 1 + 3*2^-8 is halfway between 1.0078125 (odd) and 1.015625 (even): rounds up.
  EXPECT_EQ(bf16_to_float(float_to_bf16(1.0f + 3 * 0x1p-8f)), 1.015625f);
  // Slightly above halfway rounds up.
  EXPECT_EQ(bf16_to_float(float_to_bf16(1.0f + 0x1p-8f + 0x1p-20f)), 1.0078125f);
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_EQ(bf16_to_float(float_to_bf16(-INFINITY)), -INFINITY);
}

TEST(DType, Float16RoundsToNearestEvenAndHandlesRanges) {
  EXPECT_EQ(f16_to_float(float_to_f16(1.0f)), 1.0f);
  EXPECT_EQ(f16_to_float(float_to_f16(1.0f + 0x1p-11f)), 1.0f);                  // tie -> even
  EXPECT_EQ(f16_to_float(float_to_f16(1.0f + 3 * 0x1p-11f)), 1.0f + 0x1p-9f);  // tie -> even (up)
  EXPECT_EQ(f16_to_float(float_to_f16(65504.0f)), 65504.0f);                    // largest half
  EXPECT_EQ(f16_to_float(float_to_f16(65520.0f)), INFINITY);                    // rounds past the max
  EXPECT_EQ(f16_to_float(float_to_f16(0x1p-24f)), 0x1p-24f);                    // smallest subnormal
  EXPECT_EQ(f16_to_float(float_to_f16(0x1p-25f)), 0.0f);                        // tie with 0 -> even (0)
  EXPECT_EQ(f16_to_float(float_to_f16(0x1.8p-25f)), 0x1p-24f);
  EXPECT_EQ(f16_to_float(float_to_f16(-2.5f)), -2.5f);
  EXPECT_TRUE(std::isnan(f16_to_float(float_to_f16(NAN))));
}

TEST(DType, Float16RoundTripsEveryHalfValue) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f16_to_float(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(float_to_f16(f), h) << "half bits " << h;
  }
}

}  // namespace
}  // namespace mithril
