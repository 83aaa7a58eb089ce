#include "core/neobert/key_mapping.h"

#include <cstring>

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/neobert/test_util.h"

namespace neobert::core {
namespace {

using format::DType;
using format::TensorEntry;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::MakeTensor;
using testing::TinyConfig;

// Tiny config (H 8, L 2, I 12 → I_s 8, V 16, P 8) variants.
NeoBertConfig GeluLayerNormLearned() {
  return *ParseCheckpointConfig(absl::StrReplaceAll(
      testing::TinyConfigYaml(),
      {{"hidden_act: swiglu", "hidden_act: gelu"}, {"rms_norm: true", "rms_norm: false"},
       {"rope: true", "rope: false"}}));
}

// One tensor per required table row (the table itself is pinned by the
// explicit name tests below).
std::vector<TensorEntry> Checkpoint(const NeoBertConfig& c, bool decoder_bias = false) {
  std::vector<TensorEntry> out;
  for (const ExpectedTensor& e : ExpectedTensors(c)) {
    if (e.optional && !decoder_bias) continue;
    out.push_back(MakeTensor(e.name, e.shape));
  }
  return out;
}

std::vector<std::string> Names(const std::vector<TensorEntry>& ts) {
  std::vector<std::string> n;
  for (const auto& t : ts) n.push_back(t.name);
  return n;
}

TensorEntry& Find(std::vector<TensorEntry>& ts, const std::string& name) {
  for (auto& t : ts) {
    if (t.name == name) return t;
  }
  ADD_FAILURE() << "no tensor " << name;
  return ts.front();
}

void Erase(std::vector<TensorEntry>& ts, const std::string& name) {
  std::erase_if(ts, [&](const TensorEntry& t) { return t.name == name; });
}

absl::Status PlanError(const std::vector<TensorEntry>& ts, const NeoBertConfig& c,
                       const MappingOptions& o = {}) {
  return MapCheckpointTensors(ts, c, o, "model.safetensors").status();
}

TEST(TensorTable, DefaultVariantNamesInModuleOrder) {
  NeoBertConfig c = *ParseCheckpointConfig(absl::StrReplaceAll(
      testing::TinyConfigYaml(), {{"num_hidden_layers: 2", "num_hidden_layers: 1"}}));
  std::vector<std::string> names;
  for (const auto& e : ExpectedTensors(c)) names.push_back(e.name);
  EXPECT_THAT(names, ElementsAre("model.encoder.weight", "model.transformer_encoder.0.qkv.weight",
                                 "model.transformer_encoder.0.wo.weight",
                                 "model.transformer_encoder.0.ffn.w1.weight",
                                 "model.transformer_encoder.0.ffn.w2.weight",
                                 "model.transformer_encoder.0.ffn.w3.weight",
                                 "model.transformer_encoder.0.attention_norm.weight",
                                 "model.transformer_encoder.0.ffn_norm.weight",
                                 "model.layer_norm.weight", "decoder.weight", "decoder.bias"));
  auto all = ExpectedTensors(TinyConfig());
  EXPECT_EQ(all.size(), 7u * 2 + 3 + 1);  // 7L + 3 required + optional bias
  EXPECT_EQ(all[3].name, "model.transformer_encoder.0.ffn.w1.weight");
  EXPECT_THAT(all[3].shape, ElementsAre(8, 8));  // (I_s, H)
  EXPECT_THAT(all[5].shape, ElementsAre(8, 8));  // w3 (H, I_s)
  EXPECT_EQ(all[1].shape_formula, "(3*hidden_size, hidden_size)");
}

TEST(TensorTable, GeluLayerNormLearnedPositions) {
  auto rows = ExpectedTensors(GeluLayerNormLearned());
  std::vector<std::string> names;
  for (const auto& e : rows) names.push_back(e.name);
  EXPECT_EQ(rows.size(), 2 + 2 * 8 + 2 + 2u);
  EXPECT_EQ(rows[1].name, "model.positional_embedding.weight");
  EXPECT_THAT(rows[1].shape, ElementsAre(9, 8));  // (P+1, H)
  EXPECT_EQ(rows[4].name, "model.transformer_encoder.0.ffn.0.weight");
  EXPECT_THAT(rows[4].shape, ElementsAre(12, 8));  // full I for gelu
  EXPECT_EQ(rows[5].name, "model.transformer_encoder.0.ffn.2.weight");
  EXPECT_THAT(rows[5].shape, ElementsAre(8, 12));
  EXPECT_EQ(rows[7].name, "model.transformer_encoder.0.attention_norm.bias");
  EXPECT_EQ(rows[9].name, "model.transformer_encoder.0.ffn_norm.bias");
  EXPECT_EQ(rows[rows.size() - 3].name, "model.layer_norm.bias");
}

TEST(KeyMapping, HappyPathKeepsTableOrder) {
  NeoBertConfig c = TinyConfig();
  std::vector<TensorEntry> in = Checkpoint(c);
  std::reverse(in.begin(), in.end());  // file order must not matter
  auto plan = MapCheckpointTensors(in, c);
  ASSERT_TRUE(plan.ok()) << plan.status();
  std::vector<std::string> expected;
  for (const auto& e : ExpectedTensors(c)) {
    if (!e.optional) expected.push_back(e.name);
  }
  EXPECT_EQ(Names(plan->tensors), expected);
  EXPECT_EQ(plan->source_keys, expected);
  EXPECT_FALSE(plan->decoder_bias);
  EXPECT_FALSE(plan->tied_decoder);
  EXPECT_EQ(plan->dtype, DType::kFloat32);
  EXPECT_EQ(plan->source_dtype, DType::kFloat32);
  EXPECT_THAT(plan->notes, ElementsAre("no decoder bias in the checkpoint"));
  EXPECT_TRUE(plan->warnings.empty());
}

TEST(KeyMapping, GeluLayerNormLearnedPositionsAccepted) {
  NeoBertConfig c = GeluLayerNormLearned();
  auto plan = MapCheckpointTensors(Checkpoint(c), c);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->tensors.size(), 21u);  // 2 + 8 per layer + 2 + decoder.weight
}

TEST(KeyMapping, StripsWrapperPrefixesInAnyOrder) {
  NeoBertConfig c = TinyConfig();
  std::vector<TensorEntry> in = Checkpoint(c);
  in[0].name = "module._orig_mod." + in[0].name;
  in[1].name = "_orig_mod.module.module." + in[1].name;
  in[2].name = "module." + in[2].name;
  auto plan = MapCheckpointTensors(in, c);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->tensors[0].name, "model.encoder.weight");
  EXPECT_EQ(plan->source_keys[0], "module._orig_mod.model.encoder.weight");
  EXPECT_EQ(plan->prefixed_keys, 3);
  EXPECT_THAT(plan->notes, ::testing::Contains("stripped prefix 'module.' from 3 keys"));
  EXPECT_THAT(plan->notes, ::testing::Contains("stripped prefix '_orig_mod.' from 2 keys"));
}

TEST(KeyMapping, PrefixCollisionNamesBothKeys) {
  NeoBertConfig c = TinyConfig();
  std::vector<TensorEntry> in = Checkpoint(c);
  in.push_back(MakeTensor("module._orig_mod.model.layer_norm.weight", {8}));
  absl::Status s = PlanError(in, c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("model.safetensors: keys 'model.layer_norm.weight' and "
                                     "'module._orig_mod.model.layer_norm.weight' both map to "
                                     "'model.layer_norm.weight'"));
  std::vector<TensorEntry> only_prefix = {MakeTensor("module._orig_mod.", {1})};
  EXPECT_THAT(PlanError(only_prefix, c).message(), HasSubstr("nothing but wrapper prefixes"));
}

TEST(KeyMapping, PrefixStripDisabledGivesHint) {
  NeoBertConfig c = TinyConfig();
  std::vector<TensorEntry> in = Checkpoint(c);
  for (auto& t : in) t.name = "module." + t.name;
  MappingOptions o;
  o.allow_prefix_strip = false;
  absl::Status s = PlanError(in, c, o);
  EXPECT_THAT(s.message(), HasSubstr("missing: model.encoder.weight"));
  EXPECT_THAT(s.message(), HasSubstr("unexpected: module.decoder.weight"));
  EXPECT_THAT(s.message(), HasSubstr("prefix stripping is disabled"));
}

// A packed w12 whose float elements encode their (row, col).
TensorEntry PackedW12(const std::string& name, int64_t rows, int64_t cols, int64_t offset) {
  std::vector<uint8_t> bytes((offset + rows * cols) * sizeof(float));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t k = 0; k < cols; ++k) {
      float v = static_cast<float>(r * 100 + k);
      std::memcpy(bytes.data() + (offset + r * cols + k) * sizeof(float), &v, sizeof(float));
    }
  }
  TensorEntry t;
  t.name = name;
  t.shape = {rows, cols};
  t.strides = {cols, 1};
  t.storage_offset = offset;
  t.storage.nbytes = bytes.size();
  t.storage.key = "w12";
  t.storage.source = std::make_shared<format::MemorySource>(std::move(bytes));
  return t;
}

TEST(KeyMapping, UnpacksW12IntoRowViews) {
  NeoBertConfig c = TinyConfig();
  std::vector<TensorEntry> in = Checkpoint(c);
  for (int layer : {0, 1}) {
    const std::string stem = "model.transformer_encoder." + std::to_string(layer) + ".ffn.";
    Erase(in, stem + "w1.weight");
    Erase(in, stem + "w2.weight");
    in.push_back(PackedW12("module." + stem + "w12.weight", 16, 8, layer == 0 ? 0 : 4));
  }
  auto plan = MapCheckpointTensors(in, c);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->unpacked_w12_layers, 2);
  EXPECT_THAT(plan->notes, ::testing::Contains("unpacked ffn.w12 for 2 layers"));
  const TensorEntry& w1 = plan->tensors[3];
  const TensorEntry& w2 = plan->tensors[4];
  EXPECT_EQ(w1.name, "model.transformer_encoder.0.ffn.w1.weight");
  EXPECT_EQ(w2.name, "model.transformer_encoder.0.ffn.w2.weight");
  EXPECT_THAT(w1.shape, ElementsAre(8, 8));
  EXPECT_THAT(w2.shape, ElementsAre(8, 8));
  EXPECT_EQ(w1.storage_offset, 0);
  EXPECT_EQ(w2.storage_offset, 64);  // I_s rows of H elements
  EXPECT_EQ(w1.storage.source, w2.storage.source);  // a view, not a copy
  EXPECT_EQ(plan->source_keys[3], "module.model.transformer_encoder.0.ffn.w12.weight[rows 0:8]");
  EXPECT_EQ(plan->source_keys[4], "module.model.transformer_encoder.0.ffn.w12.weight[rows 8:16]");
  const TensorEntry& w2_layer1 = plan->tensors[4 + 7];
  EXPECT_EQ(w2_layer1.name, "model.transformer_encoder.1.ffn.w2.weight");
  EXPECT_EQ(w2_layer1.storage_offset, 4 + 64);
  // The bytes behind the views are exactly rows [0, 8) and [8, 16).
  for (const TensorEntry* t : {&w1, &w2, &w2_layer1}) {
    auto bytes = format::ReadContiguous(*t);
    ASSERT_TRUE(bytes.ok());
    const int64_t first_row = t == &w1 ? 0 : 8;
    for (int64_t r = 0; r < 8; ++r) {
      for (int64_t k = 0; k < 8; ++k) {
        float v;
        std::memcpy(&v, bytes->data() + (r * 8 + k) * sizeof(float), sizeof(float));
        ASSERT_EQ(v, static_cast<float>((first_row + r) * 100 + k)) << t->name;
      }
    }
  }
}

TEST(KeyMapping, W12Problems) {
  NeoBertConfig c = TinyConfig();
  std::vector<TensorEntry> in = Checkpoint(c);
  in.push_back(PackedW12("model.transformer_encoder.0.ffn.w12.weight", 16, 8, 0));
  EXPECT_THAT(PlanError(in, c).message(),
              HasSubstr("layer 0 has both packed 'model.transformer_encoder.0.ffn.w12.weight' "
                        "and unpacked w1/w2"));
  Erase(in, "model.transformer_encoder.0.ffn.w1.weight");
  Erase(in, "model.transformer_encoder.0.ffn.w2.weight");
  Erase(in, "model.transformer_encoder.0.ffn.w12.weight");
  in.push_back(PackedW12("model.transformer_encoder.0.ffn.w12.weight", 24, 8, 0));
  EXPECT_THAT(PlanError(in, c).message(),
              HasSubstr("model.transformer_encoder.0.ffn.w12.weight: shape [24, 8], expected "
                        "[16, 8]"));
  // A gelu model has no w12: it is a leftover.
  NeoBertConfig g = GeluLayerNormLearned();
  std::vector<TensorEntry> gin = Checkpoint(g);
  gin.push_back(PackedW12("model.transformer_encoder.0.ffn.w12.weight", 24, 8, 0));
  EXPECT_THAT(PlanError(gin, g).message(),
              HasSubstr("unexpected: model.transformer_encoder.0.ffn.w12.weight"));
}

TEST(KeyMapping, R7EmbeddingRowsMustEqualVocab) {
  NeoBertConfig c = TinyConfig();
  std::vector<TensorEntry> in = Checkpoint(c);
  Find(in, "model.encoder.weight") = MakeTensor("model.encoder.weight", {15, 8});
  absl::Status s = PlanError(in, c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("model.safetensors: tensors do not match config.yaml"));
  EXPECT_THAT(s.message(), HasSubstr("model.encoder.weight: shape [15, 8], expected [16, 8] "
                                     "(vocab_size, hidden_size)"));
}

TEST(KeyMapping, R9DecoderChecks) {
  NeoBertConfig c = TinyConfig();
  std::vector<TensorEntry> in = Checkpoint(c);
  Erase(in, "decoder.weight");
  EXPECT_THAT(PlanError(in, c).message(), HasSubstr("missing: decoder.weight"));
  in = Checkpoint(c);
  Find(in, "decoder.weight") = MakeTensor("decoder.weight", {16, 4});
  in.push_back(MakeTensor("decoder.bias", {15}));
  absl::Status s = PlanError(in, c);
  EXPECT_THAT(s.message(), HasSubstr("decoder.weight: shape [16, 4], expected [16, 8]"));
  EXPECT_THAT(s.message(), HasSubstr("decoder.bias: shape [15], expected [16] (vocab_size,)"));
}

TEST(KeyMapping, R11LayerShapes) {
  NeoBertConfig c = TinyConfig();
  std::vector<TensorEntry> in = Checkpoint(c);
  Find(in, "model.transformer_encoder.1.qkv.weight") =
      MakeTensor("model.transformer_encoder.1.qkv.weight", {8, 8});
  // Un-reduced I instead of the SwiGLU width.
  Find(in, "model.transformer_encoder.0.ffn.w3.weight") =
      MakeTensor("model.transformer_encoder.0.ffn.w3.weight", {8, 12});
  absl::Status s = PlanError(in, c);
  EXPECT_THAT(s.message(), HasSubstr("model.transformer_encoder.1.qkv.weight: shape [8, 8], "
                                     "expected [24, 8] (3*hidden_size, hidden_size)"));
  EXPECT_THAT(s.message(), HasSubstr("model.transformer_encoder.0.ffn.w3.weight: shape [8, 12], "
                                     "expected [8, 8] (hidden_size, swiglu_width"));
}

TEST(KeyMapping, NormsAndLearnedPositions) {
  NeoBertConfig c = GeluLayerNormLearned();
  std::vector<TensorEntry> in = Checkpoint(c);
  Erase(in, "model.transformer_encoder.1.ffn_norm.bias");
  Erase(in, "model.layer_norm.weight");
  Find(in, "model.positional_embedding.weight") =
      MakeTensor("model.positional_embedding.weight", {8, 8});
  absl::Status s = PlanError(in, c);
  EXPECT_THAT(s.message(), HasSubstr("model.positional_embedding.weight: shape [8, 8], expected "
                                     "[9, 8] (max_position_embeddings+1, hidden_size)"));
  EXPECT_THAT(s.message(), HasSubstr("missing: model.transformer_encoder.1.ffn_norm.bias, "
                                     "model.layer_norm.weight"));
}

TEST(KeyMapping, UnexpectedLeftoversAreListed) {
  NeoBertConfig c = TinyConfig();
  std::vector<TensorEntry> in = Checkpoint(c);
  in.push_back(MakeTensor("model.transformer_encoder.2.qkv.weight", {24, 8}));
  in.push_back(MakeTensor("freqs_cis", {8, 2, 2}));
  absl::Status s = PlanError(in, c);
  EXPECT_THAT(s.message(),
              HasSubstr("unexpected: freqs_cis, model.transformer_encoder.2.qkv.weight"));
  // ngpt weights under ngpt: false fail on missing FFN keys and leftovers.
  in = Checkpoint(c);
  Erase(in, "model.transformer_encoder.0.ffn.w1.weight");
  in.push_back(MakeTensor("model.transformer_encoder.0.c_fc.weight", {24, 8}));
  s = PlanError(in, c);
  EXPECT_THAT(s.message(), HasSubstr("missing: model.transformer_encoder.0.ffn.w1.weight"));
  EXPECT_THAT(s.message(), HasSubstr("unexpected: model.transformer_encoder.0.c_fc.weight"));
}

TEST(KeyMapping, DecoderBiasKeptOrDropped) {
  NeoBertConfig c = TinyConfig();
  std::vector<TensorEntry> in = Checkpoint(c, /*decoder_bias=*/true);
  auto kept = MapCheckpointTensors(in, c);
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_TRUE(kept->decoder_bias);
  EXPECT_EQ(kept->tensors.back().name, "decoder.bias");
  EXPECT_THAT(kept->notes, ::testing::Contains("decoder bias kept"));
  MappingOptions drop;
  drop.keep_decoder_bias = false;
  auto dropped = MapCheckpointTensors(in, c, drop);
  ASSERT_TRUE(dropped.ok());
  EXPECT_FALSE(dropped->decoder_bias);
  EXPECT_EQ(dropped->tensors.back().name, "decoder.weight");
  EXPECT_THAT(dropped->warnings, ElementsAre(HasSubstr("decoder.bias dropped")));
}

TEST(KeyMapping, TiedDecoderIsRecordedByStorageIdentity) {
  NeoBertConfig c = TinyConfig();
  std::vector<TensorEntry> in = Checkpoint(c);
  TensorEntry shared = Find(in, "model.encoder.weight");
  shared.name = "decoder.weight";
  Find(in, "decoder.weight") = shared;
  auto plan = MapCheckpointTensors(in, c);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE(plan->tied_decoder);
  EXPECT_EQ(plan->tensors.front().name, "model.encoder.weight");
  EXPECT_EQ(plan->tensors.back().name, "decoder.weight");  // still written as its own tensor
  EXPECT_THAT(plan->notes, ::testing::Contains(HasSubstr("tied")));
  // Same storage but another offset is not the same tensor.
  Find(in, "decoder.weight").storage_offset = 1;
  Find(in, "decoder.weight").storage.source = std::make_shared<format::MemorySource>(
      std::vector<uint8_t>(16 * 8 * 4 + 4));
  auto untied = MapCheckpointTensors(in, c);
  ASSERT_TRUE(untied.ok()) << untied.status();
  EXPECT_FALSE(untied->tied_decoder);
}

TEST(KeyMapping, ModelDecoderAliasIsDecoder) {
  NeoBertConfig c = TinyConfig();
  std::vector<TensorEntry> in = Checkpoint(c);
  Find(in, "decoder.weight").name = "model.decoder.weight";
  auto plan = MapCheckpointTensors(in, c);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->tensors.back().name, "decoder.weight");
  // Both spellings of the same view: one kept.
  TensorEntry alias = plan->tensors.back();
  in.push_back(Find(in, "model.decoder.weight"));
  in.back().name = "decoder.weight";
  auto both = MapCheckpointTensors(in, c);
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_EQ(both->tensors.size(), plan->tensors.size());
  // Different tensors under both spellings: refused.
  in.back() = MakeTensor("decoder.weight", {16, 8});
  EXPECT_THAT(PlanError(in, c).message(), HasSubstr("both map to 'decoder.weight'"));
}

TEST(KeyMapping, DtypeInference) {
  NeoBertConfig c = TinyConfig();
  std::vector<TensorEntry> in = Checkpoint(c);
  for (auto& t : in) t = MakeTensor(t.name, t.shape, DType::kBFloat16);
  auto bf16 = MapCheckpointTensors(in, c);
  ASSERT_TRUE(bf16.ok());
  EXPECT_EQ(bf16->dtype, DType::kBFloat16);

  Find(in, "model.layer_norm.weight") = MakeTensor("model.layer_norm.weight", {8});
  absl::Status mixed = PlanError(in, c);
  EXPECT_THAT(std::string(mixed.message()), HasSubstr("mixed dtypes: float32 (1 tensors, e.g. "
                                         "model.layer_norm.weight), bfloat16 (16 tensors"));
  MappingOptions cast;
  cast.target_dtype = DType::kBFloat16;
  auto casted = MapCheckpointTensors(in, c, cast);
  ASSERT_TRUE(casted.ok()) << casted.status();
  EXPECT_EQ(casted->dtype, DType::kBFloat16);
  EXPECT_FALSE(casted->source_dtype.has_value());
  EXPECT_THAT(casted->notes, ::testing::Contains(HasSubstr("casting")));

  for (auto& t : in) t = MakeTensor(t.name, t.shape, DType::kFloat16);
  auto fp16 = MapCheckpointTensors(in, c);
  ASSERT_TRUE(fp16.ok());
  EXPECT_EQ(fp16->dtype, DType::kFloat16);
  EXPECT_THAT(fp16->warnings, ElementsAre(HasSubstr("float16")));

  cast.target_dtype = DType::kInt8;
  EXPECT_THAT(PlanError(in, c, cast).message(), HasSubstr("target dtype int8 is not floating"));
  Find(in, "model.layer_norm.weight") = MakeTensor("model.layer_norm.weight", {8}, DType::kInt64);
  EXPECT_THAT(PlanError(in, c).message(),
              HasSubstr("not floating point: model.layer_norm.weight (int64)"));
}

TEST(KeyMapping, EmptyAndDuplicateInputs) {
  NeoBertConfig c = TinyConfig();
  EXPECT_THAT(PlanError({}, c).message(), HasSubstr("model.safetensors: contains no tensors"));
  std::vector<TensorEntry> in = Checkpoint(c);
  in.push_back(in.front());
  EXPECT_THAT(PlanError(in, c).message(), HasSubstr("'model.encoder.weight' appears twice"));
}

}  // namespace
}  // namespace neobert::core
