#include "core/tokenizer/decoders.h"

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/tokenizer/tokenizer.h"

namespace neobert::tokenizer {
namespace {

using nlohmann::json;

TokenDecoder From(const std::string& text) {
  const json j = json::parse(text);
  return TokenDecoder::FromJson(&j);
}

TEST(TokenDecoderTest, WordPieceDropsTheContinuationPrefix) {
  const TokenDecoder d = From(R"({"type": "WordPiece", "prefix": "##", "cleanup": true})");
  EXPECT_EQ(d.kind(), TokenDecoder::Kind::kWordPiece);
  EXPECT_EQ(d.Decode("##ing"), "ing");
  EXPECT_EQ(d.Decode("walk"), "walk");
  EXPECT_EQ(d.Decode("#"), "#");
}

TEST(TokenDecoderTest, MetaspaceBecomesSpace) {
  const TokenDecoder d = From(R"({"type": "Metaspace", "replacement": "\u2581"})");
  EXPECT_EQ(d.Decode("\xE2\x96\x81" "hello\xE2\x96\x81" "x"), " hello x");
}

TEST(TokenDecoderTest, ByteLevelMapsTheGpt2AlphabetBackToBytes) {
  const TokenDecoder d = From(R"({"type": "ByteLevel"})");
  // U+0120 'Ġ' is the space byte; U+0100 'Ā' is byte 0.
  EXPECT_EQ(d.Decode("\xC4\xA0world"), " world");
  EXPECT_EQ(d.Decode("\xC4\x80"), std::string(1, '\0'));
  // "é" (C3 A9) as GPT-2 characters: 'Ã' U+00C3 and '©' U+00A9.
  EXPECT_EQ(d.Decode("\xC3\x83\xC2\xA9"), "\xC3\xA9");
  // A character outside the alphabet stays as it is.
  EXPECT_EQ(d.Decode("\xE2\x82\xAC"), "\xE2\x82\xAC");
}

TEST(TokenDecoderTest, SequencePicksTheLastKnownKindAndUnknownIsPlain) {
  const TokenDecoder seq = From(
      R"({"type": "Sequence", "decoders": [{"type": "WordPiece"}, {"type": "Fuse"},
          {"type": "ByteLevel"}, {"type": "Strip", "content": " "}, 7]})");
  EXPECT_EQ(seq.kind(), TokenDecoder::Kind::kByteLevel);
  EXPECT_EQ(From(R"({"type": "ByteFallback"})").kind(), TokenDecoder::Kind::kPlain);
  EXPECT_EQ(From(R"([1, 2])").kind(), TokenDecoder::Kind::kPlain);
  EXPECT_EQ(TokenDecoder::FromJson(nullptr).Decode("##x"), "##x");
}

TEST(TokenDecoderTest, TokenizerDecodesThroughItsDecoderSection) {
  const std::string text = R"({
    "version": "1.0",
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
              "max_input_chars_per_word": 100, "vocab": {"[UNK]": 0, "a": 1, "##b": 2}},
    "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true}
  })";
  auto tok = Tokenizer::FromJson(text, "t.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->DecodeToken("##b"), "b");
}

}  // namespace
}  // namespace neobert::tokenizer
