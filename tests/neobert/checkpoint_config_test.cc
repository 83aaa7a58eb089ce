#include "core/neobert/checkpoint_config.h"

#include <string>

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/neobert/test_util.h"

namespace neobert::core {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;
using testing::TinyConfigYaml;

// The pretrain_gpu_small preset as the trainer dumps it (runtime vocab).
constexpr char kGpuSmall[] = R"(model:
  name: null
  hidden_size: 768
  num_hidden_layers: 12
  num_attention_heads: 12
  intermediate_size: 3072
  max_position_embeddings: 512
  vocab_size: 30592
  rope: true
  rms_norm: true
  hidden_act: SwiGLU
  dropout_prob: 0.0
  norm_eps: 1.0e-05
  embedding_init_range: 0.02
  decoder_init_range: 0.02
  classifier_init_range: 0.02
  attn_backend: flash_attn_varlen
  kernel_backend: auto
  ngpt: false
  base_scale: 0.03227486121839514
  pad_token_id: 0
  from_hub: false
dataset:
  name: refinedweb
  path: ''
tokenizer:
  name: bert-base-uncased
trainer:
  output_dir: ./output
task: pretraining
seed: 0
)";

absl::Status ParseError(const std::string& yaml) {
  return ParseCheckpointConfig(yaml).status();
}

TEST(CheckpointConfig, ParsesPresetDump) {
  auto c = ParseCheckpointConfig(kGpuSmall);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->hidden_size, 768);
  EXPECT_EQ(c->num_hidden_layers, 12);
  EXPECT_EQ(c->num_attention_heads, 12);
  EXPECT_EQ(c->intermediate_size, 3072);
  EXPECT_EQ(c->max_position_embeddings, 512);
  EXPECT_EQ(c->vocab_size, 30592);
  EXPECT_TRUE(c->rope);
  EXPECT_TRUE(c->rms_norm);
  EXPECT_EQ(c->hidden_act, "swiglu");  // lower-cased
  EXPECT_DOUBLE_EQ(c->norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(c->dropout, 0.0);
  EXPECT_DOUBLE_EQ(c->embedding_init_range, 0.02);
  EXPECT_EQ(c->attn_backend, "flash_attn_varlen");
  EXPECT_TRUE(c->flash_attention);
  EXPECT_FALSE(c->ngpt);
  EXPECT_EQ(c->pad_token_id, 0);
  EXPECT_EQ(c->dataset_name, "refinedweb");
  EXPECT_EQ(c->head_dim(), 64);
  EXPECT_EQ(c->ffn_width(), 2048);
  // The whole document is kept for the model card.
  EXPECT_EQ(c->raw["trainer"]["output_dir"].as<std::string>(), "./output");
  EXPECT_EQ(c->raw["seed"].as<int>(), 0);
}

TEST(CheckpointConfig, DefaultsWhenOptionalFieldsAbsent) {
  std::string yaml = TinyConfigYaml();
  for (const char* line : {"  dropout_prob: 0.0\n", "  embedding_init_range: 0.02\n",
                           "  decoder_init_range: 0.02\n", "  attn_backend: sdpa\n",
                           "  ngpt: false\n"}) {
    yaml = absl::StrReplaceAll(yaml, {{line, ""}});
  }
  auto c = ParseCheckpointConfig(yaml);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_DOUBLE_EQ(c->dropout, 0.0);
  EXPECT_DOUBLE_EQ(c->embedding_init_range, 0.02);
  EXPECT_DOUBLE_EQ(c->decoder_init_range, 0.02);
  EXPECT_EQ(c->attn_backend, "sdpa");  // missing → sdpa
  EXPECT_FALSE(c->flash_attention);
}

TEST(CheckpointConfig, DropoutAliases) {
  auto only_prob = ParseCheckpointConfig(
      absl::StrReplaceAll(TinyConfigYaml(), {{"dropout_prob: 0.0", "dropout_prob: 0.25"}}));
  ASSERT_TRUE(only_prob.ok());
  EXPECT_DOUBLE_EQ(only_prob->dropout, 0.25);
  auto both = ParseCheckpointConfig(absl::StrReplaceAll(
      TinyConfigYaml("  dropout: 0.5\n"), {{"dropout_prob: 0.0", "dropout_prob: 0.25"}}));
  ASSERT_TRUE(both.ok());
  EXPECT_DOUBLE_EQ(both->dropout, 0.5);  // model.dropout wins
  auto out_of_range = ParseError(TinyConfigYaml("  dropout: 1.5\n"));
  EXPECT_THAT(out_of_range.message(), HasSubstr("model.dropout must be in [0, 1]"));
}

TEST(CheckpointConfig, AttnBackendSdpaAnyCase) {
  auto c = ParseCheckpointConfig(
      absl::StrReplaceAll(TinyConfigYaml(), {{"attn_backend: sdpa", "attn_backend: SDPA"}}));
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->flash_attention);
}

TEST(CheckpointConfig, R3ListsEveryMissingField) {
  std::string yaml = absl::StrReplaceAll(
      TinyConfigYaml(),
      {{"  hidden_size: 8\n", ""}, {"  norm_eps: 1.0e-05\n", ""}, {"  rope: true\n", ""}});
  absl::Status s = ParseError(yaml);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("config.yaml"));
  EXPECT_THAT(s.message(), HasSubstr("missing required fields: hidden_size, norm_eps, rope"));
}

TEST(CheckpointConfig, R3NullCountsAsMissing) {
  absl::Status s = ParseError(
      absl::StrReplaceAll(TinyConfigYaml(), {{"pad_token_id: 0", "pad_token_id: null"}}));
  EXPECT_THAT(s.message(), HasSubstr("missing required fields: pad_token_id"));
}

TEST(CheckpointConfig, R8UnsupportedActivation) {
  absl::Status s = ParseError(
      absl::StrReplaceAll(TinyConfigYaml(), {{"hidden_act: swiglu", "hidden_act: ReLU"}}));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("model.hidden_act 'relu' is not supported"));
  auto gelu = ParseCheckpointConfig(
      absl::StrReplaceAll(TinyConfigYaml(), {{"hidden_act: swiglu", "hidden_act: GELU"}}));
  ASSERT_TRUE(gelu.ok());
  EXPECT_EQ(gelu->hidden_act, "gelu");
  EXPECT_EQ(gelu->ffn_width(), 12);
}

TEST(CheckpointConfig, R12NgptRefused) {
  absl::Status s =
      ParseError(absl::StrReplaceAll(TinyConfigYaml(), {{"ngpt: false", "ngpt: true"}}));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("config.yaml: model.ngpt is true"));
}

TEST(CheckpointConfig, HeadsMustDivideHidden) {
  absl::Status s = ParseError(absl::StrReplaceAll(
      TinyConfigYaml(), {{"num_attention_heads: 2", "num_attention_heads: 3"}}));
  EXPECT_THAT(s.message(), HasSubstr("hidden_size 8 is not divisible by model.num_attention_heads 3"));
}

TEST(CheckpointConfig, OddHeadDimOnlyWithoutRope) {
  const std::string odd = absl::StrReplaceAll(
      TinyConfigYaml(), {{"hidden_size: 8", "hidden_size: 6"}});  // d = 3
  EXPECT_THAT(ParseError(odd).message(), HasSubstr("must be even with rope: true"));
  EXPECT_TRUE(ParseCheckpointConfig(absl::StrReplaceAll(odd, {{"rope: true", "rope: false"}})).ok());
}

TEST(CheckpointConfig, SizesMustBePositiveAndSane) {
  EXPECT_THAT(ParseError(absl::StrReplaceAll(TinyConfigYaml(),
                                             {{"num_hidden_layers: 2", "num_hidden_layers: 0"}}))
                  .message(),
              HasSubstr("model.num_hidden_layers = 0 is out of range [1, 1024]"));
  EXPECT_THAT(
      ParseError(absl::StrReplaceAll(TinyConfigYaml(), {{"vocab_size: 16", "vocab_size: 10000001"}}))
          .message(),
      HasSubstr("model.vocab_size = 10000001 is out of range"));
  EXPECT_THAT(
      ParseError(absl::StrReplaceAll(TinyConfigYaml(), {{"hidden_size: 8", "hidden_size: 65538"}}))
          .message(),
      HasSubstr("model.hidden_size = 65538 is out of range"));
  EXPECT_THAT(ParseError(absl::StrReplaceAll(TinyConfigYaml(),
                                             {{"pad_token_id: 0", "pad_token_id: 16"}}))
                  .message(),
              HasSubstr("model.pad_token_id = 16 is out of range [0, 15]"));
  EXPECT_THAT(ParseError(absl::StrReplaceAll(TinyConfigYaml(),
                                             {{"norm_eps: 1.0e-05", "norm_eps: 0"}}))
                  .message(),
              HasSubstr("model.norm_eps must be positive"));
  EXPECT_THAT(ParseError(absl::StrReplaceAll(TinyConfigYaml(),
                                             {{"norm_eps: 1.0e-05", "norm_eps: .inf"}}))
                  .message(),
              HasSubstr("model.norm_eps must be finite"));
  EXPECT_THAT(ParseError(absl::StrReplaceAll(TinyConfigYaml(),
                                             {{"intermediate_size: 12", "intermediate_size: 1"}}))
                  .message(),
              HasSubstr("too small for swiglu"));
}

TEST(CheckpointConfig, TypeErrorsNameTheField) {
  EXPECT_THAT(
      ParseError(absl::StrReplaceAll(TinyConfigYaml(), {{"hidden_size: 8", "hidden_size: 8.5"}}))
          .message(),
      HasSubstr("config.yaml: model.hidden_size must be an integer, got '8.5'"));
  EXPECT_THAT(
      ParseError(absl::StrReplaceAll(TinyConfigYaml(), {{"rope: true", "rope: maybe"}})).message(),
      HasSubstr("model.rope must be a boolean, got 'maybe'"));
  EXPECT_THAT(ParseError(absl::StrReplaceAll(TinyConfigYaml(),
                                             {{"hidden_act: swiglu", "hidden_act: [a, b]"}}))
                  .message(),
              HasSubstr("model.hidden_act must be a string, got a list"));
  // 1e-5 without a dot is still a number for us.
  auto c = ParseCheckpointConfig(
      absl::StrReplaceAll(TinyConfigYaml(), {{"norm_eps: 1.0e-05", "norm_eps: 1e-6"}}));
  ASSERT_TRUE(c.ok());
  EXPECT_DOUBLE_EQ(c->norm_eps, 1e-6);
}

TEST(CheckpointConfig, StructuralErrors) {
  EXPECT_THAT(ParseError("model: [unclosed\n").message(), HasSubstr("config.yaml: invalid YAML"));
  EXPECT_THAT(ParseError("").message(), HasSubstr("top level must be a mapping"));
  EXPECT_THAT(ParseError("dataset:\n  name: x\n").message(), HasSubstr("missing 'model' section"));
  EXPECT_THAT(ParseError("model: {}\n").message(), HasSubstr("non-empty mapping"));
  EXPECT_THAT(ParseError("model:\n  - 1\n").message(), HasSubstr("non-empty mapping"));
  EXPECT_THAT(ParseError(TinyConfigYaml("  hidden_size: 16\n")).message(),
              HasSubstr("duplicate key model.hidden_size"));
  // Deep nesting is refused by the parser, not by a crash.
  EXPECT_FALSE(ParseCheckpointConfig(std::string(100000, '[')).ok());
}

TEST(CheckpointConfig, DatasetNameFallsBackToPath) {
  auto c = ParseCheckpointConfig(absl::StrReplaceAll(
      TinyConfigYaml(), {{"  name: refinedweb\n", "  name: ''\n  path: /data/sets/smollm2/\n"}}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->dataset_name, "smollm2");
  auto none = ParseCheckpointConfig(
      absl::StrReplaceAll(TinyConfigYaml(), {{"  name: refinedweb\n", "  name: null\n"}}));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->dataset_name, "");
}

TEST(CheckpointConfig, LoadFromFile) {
  TempDir dir;
  EXPECT_EQ(LoadCheckpointConfig(neobert::base::FsRoot(), dir.str() + "/config.yaml").status().code(),
            absl::StatusCode::kNotFound);
  const std::string path = dir.Write("config.yaml", TinyConfigYaml());
  auto c = LoadCheckpointConfig(neobert::base::FsRoot(), path);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->vocab_size, 16);
  dir.Write("bad.yaml", "model:\n  hidden_size: x\n");
  EXPECT_THAT(LoadCheckpointConfig(neobert::base::FsRoot(), dir.str() + "/bad.yaml").status().message(),
              HasSubstr(dir.str() + "/bad.yaml: model section is missing"));
}

TEST(SwiGluWidth, ReferenceExamples) {
  const std::pair<int64_t, int64_t> cases[] = {{3072, 2048}, {4096, 2736}, {1024, 688},
                                               {128, 88},    {64, 48},     {12, 8},
                                               {2, 8},       {1, 0}};
  for (auto [in, out] : cases) EXPECT_EQ(SwiGluWidth(in), out) << in;
}

}  // namespace
}  // namespace neobert::core
