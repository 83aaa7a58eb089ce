#include "core/format/le_cursor.h"

#include <cstdint>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace neobert::format {
namespace {

using ::testing::HasSubstr;

TEST(LeCursorTest, ReadsLittleEndianFieldsInOrder) {
  const std::vector<uint8_t> bytes = {0x01, 0x34, 0x12, 0x78, 0x56, 0x34, 0x12, 0xef, 0xcd,
                                      0xab, 0x89, 0x67, 0x45, 0x23, 0x01, 0xaa, 0xbb};
  LeCursor c(bytes);
  EXPECT_EQ(*c.U8("a"), 0x01);
  EXPECT_EQ(*c.U16("b"), 0x1234);
  EXPECT_EQ(*c.U32("c"), 0x12345678u);
  EXPECT_EQ(*c.U64("d"), 0x0123456789abcdefull);
  EXPECT_EQ(c.position(), 15u);
  EXPECT_EQ(c.remaining(), 2u);
  auto tail = c.Take(2, "tail");
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ((*tail)[0], 0xaa);
  EXPECT_EQ((*tail)[1], 0xbb);
  EXPECT_TRUE(c.done());
}

TEST(LeCursorTest, UintTakesAnyWidthUpToEight) {
  const std::vector<uint8_t> bytes = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};
  LeCursor c(bytes);
  EXPECT_EQ(*c.Uint(3, "x"), 0x030201u);
  EXPECT_EQ(*c.Uint(4, "y"), 0x07060504u);
  EXPECT_EQ(LeCursor::LoadLe(bytes.data() + 1, 2), 0x0302u);
}

TEST(LeCursorTest, ShortReadFailsNamingTheFieldAndDoesNotMove) {
  const std::vector<uint8_t> bytes = {1, 2, 3};
  LeCursor c(bytes);
  ASSERT_TRUE(c.Skip(1, "lead").ok());
  auto v = c.U32("record length");
  ASSERT_FALSE(v.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(v.status()));
  EXPECT_THAT(v.status().message(), HasSubstr("record length needs 4 bytes but only 2 remain"));
  EXPECT_EQ(c.position(), 1u);
  EXPECT_FALSE(c.Take(3, "name").ok());
  EXPECT_FALSE(c.Skip(3, "pad").ok());
  EXPECT_EQ(c.position(), 1u);
  EXPECT_EQ(*c.U16("rest"), 0x0302);
  EXPECT_TRUE(c.done());
  EXPECT_FALSE(c.U8("past the end").ok());
}

TEST(LeCursorTest, HugeLengthsNeverWrap) {
  const std::vector<uint8_t> bytes(8, 0);
  LeCursor c(bytes);
  ASSERT_TRUE(c.Skip(4, "x").ok());
  EXPECT_FALSE(c.Take(UINT64_MAX, "huge").ok());
  EXPECT_FALSE(c.Skip(UINT64_MAX - 2, "huge").ok());
  EXPECT_EQ(c.remaining(), 4u);
}

TEST(LeCursorTest, EmptySpan) {
  LeCursor c(absl::Span<const uint8_t>{});
  EXPECT_TRUE(c.done());
  EXPECT_TRUE(c.rest().empty());
  EXPECT_TRUE(c.Take(0, "nothing").ok());
  EXPECT_FALSE(c.U8("byte").ok());
}

}  // namespace
}  // namespace neobert::format
