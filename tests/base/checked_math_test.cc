#include "core/base/checked_math.h"

#include <cstdint>
#include <limits>

#include "gtest/gtest.h"

namespace neobert::base {
namespace {

TEST(CheckedMathTest, AddAndMulReportOverflow) {
  EXPECT_EQ(CheckedAdd<uint64_t>(2, 3), 5u);
  EXPECT_EQ(CheckedAdd<uint64_t>(UINT64_MAX, 1), std::nullopt);
  EXPECT_EQ(CheckedMul<uint64_t>(uint64_t{1} << 32, uint64_t{1} << 31), uint64_t{1} << 63);
  EXPECT_EQ(CheckedMul<uint64_t>(uint64_t{1} << 32, uint64_t{1} << 32), std::nullopt);
  EXPECT_EQ(CheckedMul<int64_t>(-4, 5), -20);
  EXPECT_EQ(CheckedMul<int64_t>(std::numeric_limits<int64_t>::min(), -1), std::nullopt);
  EXPECT_EQ(CheckedAdd<int64_t>(std::numeric_limits<int64_t>::max(), 1), std::nullopt);
}

TEST(CheckedMathTest, RangeInsideNeverComputesTheEnd) {
  EXPECT_TRUE(RangeInside(0, 10, 10));
  EXPECT_TRUE(RangeInside(10, 0, 10));
  EXPECT_FALSE(RangeInside(11, 0, 10));
  EXPECT_FALSE(RangeInside(5, 6, 10));
  EXPECT_FALSE(RangeInside(8, UINT64_MAX - 4, 10));  // offset + n would wrap to 3
  EXPECT_FALSE(RangeInside(UINT64_MAX, 2, UINT64_MAX));
}

}  // namespace
}  // namespace neobert::base
