#include "core/tokenizer/unicode.h"

#include <gtest/gtest.h>

#include "tests/tokenizer/test_util.h"

namespace neobert::tokenizer {
namespace {

using testing::U32;
using unicode::Has;

std::string Norm(unicode::NormalForm f, const std::string& s) {
  std::u32string out;
  std::vector<uint32_t> origin;
  unicode::Normalize(f, U32(s), &out, &origin);
  return unicode::ToUtf8(out);
}

TEST(UnicodeTest, BertProperties) {
  EXPECT_TRUE(Has(U'!', unicode::kBertPunct));
  EXPECT_TRUE(Has(U'$', unicode::kBertPunct));   // ASCII symbol counts as BERT punctuation
  EXPECT_TRUE(Has(U'^', unicode::kBertPunct));
  EXPECT_FALSE(Has(U'€', unicode::kBertPunct));  // Sc outside ASCII does not
  EXPECT_TRUE(Has(U'「', unicode::kBertPunct));
  EXPECT_FALSE(Has(U'a', unicode::kBertPunct));
  // Unicode 8 categories, as the Rust unicode_categories crate ships them:
  // U+166D was Po before Unicode 12, U+2E43 (Unicode 9) is unknown to it.
  EXPECT_TRUE(Has(0x166D, unicode::kBertPunct));
  EXPECT_FALSE(Has(0x2E43, unicode::kBertPunct));

  EXPECT_TRUE(Has(0x0301, unicode::kBertMn));
  EXPECT_FALSE(Has(0x08D4, unicode::kBertMn));  // Mn only since Unicode 9
  EXPECT_FALSE(Has(0x0903, unicode::kBertMn));  // Mc
  EXPECT_TRUE(Has(0x0903, unicode::kCombiningMark));

  EXPECT_TRUE(Has(0x00, unicode::kBertControl));
  EXPECT_TRUE(Has(0x200B, unicode::kBertControl));  // Cf
  EXPECT_TRUE(Has(0xE000, unicode::kBertControl));  // Co
  EXPECT_TRUE(Has(0xFFFD, unicode::kBertControl));
  EXPECT_FALSE(Has(U'\t', unicode::kBertControl));
  EXPECT_FALSE(Has(U'\n', unicode::kBertControl));
  EXPECT_TRUE(Has(0x85, unicode::kBertControl));

  for (char32_t c : {U' ', U'\t', U'\n', U'\r', char32_t{0xA0}, char32_t{0x3000}, char32_t{0x2028}}) {
    EXPECT_TRUE(Has(c, unicode::kWhiteSpace)) << static_cast<uint32_t>(c);
  }
  EXPECT_FALSE(Has(0x200B, unicode::kWhiteSpace));
  EXPECT_FALSE(Has(0x1C, unicode::kWhiteSpace));  // Python's isspace says yes; White_Space no
}

TEST(UnicodeTest, RegexClasses) {
  EXPECT_TRUE(Has(U'é', unicode::kOnigLetter));
  EXPECT_TRUE(Has(U'中', unicode::kOnigLetter));
  EXPECT_FALSE(Has(U'1', unicode::kOnigLetter));
  EXPECT_TRUE(Has(U'٣', unicode::kOnigNumber));
  EXPECT_TRUE(Has(U'½', unicode::kOnigNumber));
  EXPECT_TRUE(Has(0x1C89, unicode::kOnigLetter));  // Unicode 16 letter, known to Oniguruma
  EXPECT_TRUE(Has(U'_', unicode::kRegexWord));
  EXPECT_TRUE(Has(0x0301, unicode::kRegexWord));
  EXPECT_TRUE(Has(0x24B6, unicode::kRegexWord));  // Ⓐ is Alphabetic
  EXPECT_FALSE(Has(U'-', unicode::kRegexWord));
  EXPECT_TRUE(Has(U'Ⅻ', unicode::kNumeric));
  EXPECT_FALSE(Has(U'x', unicode::kNumeric));
}

TEST(UnicodeTest, BertChinese) {
  EXPECT_TRUE(unicode::IsBertChinese(U'中'));
  EXPECT_TRUE(unicode::IsBertChinese(0x20000));
  EXPECT_TRUE(unicode::IsBertChinese(0xF900));
  EXPECT_FALSE(unicode::IsBertChinese(U'あ'));
  EXPECT_FALSE(unicode::IsBertChinese(U'한'));
  EXPECT_FALSE(unicode::IsBertChinese(0x2B820));  // the library's ranges skip it
}

TEST(UnicodeTest, Lowercase) {
  char32_t out[3];
  ASSERT_EQ(unicode::Lowercase(U'A', out), 1);
  EXPECT_EQ(out[0], U'a');
  ASSERT_EQ(unicode::Lowercase(U'Σ', out), 1);
  EXPECT_EQ(out[0], U'σ');  // no final-sigma context per character
  ASSERT_EQ(unicode::Lowercase(0x130, out), 2);  // İ -> i + combining dot
  EXPECT_EQ(out[0], U'i');
  EXPECT_EQ(out[1], char32_t{0x307});
  ASSERT_EQ(unicode::Lowercase(U'ǅ', out), 1);
  EXPECT_EQ(out[0], U'ǆ');
  ASSERT_EQ(unicode::Lowercase(0x1C89, out), 1);  // Unicode 16 (Rust std knows it)
  EXPECT_EQ(out[0], char32_t{0x1C8A});
  ASSERT_EQ(unicode::Lowercase(U'ß', out), 1);
  EXPECT_EQ(out[0], U'ß');
  ASSERT_EQ(unicode::Lowercase(0x10400, out), 1);
  EXPECT_EQ(out[0], char32_t{0x10428});
}

TEST(UnicodeTest, NormalForms) {
  using F = unicode::NormalForm;
  EXPECT_EQ(Norm(F::kNFD, "é"), "e\u0301");
  EXPECT_EQ(Norm(F::kNFC, "e\u0301"), "é");
  EXPECT_EQ(Norm(F::kNFD, "각"), "\u1100\u1161\u11a8");
  EXPECT_EQ(Norm(F::kNFC, "\u1100\u1161\u11a8"), "각");
  EXPECT_EQ(Norm(F::kNFC, "\u212b"), "Å");        // singleton decomposition
  EXPECT_EQ(Norm(F::kNFKC, "ﬁ"), "fi");
  EXPECT_EQ(Norm(F::kNFC, "ﬁ"), "ﬁ");
  EXPECT_EQ(Norm(F::kNFKD, "①"), "1");
  EXPECT_EQ(Norm(F::kNFKC, "ｶﾞ"), "ガ");
  // Canonical ordering: ccc 220 (dot below) before ccc 230 (acute).
  EXPECT_EQ(Norm(F::kNFD, "a\u0301\u0323"), "a\u0323\u0301");
  EXPECT_EQ(Norm(F::kNFC, "a\u0301\u0323"), "ạ\u0301");
  // Composition exclusion: U+0958 stays decomposed under NFC.
  EXPECT_EQ(Norm(F::kNFC, "\u0958"), "\u0915\u093c");
  // Blocked: a second acute cannot compose once the first did.
  EXPECT_EQ(Norm(F::kNFC, "e\u0301\u0301"), "é\u0301");
  // Unicode 9 data: U+11938 (Unicode 13) does not decompose for the library.
  EXPECT_EQ(Norm(F::kNFD, "\U00011938"), "\U00011938");
}

TEST(UnicodeTest, NormalizeOrigins) {
  std::u32string out;
  std::vector<uint32_t> origin;
  unicode::Normalize(unicode::NormalForm::kNFD, U32("aé"), &out, &origin);
  EXPECT_EQ(origin, (std::vector<uint32_t>{0, 1, 1}));
  unicode::Normalize(unicode::NormalForm::kNFC, U32("xe\u0301y"), &out, &origin);
  EXPECT_EQ(unicode::ToUtf8(out), "xéy");
  EXPECT_EQ(origin, (std::vector<uint32_t>{0, 1, 3}));
}

TEST(UnicodeTest, Utf8) {
  std::u32string out;
  std::vector<uint32_t> offsets;
  size_t bad = 0;
  ASSERT_TRUE(unicode::DecodeUtf8("aé中😀", &out, &offsets, &bad));
  EXPECT_EQ(out, U"aé中😀");
  EXPECT_EQ(offsets, (std::vector<uint32_t>{0, 1, 3, 6}));
  EXPECT_EQ(unicode::ToUtf8(out), "aé中😀");
  const std::pair<std::string, size_t> invalid[] = {
      {"ab\xC0\x80", 2},          // overlong NUL
      {"\xED\xA0\x80", 0},        // surrogate
      {"x\xF4\x90\x80\x80", 1},   // above U+10FFFF
      {"xy\xE4\xB8", 2},          // truncated
      {"\x80", 0},                // stray continuation
      {"\xE0\x80\xAF", 0},        // overlong three-byte
  };
  for (const auto& [s, at] : invalid) {
    EXPECT_FALSE(unicode::DecodeUtf8(s, &out, nullptr, &bad));
    EXPECT_EQ(bad, at);
  }
}

}  // namespace
}  // namespace neobert::tokenizer
