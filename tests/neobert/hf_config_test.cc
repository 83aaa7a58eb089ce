#include "core/neobert/hf_config.h"

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/neobert/test_util.h"

namespace neobert::core {
namespace {

// The §6 illustrative example (pretrain_gpu_small, bert-base-uncased, fp32)
// with our additions: auto_map module "model", decoder_bias, dtype, and the
// targeted transformers version. Byte-exact, no trailing newline.
constexpr char kGolden[] = R"json(
{
  "architectures": [
    "NeoBERTLMHead"
  ],
  "model_type": "neobert",
  "auto_map": {
    "AutoConfig": "model.NeoBERTConfig",
    "AutoModel": "model.NeoBERT",
    "AutoModelForMaskedLM": "model.NeoBERTLMHead",
    "AutoModelForSequenceClassification": "model.NeoBERTForSequenceClassification"
  },
  "hidden_size": 768,
  "num_hidden_layers": 12,
  "num_attention_heads": 12,
  "intermediate_size": 3072,
  "vocab_size": 30592,
  "max_length": 512,
  "max_position_embeddings": 512,
  "embedding_init_range": 0.02,
  "decoder_init_range": 0.02,
  "norm_eps": 1e-05,
  "rms_norm": true,
  "rope": true,
  "hidden_act": "swiglu",
  "dropout": 0.0,
  "flash_attention": true,
  "decoder_bias": false,
  "pad_token_id": 0,
  "torch_dtype": "float32",
  "dtype": "float32",
  "transformers_version": "4.48.0"
})json";

constexpr char kGpuSmallModel[] = R"(model:
  hidden_size: 768
  num_hidden_layers: 12
  num_attention_heads: 12
  intermediate_size: 3072
  max_position_embeddings: 512
  vocab_size: 30592
  rope: true
  rms_norm: true
  hidden_act: swiglu
  dropout_prob: 0.0
  norm_eps: 1.0e-05
  embedding_init_range: 0.02
  decoder_init_range: 0.02
  attn_backend: flash_attn_varlen
  ngpt: false
  pad_token_id: 0
)";

TEST(HfConfig, MatchesReferenceExampleByteForByte) {
  auto c = ParseCheckpointConfig(kGpuSmallModel);
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string json = RenderHfConfigJson(*c, HfConfigFields{});
  EXPECT_EQ(json, std::string(kGolden + 1));  // skip the raw string's leading newline
  EXPECT_NE(json.back(), '\n');
}

TEST(HfConfig, ReflectsConfigAndFields) {
  auto c = ParseCheckpointConfig(testing::TinyConfigYaml());
  ASSERT_TRUE(c.ok());
  c->norm_eps = 1e-6;
  c->dropout = 0.1;
  c->rope = false;
  c->hidden_act = "gelu";
  HfConfigFields f;
  f.dtype = format::DType::kBFloat16;
  f.decoder_bias = true;
  const std::string text = RenderHfConfigJson(*c, f);
  auto j = nlohmann::ordered_json::parse(text);
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  EXPECT_THAT(keys, ::testing::ElementsAre(
                        "architectures", "model_type", "auto_map", "hidden_size",
                        "num_hidden_layers", "num_attention_heads", "intermediate_size",
                        "vocab_size", "max_length", "max_position_embeddings",
                        "embedding_init_range", "decoder_init_range", "norm_eps", "rms_norm",
                        "rope", "hidden_act", "dropout", "flash_attention", "decoder_bias",
                        "pad_token_id", "torch_dtype", "dtype", "transformers_version"));
  EXPECT_EQ(j["intermediate_size"], 12);  // un-reduced I
  EXPECT_EQ(j["max_length"], 8);
  EXPECT_EQ(j["rope"], false);
  EXPECT_EQ(j["hidden_act"], "gelu");
  EXPECT_EQ(j["decoder_bias"], true);
  EXPECT_EQ(j["flash_attention"], false);
  EXPECT_EQ(j["torch_dtype"], "bfloat16");
  EXPECT_EQ(j["dtype"], "bfloat16");
  EXPECT_THAT(text, ::testing::HasSubstr("\"norm_eps\": 1e-06,"));
  EXPECT_THAT(text, ::testing::HasSubstr("\"dropout\": 0.1,"));
}

TEST(HfConfig, UntiedDecoderDeclaresTieWordEmbeddingsFalse) {
  auto c = ParseCheckpointConfig(testing::TinyConfigYaml());
  ASSERT_TRUE(c.ok());
  EXPECT_THAT(RenderHfConfigJson(*c, HfConfigFields{}),
              ::testing::Not(::testing::HasSubstr("tie_word_embeddings")));
  HfConfigFields f;
  f.tie_word_embeddings = false;
  const std::string text = RenderHfConfigJson(*c, f);
  EXPECT_THAT(text, ::testing::HasSubstr(
                        "\"decoder_bias\": false,\n  \"tie_word_embeddings\": false,\n  "
                        "\"pad_token_id\""));
  EXPECT_EQ(nlohmann::ordered_json::parse(text)["tie_word_embeddings"], false);
}

TEST(PythonFloatRepr, MatchesPython) {
  const std::pair<double, const char*> cases[] = {
      {1e-05, "1e-05"},
      {0.02, "0.02"},
      {0.0, "0.0"},
      {-0.0, "-0.0"},
      {1e-06, "1e-06"},
      {0.1, "0.1"},
      {1.0, "1.0"},
      {3.0, "3.0"},
      {0.0001, "0.0001"},
      {0.001, "0.001"},
      {100.0, "100.0"},
      {2.5, "2.5"},
      {1e16, "1e+16"},
      {1e15, "1000000000000000.0"},
      {9999999999999998.0, "9999999999999998.0"},
      {1e22, "1e+22"},
      {123456789.123, "123456789.123"},
      {1.5e-7, "1.5e-07"},
      {1e-100, "1e-100"},
      {0.1 + 0.2, "0.30000000000000004"},
      {0.03227486121839514, "0.03227486121839514"},
      {12345678901234567890.0, "1.2345678901234567e+19"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {2.2250738585072014e-308, "2.2250738585072014e-308"},
      {5e-324, "5e-324"},
      {std::numeric_limits<double>::infinity(), "Infinity"},
      {-std::numeric_limits<double>::infinity(), "-Infinity"},
      {std::nan(""), "NaN"},
  };
  for (auto [v, want] : cases) EXPECT_EQ(PythonFloatRepr(v), want) << want;
}

TEST(PythonJsonString, EscapesLikeEnsureAscii) {
  EXPECT_EQ(PythonJsonString("plain"), "\"plain\"");
  EXPECT_EQ(PythonJsonString("\xC3\xA9\xE2\x96\x81\xF0\x9F\x98\x80\x01\x7F\"\\\n"),
            "\"\\u00e9\\u2581\\ud83d\\ude00\\u0001\\u007f\\\"\\\\\\n\"");
  EXPECT_EQ(PythonJsonString("a\xFF" "b"), "\"a\\ufffdb\"");       // invalid byte
  EXPECT_EQ(PythonJsonString("\xC0\xAF"), "\"\\ufffd\"");            // overlong
  EXPECT_EQ(PythonJsonString("\xE2\x96"), "\"\\ufffd\\ufffd\"");     // truncated
}

}  // namespace
}  // namespace neobert::core
