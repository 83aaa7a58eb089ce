#include "core/tokenizer/post_processors.h"

#include <gtest/gtest.h>

#include "tests/tokenizer/test_util.h"

namespace neobert::tokenizer {
namespace {

using testing::J;

TokenSequence Seq() {
  TokenSequence s;
  s.tokens = {{10, "a"}, {11, "b"}};
  s.type_ids = {0, 0};
  return s;
}

std::vector<uint32_t> Ids(const TokenSequence& s) {
  std::vector<uint32_t> ids;
  for (const auto& t : s.tokens) ids.push_back(t.id);
  return ids;
}

TEST(PostProcessorsTest, Template) {
  auto p = ParsePostProcessor(J(R"({"type":"TemplateProcessing",
    "single":[{"SpecialToken":{"id":"[CLS]","type_id":0}},{"Sequence":{"id":"A","type_id":1}},
              {"SpecialToken":{"id":"SEP2","type_id":2}}],
    "pair":[{"Sequence":{"id":"A","type_id":0}},{"Sequence":{"id":"B","type_id":1}}],
    "special_tokens":{"[CLS]":{"id":"[CLS]","ids":[2],"tokens":["[CLS]"]},
                      "SEP2":{"id":"SEP2","ids":[3,3],"tokens":["[SEP]","[SEP]"]}}})"),
                              "pp");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)->AddedTokens(), 3u);
  TokenSequence s = Seq();
  (*p)->Process(&s, true);
  EXPECT_EQ(Ids(s), (std::vector<uint32_t>{2, 10, 11, 3, 3}));
  EXPECT_EQ(s.type_ids, (std::vector<uint32_t>{0, 1, 1, 2, 2}));
  EXPECT_EQ(s.tokens.back().value, "[SEP]");
  TokenSequence plain = Seq();
  (*p)->Process(&plain, false);
  EXPECT_EQ(Ids(plain), (std::vector<uint32_t>{10, 11}));
  EXPECT_EQ(plain.type_ids, (std::vector<uint32_t>{1, 1}));
}

TEST(PostProcessorsTest, BertRobertaAndSequence) {
  for (const char* type : {"BertProcessing", "RobertaProcessing"}) {
    auto p = ParsePostProcessor(
        J((std::string(R"({"type":")") + type + R"(","sep":["</s>",2],"cls":["<s>",0],
                                               "trim_offsets":true,"add_prefix_space":true})").c_str()),
        "pp");
    ASSERT_TRUE(p.ok()) << p.status();
    TokenSequence s = Seq();
    (*p)->Process(&s, true);
    EXPECT_EQ(Ids(s), (std::vector<uint32_t>{0, 10, 11, 2}));
    EXPECT_EQ(s.tokens.front().value, "<s>");
  }
  auto seq = ParsePostProcessor(J(R"({"type":"Sequence","processors":[
      {"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true},
      {"type":"RobertaProcessing","sep":["</s>",2],"cls":["<s>",0]}]})"), "pp");
  ASSERT_TRUE(seq.ok()) << seq.status();
  EXPECT_EQ((*seq)->AddedTokens(), 2u);
  TokenSequence s = Seq();
  (*seq)->Process(&s, true);
  EXPECT_EQ(Ids(s), (std::vector<uint32_t>{0, 10, 11, 2}));
}

TEST(PostProcessorsTest, Refused) {
  auto undefined = ParsePostProcessor(J(R"({"type":"TemplateProcessing",
    "single":[{"SpecialToken":{"id":"[X]","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],
    "pair":[],"special_tokens":{}})"), "t.json: post_processor");
  ASSERT_FALSE(undefined.ok());
  EXPECT_NE(undefined.status().message().find("t.json: post_processor.special_tokens.[X]"), std::string::npos);
  EXPECT_FALSE(ParsePostProcessor(J(R"({"type":"TemplateProcessing",
    "single":[{"Sequence":{"id":"B","type_id":0}}],"pair":[],"special_tokens":{}})"), "pp").ok());
  EXPECT_FALSE(ParsePostProcessor(J(R"({"type":"BertProcessing","sep":["[SEP]"],"cls":["[CLS]",1]})"), "pp").ok());
  auto two = ParsePostProcessor(J(R"({"type":"Sequence","processors":[
      {"type":"BertProcessing","sep":["[SEP]",1],"cls":["[CLS]",0]},
      {"type":"RobertaProcessing","sep":["</s>",2],"cls":["<s>",0]}]})"), "pp");
  EXPECT_EQ(two.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(ParsePostProcessor(J(R"({"type":"Fancy"})"), "pp").status().code(), absl::StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace neobert::tokenizer
