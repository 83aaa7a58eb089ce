#include "core/tokenizer/normalizers.h"

#include <gtest/gtest.h>

#include "tests/tokenizer/test_util.h"

namespace neobert::tokenizer {
namespace {

using testing::FromUtf8;
using testing::J;

std::string Apply(const char* json, const std::string& text) {
  auto n = ParseNormalizer(J(json), "t.json: normalizer");
  EXPECT_TRUE(n.ok()) << n.status();
  if (!n.ok()) return "<error>";
  NormalizedString s = FromUtf8(text);
  (*n)->Normalize(&s);
  return s.Utf8();
}

TEST(NormalizersTest, BertNormalizerDefaultsLowercaseAndStripAccents) {
  const char* bert = R"({"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,
                         "strip_accents":null,"lowercase":true})";
  EXPECT_EQ(Apply(bert, "Héllo\tWORLD\u00a0x"), "hello world x");
  using std::string_literals::operator""s;
  EXPECT_EQ(Apply(bert, "a\0b\u200bc\ufffdd\u0001e"s), "abcde");  // controls dropped
  EXPECT_EQ(Apply(bert, "中文ab"), " 中  文 ab");
  EXPECT_EQ(Apply(bert, "İ"), "i");  // NFD splits off the dot before lowercasing
  EXPECT_EQ(Apply(bert, "ÅNGSTRÖM"), "angstrom");
}

TEST(NormalizersTest, BertNormalizerOptions) {
  EXPECT_EQ(Apply(R"({"type":"BertNormalizer","clean_text":false,"handle_chinese_chars":false,
                      "strip_accents":null,"lowercase":false})", "Héllo\t中"), "Héllo\t中");
  // strip_accents explicitly on without lowercase.
  EXPECT_EQ(Apply(R"({"type":"BertNormalizer","clean_text":false,"handle_chinese_chars":false,
                      "strip_accents":true,"lowercase":false})", "Héllo"), "Hello");
  // lowercase without stripping accents.
  EXPECT_EQ(Apply(R"({"type":"BertNormalizer","strip_accents":false,"lowercase":true})", "HÉ"), "hé");
}

TEST(NormalizersTest, SimpleNormalizers) {
  EXPECT_EQ(Apply(R"({"type":"Lowercase"})", "ÀB Σ"), "àb σ");
  EXPECT_EQ(Apply(R"({"type":"StripAccents"})", "é"), "é");  // no decomposition of its own
  EXPECT_EQ(Apply(R"({"type":"StripAccents"})", "e\u0301\u0903"), "e");
  EXPECT_EQ(Apply(R"({"type":"NFD"})", "é"), "e\u0301");
  EXPECT_EQ(Apply(R"({"type":"NFKC"})", "ﬁ①"), "fi1");
  EXPECT_EQ(Apply(R"({"type":"NFKD"})", "ǅ"), "Dz\u030c");
  EXPECT_EQ(Apply(R"({"type":"NFC"})", "A\u030a"), "Å");
  EXPECT_EQ(Apply(R"({"type":"Strip","strip_left":true,"strip_right":false})", "  a b  "), "a b  ");
  EXPECT_EQ(Apply(R"({"type":"Strip","strip_left":true,"strip_right":true})", "\u3000a\n"), "a");
  EXPECT_EQ(Apply(R"({"type":"Prepend","prepend":"▁"})", "ab"), "▁ab");
  EXPECT_EQ(Apply(R"({"type":"Prepend","prepend":"▁"})", ""), "");
  EXPECT_EQ(Apply(R"({"type":"Replace","pattern":{"String":" "},"content":"▁"})", " a  b"), "▁a▁▁b");
  EXPECT_EQ(Apply(R"({"type":"Replace","pattern":{"String":"aa"},"content":""})", "aaab"), "ab");
  EXPECT_EQ(Apply(R"({"type":"Nmt"})", "a\u0001b\tc\u200bd"), "ab c d");
  EXPECT_EQ(Apply(R"({"type":"ByteLevel"})", "a é"), "aĠÃ©");
  EXPECT_EQ(Apply(R"({"type":"Sequence","normalizers":[{"type":"NFD"},{"type":"StripAccents"},
                                                        {"type":"Lowercase"}]})", "CAFÉ"), "cafe");
}

TEST(NormalizersTest, OriginsFollowTheText) {
  auto n = ParseNormalizer(J(R"({"type":"Strip","strip_left":true,"strip_right":true})"), "n");
  ASSERT_TRUE(n.ok());
  NormalizedString s = FromUtf8("  ab");
  (*n)->Normalize(&s);
  EXPECT_EQ(s.Utf8(), "ab");
  EXPECT_EQ(s.origin_of(0), 2u);  // 'a' still knows it came from byte 2
  EXPECT_EQ(s.original_start(), 0u);
  EXPECT_EQ(s.Slice(0, 2).original_start(), 2u);
}

TEST(NormalizersTest, UnsupportedTypesAreNamed) {
  auto p = ParseNormalizer(J(R"({"type":"Precompiled","precompiled_charsmap":"AAAA"})"), "f.json: normalizer");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(p.status().message().find("Precompiled"), std::string::npos);
  EXPECT_NE(p.status().message().find("f.json: normalizer.type"), std::string::npos);

  auto r = ParseNormalizer(J(R"({"type":"Replace","pattern":{"Regex":"\\s+"},"content":" "})"), "n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(r.status().message().find("Regex"), std::string::npos);

  auto seq = ParseNormalizer(J(R"({"type":"Sequence","normalizers":[{"type":"NFC"},{"type":"Magic"}]})"), "n");
  ASSERT_FALSE(seq.ok());
  EXPECT_NE(seq.status().message().find("n.normalizers[1].type"), std::string::npos);
  EXPECT_NE(seq.status().message().find("'Magic'"), std::string::npos);
}

TEST(NormalizersTest, MalformedFieldsAreInvalid) {
  auto a = ParseNormalizer(J(R"({"type":"BertNormalizer","lowercase":"yes"})"), "f: normalizer");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(a.status().message().find("f: normalizer.lowercase"), std::string::npos);
  EXPECT_FALSE(ParseNormalizer(J(R"({"lowercase":true})"), "n").ok());
  EXPECT_FALSE(ParseNormalizer(J(R"([1,2])"), "n").ok());
  EXPECT_FALSE(ParseNormalizer(J(R"({"type":"Strip","strip_left":true})"), "n").ok());
  EXPECT_FALSE(ParseNormalizer(J(R"({"type":"Sequence"})"), "n").ok());
  // Nesting is bounded.
  std::string deep = R"({"type":"NFC"})";
  for (int i = 0; i < 40; ++i) deep = R"({"type":"Sequence","normalizers":[)" + deep + "]}";
  auto d = ParseNormalizer(nlohmann::json::parse(deep), "n");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("nested too deeply"), std::string::npos);
}

}  // namespace
}  // namespace neobert::tokenizer
