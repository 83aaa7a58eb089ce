// Added-token behaviour, checked through whole tokenizers built from JSON.
// Expected values were confirmed with the reference library (npm tokenizers).
#include <gtest/gtest.h>

#include "core/tokenizer/tokenizer.h"

namespace neobert::tokenizer {
namespace {

using V = std::vector<std::string>;

const char* kJson = R"({"version":"1.0","truncation":null,"padding":null,
  "added_tokens":[
    {"id":0,"content":"[MASK]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
    {"id":0,"content":"hello","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
    {"id":0,"content":"New","single_word":false,"lstrip":false,"rstrip":false,"normalized":true,"special":false},
    {"id":0,"content":"cat","single_word":true,"lstrip":false,"rstrip":false,"normalized":true,"special":false},
    {"id":0,"content":"<m>","single_word":false,"lstrip":true,"rstrip":true,"normalized":false,"special":false},
    {"id":3,"content":"ab","single_word":false,"lstrip":false,"rstrip":false,"normalized":true,"special":false},
    {"id":0,"content":"[MASK]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}],
  "normalizer":{"type":"Lowercase"},"pre_tokenizer":{"type":"WhitespaceSplit"},"post_processor":null,
  "decoder":null,"model":{"type":"WordLevel","vocab":{"[UNK]":0,"hello":1,"world":2,"x":3},"unk_token":"[UNK]"}})";

std::unique_ptr<Tokenizer> Load(const std::string& json = kJson) {
  auto t = Tokenizer::FromJson(json, "added.json");
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? std::move(*t) : nullptr;
}

TEST(AddedVocabularyTest, IdsFollowTheLibraryNotTheFile) {
  auto t = Load();
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->TokenToId("hello"), 1u);  // already in the model: keeps its id
  EXPECT_EQ(t->TokenToId("[MASK]"), 4u);  // then model size, +1, ... in file order
  EXPECT_EQ(t->TokenToId("New"), 5u);
  EXPECT_EQ(t->TokenToId("cat"), 6u);
  EXPECT_EQ(t->TokenToId("<m>"), 7u);
  EXPECT_EQ(t->TokenToId("ab"), 8u);  // the file said 3
  EXPECT_EQ(t->IdToToken(5), "new");  // normalized form, as the library reports it
  EXPECT_EQ(t->VocabSize(true), 9u);
  EXPECT_EQ(t->VocabSize(false), 4u);
}

TEST(AddedVocabularyTest, Matching) {
  auto t = Load();
  ASSERT_NE(t, nullptr);
  struct Case {
    std::string text;
    V tokens;
    std::vector<uint32_t> ids;
  } cases[] = {
      {"HELLO [MASK]world", {"hello", "[MASK]", "world"}, {1, 4, 2}},
      {"NEW new", {"new", "new"}, {5, 5}},  // normalized tokens match the normalized text
      {"a cat concat cat.", {"[UNK]", "cat", "[UNK]", "cat", "[UNK]"}, {0, 6, 0, 6, 0}},  // single_word
      {"x  <m>  world", {"x", "  <m>  ", "world"}, {3, 7, 2}},  // lstrip + rstrip take the spaces
      {"xabx", {"x", "ab", "x"}, {3, 8, 3}},
      {"Hello hello", {"hello", "hello"}, {1, 1}},
      {"", {}, {}},
  };
  for (const Case& c : cases) {
    auto e = t->Encode(c.text);
    ASSERT_TRUE(e.ok()) << e.status();
    EXPECT_EQ(e->tokens, c.tokens) << c.text;
    EXPECT_EQ(e->ids, c.ids) << c.text;
    EXPECT_EQ(e->attention_mask, std::vector<uint32_t>(c.ids.size(), 1)) << c.text;
  }
}

TEST(AddedVocabularyTest, AmbiguousPatternsRefuseToGuess) {
  std::string json = kJson;
  // "New" and "NEW" both normalize to "new"; the library then picks one at random.
  const std::string extra =
      R"({"id":0,"content":"NEW","single_word":false,"lstrip":false,"rstrip":false,"normalized":true,"special":false},)";
  json.insert(json.find(R"({"id":3,"content":"ab")"), extra);
  auto t = Load(json);
  ASSERT_NE(t, nullptr);
  auto bad = t->Encode("a new b");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(bad.status().message().find("added.json"), std::string::npos);
  EXPECT_TRUE(t->Encode("a world b").ok());  // unaffected text still encodes
}

TEST(AddedVocabularyTest, ErasedPatternNeverMatches) {
  std::string json = kJson;
  const std::string extra =
      R"({"id":0,"content":"\u0001","single_word":false,"lstrip":false,"rstrip":false,"normalized":true,"special":false},)";
  json.insert(json.find(R"({"id":3,"content":"ab")"), extra);
  // Lowercase keeps U+0001, so use a normalizer that drops it.
  json.replace(json.find(R"({"type":"Lowercase"})"), 20,
               R"({"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,"strip_accents":null,"lowercase":true})");
  auto t = Load(json);
  ASSERT_NE(t, nullptr);
  auto e = t->Encode("x\u0001x");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->ids, (std::vector<uint32_t>{0}));  // "xx" is unknown to the model
}

}  // namespace
}  // namespace neobert::tokenizer
