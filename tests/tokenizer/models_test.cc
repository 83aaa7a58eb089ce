#include "core/tokenizer/models.h"

#include <gtest/gtest.h>

#include "tests/tokenizer/test_util.h"

namespace neobert::tokenizer {
namespace {

using testing::J;
using testing::U32;

struct Out {
  std::vector<uint32_t> ids;
  std::vector<std::string> tokens;
};

Out TokenizePiece(const Model& m, const std::string& piece) {
  std::vector<Token> t;
  absl::Status st = m.Tokenize(U32(piece), &t);
  EXPECT_TRUE(st.ok()) << st;
  Out o;
  for (auto& x : t) {
    o.ids.push_back(x.id);
    o.tokens.push_back(x.value);
  }
  return o;
}

std::unique_ptr<Model> Parse(const std::string& json) {
  auto m = ParseModel(nlohmann::json::parse(json), "t.json: model");
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? std::move(*m) : nullptr;
}

const char* kWordPiece = R"({"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"##",
  "max_input_chars_per_word":8,"vocab":{"[UNK]":0,"un":1,"##aff":2,"##able":3,"a":4,"##ff":5,"##a":6,
  "unaff":7,"é":8,"##é":9}})";

TEST(ModelsTest, WordPieceGreedyLongestMatch) {
  auto m = Parse(kWordPiece);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(TokenizePiece(*m, "unaffable").tokens, (std::vector<std::string>{"[UNK]"}));  // 9 chars > 8
  EXPECT_EQ(TokenizePiece(*m, "unaff").tokens, (std::vector<std::string>{"unaff"}));
  EXPECT_EQ(TokenizePiece(*m, "unaffa").tokens, (std::vector<std::string>{"unaff", "##a"}));
  EXPECT_EQ(TokenizePiece(*m, "aff").ids, (std::vector<uint32_t>{4, 5}));
  EXPECT_EQ(TokenizePiece(*m, "éé").ids, (std::vector<uint32_t>{8, 9}));
  EXPECT_EQ(TokenizePiece(*m, "ab").tokens, (std::vector<std::string>{"[UNK]"}));  // uncoverable: whole piece
  EXPECT_EQ(m->VocabSize(), 10u);
  EXPECT_EQ(m->TokenToId("##able"), 3u);
  EXPECT_EQ(m->IdToToken(7), "unaff");
}

TEST(ModelsTest, WordPieceWithoutUnknownFailsOnlyWhenNeeded) {
  auto m = Parse(R"({"type":"WordPiece","unk_token":"[UNK]","vocab":{"a":0}})");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(TokenizePiece(*m, "a").ids, (std::vector<uint32_t>{0}));
  std::vector<Token> t;
  absl::Status st = m->Tokenize(U32("b"), &t);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("[UNK]"), std::string::npos);
}

const char* kBpeVocab = R"("vocab":{"a":0,"b":1,"c":2,"ab":3,"bc":4,"abc":5,"<unk>":6,"<0x64>":7,"<0xC3>":8,
  "<0xA9>":9})";

TEST(ModelsTest, BpeAppliesLowestRankFirst) {
  auto m = Parse(std::string(R"({"type":"BPE",)") + kBpeVocab + R"(,"merges":[["b","c"],["a","b"],["a","bc"]]})");
  ASSERT_NE(m, nullptr);
  // "bc" ranks before "ab", so abc = a + bc -> abc.
  EXPECT_EQ(TokenizePiece(*m, "abc").tokens, (std::vector<std::string>{"abc"}));
  EXPECT_EQ(TokenizePiece(*m, "abab").tokens, (std::vector<std::string>{"ab", "ab"}));
  // Unknown characters are dropped without unk_token, so neighbours merge.
  EXPECT_EQ(TokenizePiece(*m, "axb").tokens, (std::vector<std::string>{"ab"}));  // x vanishes before merging
  auto legacy = Parse(std::string(R"({"type":"BPE",)") + kBpeVocab + R"(,"merges":["a b","b c"]})");
  ASSERT_NE(legacy, nullptr);
  EXPECT_EQ(TokenizePiece(*legacy, "abc").tokens, (std::vector<std::string>{"ab", "c"}));
}

TEST(ModelsTest, BpeUnknownAndByteFallback) {
  auto unk = Parse(std::string(R"({"type":"BPE","unk_token":"<unk>",)") + kBpeVocab + R"(,"merges":[]})");
  ASSERT_NE(unk, nullptr);
  EXPECT_EQ(TokenizePiece(*unk, "axyb").ids, (std::vector<uint32_t>{0, 6, 6, 1}));
  auto fused = Parse(std::string(R"({"type":"BPE","unk_token":"<unk>","fuse_unk":true,)") + kBpeVocab +
                     R"(,"merges":[]})");
  ASSERT_NE(fused, nullptr);
  EXPECT_EQ(TokenizePiece(*fused, "axyb").ids, (std::vector<uint32_t>{0, 6, 1}));
  auto fb = Parse(std::string(R"({"type":"BPE","unk_token":"<unk>","byte_fallback":true,)") + kBpeVocab +
                  R"(,"merges":[]})");
  ASSERT_NE(fb, nullptr);
  EXPECT_EQ(TokenizePiece(*fb, "déx").tokens, (std::vector<std::string>{"<0x64>", "<0xC3>", "<0xA9>", "<unk>"}));
}

TEST(ModelsTest, BpePrefixSuffixAndIgnoreMerges) {
  auto m = Parse(R"({"type":"BPE","continuing_subword_prefix":"##","end_of_word_suffix":"</w>",
    "vocab":{"a":0,"##b":1,"##c</w>":2,"ab":3,"abc</w>":4,"c</w>":5},"merges":[["a","##b"],["ab","##c</w>"]]})");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(TokenizePiece(*m, "abc").tokens, (std::vector<std::string>{"abc</w>"}));
  EXPECT_EQ(TokenizePiece(*m, "c").tokens, (std::vector<std::string>{"c</w>"}));
  auto im = Parse(std::string(R"({"type":"BPE","ignore_merges":true,)") + kBpeVocab + R"(,"merges":[]})");
  ASSERT_NE(im, nullptr);
  EXPECT_EQ(TokenizePiece(*im, "abc").tokens, (std::vector<std::string>{"abc"}));
}

TEST(ModelsTest, WordLevelAndTypeDetection) {
  auto m = Parse(R"({"type":"WordLevel","vocab":{"hello":0,"<unk>":1},"unk_token":"<unk>"})");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(TokenizePiece(*m, "hello").ids, (std::vector<uint32_t>{0}));
  EXPECT_EQ(TokenizePiece(*m, "world").tokens, (std::vector<std::string>{"<unk>"}));
  // Old files without "type".
  auto bpe = Parse(R"({"vocab":{"a":0},"merges":[]})");
  ASSERT_NE(bpe, nullptr);
  EXPECT_EQ(TokenizePiece(*bpe, "a").ids, (std::vector<uint32_t>{0}));
  auto wp = Parse(R"({"vocab":{"a":0},"unk_token":"a","continuing_subword_prefix":"##",
                      "max_input_chars_per_word":100})");
  ASSERT_NE(wp, nullptr);
}

TEST(ModelsTest, RefusedModels) {
  auto uni = ParseModel(J(R"({"type":"Unigram","unk_id":0,"vocab":[["<unk>",0.0]]})"), "m.json: model");
  ASSERT_FALSE(uni.ok());
  EXPECT_EQ(uni.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(uni.status().message().find("Unigram"), std::string::npos);
  auto drop = ParseModel(J(R"({"type":"BPE","dropout":0.1,"vocab":{"a":0},"merges":[]})"), "m");
  EXPECT_EQ(drop.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_TRUE(ParseModel(J(R"({"type":"BPE","dropout":0.0,"vocab":{"a":0},"merges":[]})"), "m").ok());

  const char* bad[] = {
      R"({"type":"BPE","vocab":{"a":0,"b":1},"merges":[["a","x"]]})",       // merge token not in vocab
      R"({"type":"BPE","vocab":{"a":0,"b":1},"merges":[["a","b"]]})",       // merged token not in vocab
      R"({"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b c"]})",  // legacy line with 3 parts
      R"({"type":"BPE","vocab":{"a":0},"merges":[["a"]]})",
      R"({"type":"BPE","vocab":{"a":-1},"merges":[]})",
      R"({"type":"BPE","vocab":{"a":4294967296},"merges":[]})",
      R"({"type":"BPE","vocab":{"a":0}})",
      R"({"type":"WordPiece","vocab":[]})",
      R"({"type":"WordPiece","vocab":{"a":0},"max_input_chars_per_word":-3})",
  };
  for (const char* b : bad) {
    auto r = ParseModel(J(b), "m.json: model");
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << b;
    EXPECT_NE(r.status().message().find("m.json: model"), std::string::npos) << r.status();
  }
}

}  // namespace
}  // namespace neobert::tokenizer
