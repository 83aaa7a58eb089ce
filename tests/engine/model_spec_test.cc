// ModelSpec validation and construction from config.yaml / config.json.
#include <string>

#include "core/engine/engine.h"
#include "core/neobert/checkpoint_config.h"
#include "core/neobert/hf_config.h"
#include "gtest/gtest.h"
#include "tests/engine/engine_test_util.h"

namespace neobert::engine {
namespace {

using testing::TinySpec;

constexpr char kYaml[] =
    "model:\n"
    "  hidden_size: 32\n"
    "  num_hidden_layers: 2\n"
    "  num_attention_heads: 4\n"
    "  intermediate_size: 64\n"
    "  max_position_embeddings: 64\n"
    "  vocab_size: 640\n"
    "  rope: false\n"
    "  rms_norm: false\n"
    "  hidden_act: GELU\n"
    "  norm_eps: 1.0e-05\n"
    "  pad_token_id: 3\n";

TEST(ModelSpec, FromCheckpointConfig) {
  absl::StatusOr<core::NeoBertConfig> c = core::ParseCheckpointConfig(kYaml);
  ASSERT_TRUE(c.ok()) << c.status();
  const ModelSpec s = ModelSpecFromConfig(*c, /*decoder_bias=*/true);
  EXPECT_EQ(s.hidden_size, 32);
  EXPECT_EQ(s.num_hidden_layers, 2);
  EXPECT_EQ(s.num_attention_heads, 4);
  EXPECT_EQ(s.intermediate_size, 64);
  EXPECT_EQ(s.max_position_embeddings, 64);
  EXPECT_EQ(s.vocab_size, 640);
  EXPECT_FALSE(s.rope);
  EXPECT_FALSE(s.rms_norm);
  EXPECT_EQ(s.hidden_act, "gelu");
  EXPECT_DOUBLE_EQ(s.norm_eps, 1e-5);
  EXPECT_EQ(s.pad_token_id, 3);
  EXPECT_TRUE(s.decoder_bias);
  EXPECT_EQ(s.ffn_width(), 64);
  EXPECT_TRUE(ValidateModelSpec(s).ok());
}

TEST(ModelSpec, SwigluWidthIsReduced) {
  ModelSpec s = TinySpec();
  s.intermediate_size = 3072;
  EXPECT_EQ(s.ffn_width(), 2048);
  s.hidden_act = "gelu";
  EXPECT_EQ(s.ffn_width(), 3072);
}

TEST(ModelSpec, FromRenderedHfConfigRoundTrips) {
  absl::StatusOr<core::NeoBertConfig> c = core::ParseCheckpointConfig(kYaml);
  ASSERT_TRUE(c.ok()) << c.status();
  core::HfConfigFields fields;
  fields.decoder_bias = true;
  const std::string json = core::RenderHfConfigJson(*c, fields);
  absl::StatusOr<ModelSpec> s = ModelSpecFromHfConfigJson(json);
  ASSERT_TRUE(s.ok()) << s.status();
  const ModelSpec want = ModelSpecFromConfig(*c, true);
  EXPECT_EQ(s->hidden_size, want.hidden_size);
  EXPECT_EQ(s->num_hidden_layers, want.num_hidden_layers);
  EXPECT_EQ(s->num_attention_heads, want.num_attention_heads);
  EXPECT_EQ(s->intermediate_size, want.intermediate_size);
  EXPECT_EQ(s->vocab_size, want.vocab_size);
  EXPECT_EQ(s->max_position_embeddings, want.max_position_embeddings);
  EXPECT_EQ(s->rope, want.rope);
  EXPECT_EQ(s->rms_norm, want.rms_norm);
  EXPECT_EQ(s->hidden_act, want.hidden_act);
  EXPECT_DOUBLE_EQ(s->norm_eps, want.norm_eps);
  EXPECT_EQ(s->pad_token_id, want.pad_token_id);
  EXPECT_TRUE(s->decoder_bias);
}

TEST(ModelSpec, HfConfigDefaultsAndSpellings) {
  // Integral floats are integers; max_position_embeddings stands in for a
  // missing max_length; pad null = every token real; defaults for the rest.
  absl::StatusOr<ModelSpec> s = ModelSpecFromHfConfigJson(
      R"({"hidden_size": 8.0, "num_hidden_layers": 1, "num_attention_heads": 2,
          "intermediate_size": 12, "vocab_size": 16, "max_position_embeddings": 8,
          "norm_eps": 1e-6, "pad_token_id": null})");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->hidden_size, 8);
  EXPECT_EQ(s->max_position_embeddings, 8);
  EXPECT_TRUE(s->rope);
  EXPECT_TRUE(s->rms_norm);
  EXPECT_EQ(s->hidden_act, "swiglu");
  EXPECT_FALSE(s->pad_token_id.has_value());
  EXPECT_FALSE(s->decoder_bias);
}

TEST(ModelSpec, HfConfigErrorsNameTheField) {
  struct Case {
    const char* json;
    const char* needle;
  } cases[] = {
      {"not json", "not valid JSON"},
      {"[1]", "top level"},
      {R"({"hidden_size": 8})", "missing required field(s): num_hidden_layers"},
      {R"({"hidden_size": 8.5, "num_hidden_layers": 1, "num_attention_heads": 2,
           "intermediate_size": 12, "vocab_size": 16, "max_length": 8, "norm_eps": 1e-5})",
       "hidden_size must be an integer"},
      {R"({"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 3,
           "intermediate_size": 12, "vocab_size": 16, "max_length": 8, "norm_eps": 1e-5})",
       "not divisible"},
      {R"({"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
           "intermediate_size": 12, "vocab_size": 16, "max_length": 8, "norm_eps": 1e-5,
           "rope": "yes"})",
       "rope must be a boolean"},
      {R"({"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
           "intermediate_size": 12, "vocab_size": 16, "max_length": 8, "norm_eps": 1e-5,
           "hidden_act": "relu"})",
       "hidden_act 'relu'"},
      {R"({"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
           "intermediate_size": 12, "vocab_size": 16, "max_length": 8, "norm_eps": 0})",
       "norm_eps"},
      {R"({"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
           "intermediate_size": 12, "vocab_size": 16, "max_length": 8, "norm_eps": 1e-5,
           "pad_token_id": 16})",
       "pad_token_id 16"},
      {R"({"hidden_size": 1e300, "num_hidden_layers": 1, "num_attention_heads": 2,
           "intermediate_size": 12, "vocab_size": 16, "max_length": 8, "norm_eps": 1e-5})",
       "hidden_size"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<ModelSpec> s = ModelSpecFromHfConfigJson(c.json, "export/config.json");
    ASSERT_FALSE(s.ok()) << c.json;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(s.status().message().find("export/config.json"), absl::string_view::npos)
        << s.status();
    EXPECT_NE(s.status().message().find(c.needle), absl::string_view::npos) << s.status();
  }
  EXPECT_FALSE(ModelSpecFromHfConfigJson(std::string(100, '[')).ok());
}

TEST(ModelSpec, ValidateRejectsBadSpecs) {
  ModelSpec s = TinySpec();
  ASSERT_TRUE(ValidateModelSpec(s).ok());
  ModelSpec odd = s;
  odd.hidden_size = 6;  // d = 3, odd with rope
  EXPECT_NE(ValidateModelSpec(odd).message().find("even"), absl::string_view::npos);
  odd.rope = false;
  EXPECT_TRUE(ValidateModelSpec(odd).ok());
  ModelSpec zero = s;
  zero.vocab_size = 0;
  EXPECT_NE(ValidateModelSpec(zero).message().find("vocab_size"), absl::string_view::npos);
  ModelSpec huge = s;
  huge.hidden_size = core::kMaxHiddenSize * 2;
  EXPECT_FALSE(ValidateModelSpec(huge).ok());
  ModelSpec nan_eps = s;
  nan_eps.norm_eps = std::nan("");
  EXPECT_FALSE(ValidateModelSpec(nan_eps).ok());
  ModelSpec tiny_ffn = s;
  tiny_ffn.intermediate_size = 1;  // floor(2/3) = 0 → width 0
  EXPECT_NE(ValidateModelSpec(tiny_ffn).message().find("swiglu"), absl::string_view::npos);
  ModelSpec no_pad = s;
  no_pad.pad_token_id = std::nullopt;
  EXPECT_TRUE(ValidateModelSpec(no_pad).ok());
}

}  // namespace
}  // namespace neobert::engine
