#include "core/tokenizer/pre_tokenizers.h"

#include <gtest/gtest.h>

#include "tests/tokenizer/test_util.h"

namespace neobert::tokenizer {
namespace {

using testing::J;
using testing::PieceTexts;
using testing::Single;
using V = std::vector<std::string>;

V Pieces(const char* json, const std::string& text) {
  auto p = ParsePreTokenizer(J(json), "t.json: pre_tokenizer");
  EXPECT_TRUE(p.ok()) << p.status();
  if (!p.ok()) return {"<error>"};
  PreTokenizedString s = Single(text);
  (*p)->PreTokenize(&s);
  return PieceTexts(s);
}

TEST(PreTokenizersTest, Bert) {
  EXPECT_EQ(Pieces(R"({"type":"BertPreTokenizer"})", "Hey friend!  How are you?!?"),
            (V{"Hey", "friend", "!", "How", "are", "you", "?", "!", "?"}));
  EXPECT_EQ(Pieces(R"({"type":"BertPreTokenizer"})", "a$b\u3000c「d」"), (V{"a", "$", "b", "c", "「", "d", "」"}));
}

TEST(PreTokenizersTest, ByteLevelRegex) {
  const char* bl = R"({"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true})";
  EXPECT_EQ(Pieces(bl, "Hello world"), (V{"Hello", "Ġworld"}));
  EXPECT_EQ(Pieces(bl, "I'm don't 'S"), (V{"I", "'m", "Ġdon", "'t", "Ġ'", "S"}));
  EXPECT_EQ(Pieces(bl, "a   b"), (V{"a", "ĠĠ", "Ġb"}));  // \s+(?!\S) leaves one space for " b"
  EXPECT_EQ(Pieces(bl, "a  "), (V{"a", "ĠĠ"}));
  EXPECT_EQ(Pieces(bl, "x123 456!!?"), (V{"x", "123", "Ġ456", "!!?"}));
  EXPECT_EQ(Pieces(bl, "é"), (V{"Ã©"}));
  const char* prefixed = R"({"type":"ByteLevel","add_prefix_space":true,"use_regex":true})";
  EXPECT_EQ(Pieces(prefixed, "Hello"), (V{"ĠHello"}));
  EXPECT_EQ(Pieces(prefixed, " Hello"), (V{"ĠHello"}));
  const char* noregex = R"({"type":"ByteLevel","add_prefix_space":false,"use_regex":false})";
  EXPECT_EQ(Pieces(noregex, "a b"), (V{"aĠb"}));
}

TEST(PreTokenizersTest, ByteLevelSpansCoverEverything) {
  const std::u32string t = testing::U32("it's  a\t\ttest 😀😀 ١٢ …");
  size_t expect = 0;
  for (const auto& [b, e] : ByteLevelSpans(t)) {
    EXPECT_EQ(b, expect);
    EXPECT_LT(b, e);
    expect = e;
  }
  EXPECT_EQ(expect, t.size());
}

TEST(PreTokenizersTest, Metaspace) {
  EXPECT_EQ(Pieces(R"({"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true})",
                   "Hey  friend"),
            (V{"▁Hey", "▁", "▁friend"}));
  EXPECT_EQ(Pieces(R"({"type":"Metaspace","replacement":"▁","prepend_scheme":"never","split":true})", "Hey friend"),
            (V{"Hey", "▁friend"}));
  EXPECT_EQ(Pieces(R"({"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":false})", "a b"),
            (V{"▁a▁b"}));
  // Legacy add_prefix_space=false means "never".
  EXPECT_EQ(Pieces(R"({"type":"Metaspace","replacement":"▁","add_prefix_space":false})", "a"), (V{"a"}));
  EXPECT_FALSE(ParsePreTokenizer(J(R"({"type":"Metaspace","replacement":"▁","add_prefix_space":false,
                                       "prepend_scheme":"always"})"), "p").ok());
  EXPECT_FALSE(ParsePreTokenizer(J(R"({"type":"Metaspace","replacement":"ab"})"), "p").ok());
}

TEST(PreTokenizersTest, MetaspaceFirstOnlyPrependsAtTheInputStart) {
  auto p = ParsePreTokenizer(J(R"({"type":"Metaspace","replacement":"▁","prepend_scheme":"first"})"), "p");
  ASSERT_TRUE(p.ok());
  PreTokenizedString s;
  NormalizedString whole = testing::FromUtf8("a b[X]c d");
  s.splits().push_back(Split{whole.Slice(0, 3), std::nullopt});
  s.splits().push_back(Split{whole.Slice(3, 6), std::vector<Token>{{7, "[X]"}}});
  s.splits().push_back(Split{whole.Slice(6, 9), std::nullopt});
  (*p)->PreTokenize(&s);
  EXPECT_EQ(PieceTexts(s), (V{"▁a", "▁b", "[X]", "c", "▁d"}));
}

TEST(PreTokenizersTest, SplittingFamilies) {
  EXPECT_EQ(Pieces(R"({"type":"Whitespace"})", "Hey friend!  How-are_you?!?"),
            (V{"Hey", "friend", "!", "How", "-", "are_you", "?!?"}));
  EXPECT_EQ(Pieces(R"({"type":"WhitespaceSplit"})", " a\tb\u00a0c "), (V{"a", "b", "c"}));
  EXPECT_EQ(Pieces(R"({"type":"Punctuation"})", "a,b..c"), (V{"a", ",", "b", ".", ".", "c"}));
  EXPECT_EQ(Pieces(R"({"type":"Punctuation","behavior":"Contiguous"})", "a,b..c"), (V{"a", ",", "b", "..", "c"}));
  EXPECT_EQ(Pieces(R"({"type":"Punctuation","behavior":"MergedWithPrevious"})", "a,b..c"), (V{"a,", "b.", ".", "c"}));
  EXPECT_EQ(Pieces(R"({"type":"Punctuation","behavior":"MergedWithNext"})", "a,b..c"), (V{"a", ",b", ".", ".c"}));
  EXPECT_EQ(Pieces(R"({"type":"Punctuation","behavior":"Removed"})", "a,b..c"), (V{"a", "b", "c"}));
  EXPECT_EQ(Pieces(R"({"type":"Digits","individual_digits":true})", "a12b٣"), (V{"a", "1", "2", "b", "٣"}));
  EXPECT_EQ(Pieces(R"({"type":"Digits","individual_digits":false})", "a12b½"), (V{"a", "12", "b", "½"}));
  EXPECT_EQ(Pieces(R"({"type":"CharDelimiterSplit","delimiter":"-"})", "a-b--c"), (V{"a", "b", "c"}));
  EXPECT_EQ(Pieces(R"({"type":"Split","pattern":{"String":"ab"},"behavior":"Isolated","invert":false})", "xabyabab"),
            (V{"x", "ab", "y", "ab", "ab"}));
  EXPECT_EQ(Pieces(R"({"type":"Split","pattern":{"String":"ab"},"behavior":"Removed","invert":true})", "xabyab"),
            (V{"ab", "ab"}));
  EXPECT_EQ(Pieces(R"({"type":"FixedLength","length":2})", "abcde"), (V{"ab", "cd", "e"}));
  EXPECT_EQ(Pieces(R"({"type":"Sequence","pretokenizers":[{"type":"WhitespaceSplit"},
                                                          {"type":"Digits","individual_digits":true}]})",
                   "a1 22"),
            (V{"a", "1", "2", "2"}));
}

TEST(PreTokenizersTest, UnsupportedAndMalformed) {
  auto r = ParsePreTokenizer(J(R"({"type":"Split","pattern":{"Regex":"\\d+"},"behavior":"Isolated","invert":false})"),
                             "x.json: pre_tokenizer");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(r.status().message().find("x.json: pre_tokenizer.pattern"), std::string::npos);
  auto u = ParsePreTokenizer(J(R"({"type":"UnicodeScripts"})"), "p");
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(u.status().message().find("UnicodeScripts"), std::string::npos);
  EXPECT_EQ(ParsePreTokenizer(J(R"({"type":"Nope"})"), "p").status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(ParsePreTokenizer(J(R"({"type":"Punctuation","behavior":"Sideways"})"), "p").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ParsePreTokenizer(J(R"({"type":"FixedLength","length":0})"), "p").ok());
  EXPECT_FALSE(ParsePreTokenizer(J(R"({"type":"ByteLevel","add_prefix_space":1})"), "p").ok());
}

}  // namespace
}  // namespace neobert::tokenizer
