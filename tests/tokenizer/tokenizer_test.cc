// Whole-tokenizer tests: the fixture tokenizers (trained and saved by the real
// HF library; expected.json holds the library's own encodings) and the
// loader's error handling.
#include "core/tokenizer/tokenizer.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace neobert::tokenizer {
namespace {

using nlohmann::json;

// $NEOBERT_FIXTURES (ctest sets it), else <build>/fixtures (a test binary
// run by hand). Tests skip when neither exists.
std::string FixtureDir(const std::string& variant) {
  const char* env = std::getenv("NEOBERT_FIXTURES");
  std::string root = env != nullptr && *env ? env : "";
#ifdef NEOBERT_BINARY_DIR
  if (root.empty() && std::filesystem::exists(std::string(NEOBERT_BINARY_DIR) + "/fixtures/index.json")) {
    root = std::string(NEOBERT_BINARY_DIR) + "/fixtures";
  }
#endif
  return root.empty() ? std::string() : root + "/" + variant;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class FixtureTokenizerTest : public ::testing::TestWithParam<const char*> {};

TEST_P(FixtureTokenizerTest, MatchesTheLibrarysSamplesAndVocabulary) {
  const std::string dir = FixtureDir(GetParam());
  if (dir.empty()) GTEST_SKIP() << "NEOBERT_FIXTURES not set";
  const json expected = json::parse(ReadText(dir + "/expected.json"))["tokenizer"];
  auto tok = Tokenizer::FromFile(neobert::base::FsRoot(), dir + "/tokenizer/tokenizer.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  ASSERT_FALSE(expected["samples"].empty());
  for (const json& s : expected["samples"]) {
    auto e = (*tok)->Encode(s["text"].get<std::string>());
    ASSERT_TRUE(e.ok()) << e.status();
    EXPECT_EQ(e->ids, s["ids"].get<std::vector<uint32_t>>()) << s["text"];
    EXPECT_EQ(e->tokens, s["tokens"].get<std::vector<std::string>>()) << s["text"];
    EXPECT_EQ(e->attention_mask, std::vector<uint32_t>(e->ids.size(), 1));
  }
  EXPECT_EQ((*tok)->VocabSize(false), expected["base_vocab_size"].get<size_t>());
  EXPECT_EQ((*tok)->VocabSize(true), expected["total_vocab_size"].get<size_t>());
  for (const auto& [role, st] : expected["special_tokens"].items()) {
    EXPECT_EQ((*tok)->TokenToId(st["content"].get<std::string>()), st["id"].get<uint32_t>()) << role;
    EXPECT_EQ((*tok)->IdToToken(st["id"].get<uint32_t>()), st["content"].get<std::string>()) << role;
  }
  if (!expected["placeholder_ids"].is_null()) {
    const uint32_t first = expected["placeholder_ids"][0].get<uint32_t>();
    const std::string name = "<|neobert_extra_token_" + std::to_string(first) + "|>";
    EXPECT_EQ((*tok)->TokenToId(name), first);
    auto e = (*tok)->Encode("a" + name + "b", false);
    ASSERT_TRUE(e.ok());
    EXPECT_NE(std::find(e->ids.begin(), e->ids.end(), first), e->ids.end());
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureTokenizerTest,
                         ::testing::Values("fp32_swiglu_rope_rms", "bpe_tokenizer", "tokenizer_v5",
                                           "unpadded_tokenizer"));

std::unique_ptr<Tokenizer> LoadFixture(const std::string& variant, json* edit = nullptr) {
  const std::string dir = FixtureDir(variant);
  if (dir.empty()) return nullptr;
  std::string text = ReadText(dir + "/tokenizer/tokenizer.json");
  if (edit != nullptr) {
    json j = json::parse(text);
    j.merge_patch(*edit);
    text = j.dump();
  }
  auto t = Tokenizer::FromJson(text, variant);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? std::move(*t) : nullptr;
}

TEST(TokenizerTest, EncodeBatchPadsToTheLongest) {
  auto tok = LoadFixture("bpe_tokenizer");
  if (tok == nullptr) GTEST_SKIP() << "NEOBERT_FIXTURES not set";
  const std::vector<std::string> texts = {"The cat sat on the mat.", "Hi", ""};
  auto no_pad_id = tok->EncodeBatch(texts);
  EXPECT_EQ(no_pad_id.status().code(), absl::StatusCode::kFailedPrecondition);  // file has no padding
  auto batch = tok->EncodeBatch(texts, true, 703);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 3u);
  auto single = tok->Encode("Hi");
  ASSERT_TRUE(single.ok());
  const size_t longest = (*batch)[0].ids.size();
  for (const Encoding& e : *batch) {
    EXPECT_EQ(e.ids.size(), longest);
    EXPECT_EQ(e.tokens.size(), longest);
    EXPECT_EQ(e.attention_mask.size(), longest);
  }
  const Encoding& hi = (*batch)[1];
  for (size_t i = 0; i < longest; ++i) {
    const bool real = i < single->ids.size();
    EXPECT_EQ(hi.attention_mask[i], real ? 1u : 0u);
    EXPECT_EQ(hi.ids[i], real ? single->ids[i] : 703u);
  }
  EXPECT_EQ(hi.tokens.back(), "<pad>");
  EXPECT_EQ((*batch)[2].ids[0], 700u);  // "" still gets <s> </s>
  auto ragged = tok->EncodeBatch(texts, false);
  ASSERT_TRUE(ragged.ok());
  EXPECT_EQ((*ragged)[1].ids, single->ids);
}

TEST(TokenizerTest, TruncationAndPaddingSectionsApply) {
  json edit = json::parse(R"({
    "truncation": {"direction": "Left", "max_length": 6, "strategy": "LongestFirst", "stride": 0},
    "padding": {"strategy": {"Fixed": 8}, "direction": "Left", "pad_to_multiple_of": null,
                "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"}})");
  auto tok = LoadFixture("fp32_swiglu_rope_rms", &edit);
  if (tok == nullptr) GTEST_SKIP() << "NEOBERT_FIXTURES not set";
  ASSERT_EQ(tok->PaddingId(), 0u);
  auto e = tok->Encode("the cat sat on the mat and watched the rain");
  ASSERT_TRUE(e.ok()) << e.status();
  // 6 tokens: [CLS] + last 4 word pieces + [SEP], padded on the left to 8.
  ASSERT_EQ(e->ids.size(), 8u);
  EXPECT_EQ(e->attention_mask, (std::vector<uint32_t>{0, 0, 1, 1, 1, 1, 1, 1}));
  EXPECT_EQ(e->tokens[0], "[PAD]");
  EXPECT_EQ(e->tokens[2], "[CLS]");
  EXPECT_EQ(e->tokens[7], "[SEP]");
  EXPECT_EQ(e->tokens[6], "rain");
  auto plain = tok->Encode("the cat sat on the mat and watched the rain", false);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->ids.size(), 8u);  // 6 content tokens without specials, padded to 8
  // Batch padding keeps the file's side and pad token.
  auto batch = tok->EncodeBatch({"a", "the cat sat on the mat and watched the rain"});
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ((*batch)[0].ids.size(), 8u);
  EXPECT_EQ((*batch)[0].ids[0], 0u);
}

TEST(TokenizerTest, LoadErrorsNameTheFileAndField) {
  auto missing = Tokenizer::FromFile(neobert::base::FsRoot(), "/nonexistent/tokenizer.json");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("/nonexistent/tokenizer.json"), std::string::npos);
  EXPECT_EQ(Tokenizer::FromFile(neobert::base::FsRoot(), "/tmp").status().code(), absl::StatusCode::kInvalidArgument);

  const std::string model = R"("model":{"type":"WordLevel","vocab":{"a":0},"unk_token":"a"})";
  struct Case {
    std::string json;
    absl::StatusCode code;
    std::string needle;
  } cases[] = {
      {"{", absl::StatusCode::kInvalidArgument, "not valid JSON"},
      {"[]", absl::StatusCode::kInvalidArgument, "top level"},
      {std::string(100, '[') + std::string(100, ']'), absl::StatusCode::kInvalidArgument, "nested"},
      {R"({"version":"2.0",)" + model + "}", absl::StatusCode::kInvalidArgument, "version"},
      {R"({"normalizer":null})", absl::StatusCode::kInvalidArgument, "x.json: model"},
      {R"({"pre_tokenizer":{"type":"UnicodeScripts"},)" + model + "}", absl::StatusCode::kUnimplemented,
       "x.json: pre_tokenizer.type"},
      {R"({"normalizer":{"type":"Precompiled","precompiled_charsmap":""},)" + model + "}",
       absl::StatusCode::kUnimplemented, "Precompiled"},
      {R"({"added_tokens":{"a":1},)" + model + "}", absl::StatusCode::kInvalidArgument, "x.json: added_tokens"},
      {R"({"added_tokens":[{"content":7}],)" + model + "}", absl::StatusCode::kInvalidArgument,
       "x.json: added_tokens[0].content"},
      {R"({"padding":{"strategy":"Sometimes","direction":"Right","pad_id":0,"pad_token":"a"},)" + model + "}",
       absl::StatusCode::kInvalidArgument, "x.json: padding.strategy"},
      {R"({"truncation":{"max_length":-1,"strategy":"LongestFirst","stride":0},)" + model + "}",
       absl::StatusCode::kInvalidArgument, "x.json: truncation.max_length"},
  };
  for (const Case& c : cases) {
    auto t = Tokenizer::FromJson(c.json, "x.json");
    ASSERT_FALSE(t.ok()) << c.json;
    EXPECT_EQ(t.status().code(), c.code) << t.status();
    EXPECT_NE(t.status().message().find(c.needle), std::string::npos) << t.status();
  }
}

TEST(TokenizerTest, InputMustBeUtf8) {
  auto t = Tokenizer::FromJson(R"({"model":{"type":"WordLevel","vocab":{"a":0},"unk_token":"a"}})", "x.json");
  ASSERT_TRUE(t.ok()) << t.status();
  auto e = (*t)->Encode("ok\xff");
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(e.status().message().find("byte 2"), std::string::npos);
  auto fine = (*t)->Encode("a");
  ASSERT_TRUE(fine.ok());
  EXPECT_EQ(fine->ids, (std::vector<uint32_t>{0}));
}

}  // namespace
}  // namespace neobert::tokenizer

namespace neobert::tokenizer {
namespace {

// Truncated and byte-flipped files must load or fail cleanly, never crash,
// and whatever loads must encode.
TEST(TokenizerTest, MutatedFilesFailCleanly) {
  const std::string base = R"({"version":"1.0","truncation":null,"padding":null,
    "added_tokens":[{"id":5,"content":"<m>","single_word":true,"lstrip":true,"rstrip":true,
                     "normalized":true,"special":true}],
    "normalizer":{"type":"Sequence","normalizers":[{"type":"NFKC"},{"type":"Lowercase"}]},
    "pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Metaspace","replacement":"▁",
                     "prepend_scheme":"first","split":true},{"type":"Digits","individual_digits":true}]},
    "post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<m>","type_id":0}},
                     {"Sequence":{"id":"A","type_id":0}}],"pair":[],
                     "special_tokens":{"<m>":{"id":"<m>","ids":[5],"tokens":["<m>"]}}},
    "decoder":null,
    "model":{"type":"BPE","unk_token":"u","byte_fallback":true,"fuse_unk":true,
             "vocab":{"u":0,"▁":1,"a":2,"b":3,"▁a":4,"ab":5,"<0x31>":6},
             "merges":[["▁","a"],["a","b"]]}})";
  auto ok = Tokenizer::FromJson(base, "m.json");
  ASSERT_TRUE(ok.ok()) << ok.status();
  auto e = (*ok)->Encode("AB 1 <M> x");
  ASSERT_TRUE(e.ok()) << e.status();
  int loaded = 0;
  for (size_t i = 0; i < base.size(); ++i) {
    std::string variants[] = {base.substr(0, i), base, base};
    variants[1][i] = static_cast<char>(variants[1][i] ^ 0x20);
    variants[2].erase(i, 1);
    for (const std::string& v : variants) {
      auto t = Tokenizer::FromJson(v, "m.json");
      if (!t.ok()) {
        EXPECT_NE(t.status().message().find("m.json"), std::string::npos) << t.status();
        continue;
      }
      ++loaded;
      auto r = (*t)->Encode("AB 1 <M> x \xE2\x96\x81 ab");
      if (!r.ok()) {
        EXPECT_NE(r.status().message().find("m.json"), std::string::npos) << r.status();
      }
    }
  }
  EXPECT_GT(loaded, 0);
}

}  // namespace
}  // namespace neobert::tokenizer
