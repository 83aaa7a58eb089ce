#include "core/neobert/tokenizer_info.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/neobert/test_util.h"

namespace neobert::core {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::TempDir;
using testing::TinyConfig;

TEST(TokenizerInfo, R4AbsentFileIsAWarning) {
  auto w = CheckTokenizerInfo(std::nullopt, TinyConfig());
  ASSERT_TRUE(w.ok());
  ASSERT_EQ(w->size(), 1u);
  EXPECT_THAT((*w)[0], HasSubstr("tokenizer_info.json not found"));
}

TEST(TokenizerInfo, MatchingFileGivesNoWarnings) {
  auto w = CheckTokenizerInfo(
      R"({"tokenizer_name": "bert-base-uncased", "vocab_size": 16, "base_vocab_size": 10,
          "total_vocab_size": 16, "pad_token_id": 0})",
      TinyConfig());
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_TRUE(w->empty());
}

TEST(TokenizerInfo, R5VocabMismatchIsAWarning) {
  auto w = CheckTokenizerInfo(R"({"vocab_size": 10, "pad_token_id": 0})", TinyConfig());
  ASSERT_TRUE(w.ok());
  EXPECT_THAT(*w, ElementsAre(HasSubstr(
                      "vocab_size 10 differs from config.yaml model.vocab_size 16")));
  auto odd = CheckTokenizerInfo(R"({"vocab_size": "16"})", TinyConfig());
  ASSERT_TRUE(odd.ok());
  EXPECT_THAT(*odd, ElementsAre(HasSubstr("vocab_size is not an integer")));
}

TEST(TokenizerInfo, R6PadMismatchIsAnError) {
  absl::Status s = CheckTokenizerInfo(R"({"vocab_size": 16, "pad_token_id": 3})", TinyConfig(),
                                      "/ckpt/tokenizer_info.json")
                       .status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("/ckpt/tokenizer_info.json: pad_token_id 3 does not match "
                                     "config.yaml model.pad_token_id 0"));
  EXPECT_THAT(CheckTokenizerInfo(R"({"pad_token_id": 0.0})", TinyConfig()).status().message(),
              HasSubstr("pad_token_id must be an integer, got 0.0"));
}

TEST(TokenizerInfo, NullFieldsSkipChecks) {
  auto w = CheckTokenizerInfo(R"({"vocab_size": null, "pad_token_id": null})", TinyConfig());
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(w->empty());
}

TEST(TokenizerInfo, MalformedFiles) {
  EXPECT_THAT(CheckTokenizerInfo("{not json", TinyConfig()).status().message(),
              HasSubstr("tokenizer_info.json: not valid JSON"));
  EXPECT_THAT(CheckTokenizerInfo("[1, 2]", TinyConfig()).status().message(),
              HasSubstr("top level must be an object"));
  EXPECT_FALSE(CheckTokenizerInfo(std::string(1000, '['), TinyConfig()).ok());
}

TEST(TokenizerInfo, FromFile) {
  TempDir dir;
  auto absent = CheckTokenizerInfoFile(neobert::base::FsRoot(), dir.str() + "/tokenizer_info.json", TinyConfig());
  ASSERT_TRUE(absent.ok());
  EXPECT_EQ(absent->size(), 1u);
  dir.Write("tokenizer_info.json", R"({"pad_token_id": 5})");
  EXPECT_THAT(
      CheckTokenizerInfoFile(neobert::base::FsRoot(), dir.str() + "/tokenizer_info.json", TinyConfig()).status().message(),
      HasSubstr(dir.str() + "/tokenizer_info.json: pad_token_id 5"));
}

}  // namespace
}  // namespace neobert::core
