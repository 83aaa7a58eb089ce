#include "core/neobert/model_card.h"

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/neobert/test_util.h"

namespace neobert::core {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using testing::TinyConfig;

ModelCardInputs Inputs() {
  ModelCardInputs in;
  in.repo_id = "neobert_100m_100000";
  in.source_checkpoint = "/runs/neobert_100m/model_checkpoints/100000";
  in.weights_format = "safetensors";
  in.dtype = format::DType::kBFloat16;
  in.weight_files = {"model.safetensors", "pytorch_model.bin"};
  in.tokenizer_files = {"tokenizer.json", "tokenizer_config.json", "vocab.txt"};
  in.notes = {"stripped prefix 'module.' from 17 keys"};
  return in;
}

std::string Card(const NeoBertConfig& c, const ModelCardInputs& in) {
  auto card = RenderModelCard(c, in);
  EXPECT_TRUE(card.ok()) << card.status();
  return card.ok() ? *card : "";
}

TEST(ModelCard, FrontMatterAndSectionsInOrder) {
  const std::string card = Card(TinyConfig(), Inputs());
  EXPECT_THAT(card, StartsWith("---\nlibrary_name: transformers\nlicense: mit\ndatasets:\n"
                               "  - refinedweb\nlanguage:\n  - en\n---\n\n# NeoBERT Model\n"));
  const char* sections[] = {"# NeoBERT Model",
                            "## Model Details",
                            "## Runtime Dependencies",
                            "## Exported Artifacts",
                            "## Usage",
                            "> [!IMPORTANT]",
                            "### For Masked Language Modeling (Fill-Mask)",
                            "### For Embeddings / Feature Extraction",
                            "## Training Configuration",
                            "<details>\n<summary>Full Config</summary>",
                            "## Export Provenance"};
  size_t at = 0;
  for (const char* s : sections) {
    size_t found = card.find(s, at);
    ASSERT_NE(found, std::string::npos) << s;
    at = found;
  }
}

TEST(ModelCard, DetailsDependenciesArtifactsProvenance) {
  const std::string card = Card(TinyConfig(), Inputs());
  for (const char* line :
       {"- **Hidden Size:** 8\n", "- **Layers:** 2\n", "- **Attention Heads:** 2\n",
        "- **Vocab Size:** 16\n", "- **Max Length:** 8\n", "- **Dtype:** bfloat16\n",
        "- `model.safetensors`: weights (bfloat16)\n", "- `pytorch_model.bin`: weights",
        "- tokenizer: `tokenizer.json`, `tokenizer_config.json`, `vocab.txt`\n",
        "- `manifest.json`", "`model.py`, `rotary.py`",
        "- **Source checkpoint:** `/runs/neobert_100m/model_checkpoints/100000`\n",
        "- **Weights read from:** safetensors\n",
        "- **Decoder bias:** absent (bias-free decoder)\n",
        "- stripped prefix 'module.' from 17 keys\n"}) {
    EXPECT_THAT(card, HasSubstr(line));
  }
  EXPECT_THAT(card, HasSubstr("no flash-attn, no Liger kernels"));
  ModelCardInputs biased = Inputs();
  biased.decoder_bias = true;
  EXPECT_THAT(Card(TinyConfig(), biased), HasSubstr("- **Decoder bias:** kept"));
}

TEST(ModelCard, DatasetOmittedWhenEmptyAndQuotedWhenOdd) {
  NeoBertConfig c = TinyConfig();
  c.dataset_name = "";
  EXPECT_THAT(Card(c, Inputs()), StartsWith("---\nlibrary_name: transformers\nlicense: mit\n"
                                            "language:\n  - en\n---\n"));
  c.dataset_name = "a: b";
  EXPECT_THAT(Card(c, Inputs()), HasSubstr("datasets:\n  - \"a: b\"\n"));
}

TEST(ModelCard, MaskDisplayRule) {
  ModelCardInputs in = Inputs();
  in.mask_token = "[mask]";
  std::string card = Card(TinyConfig(), in);
  EXPECT_THAT(card, HasSubstr("text = \"NeoBERT is the most [MASK] model of its kind!\"\n"));
  EXPECT_THAT(card, HasSubstr("text = text.replace(\"[MASK]\", tokenizer.mask_token)\n"));
  EXPECT_THAT(card, HasSubstr("repo_id = \"neobert_100m_100000\"\n"));
  in.mask_token = "<mask>";
  card = Card(TinyConfig(), in);
  EXPECT_THAT(card, HasSubstr("text = \"NeoBERT is the most <mask> model of its kind!\"\n"));
  in.mask_token = "<\"m\">";
  EXPECT_THAT(Card(TinyConfig(), in), HasSubstr("most <\\\"m\\\"> model"));
}

TEST(ModelCard, MetaspaceCleanupOnlyWhenNeeded) {
  ModelCardInputs in = Inputs();
  EXPECT_THAT(Card(TinyConfig(), in), Not(HasSubstr("convert_tokens_to_ids")));
  in.metaspace = true;
  const std::string card = Card(TinyConfig(), in);
  EXPECT_THAT(card, HasSubstr("space_id = tokenizer.convert_tokens_to_ids(\"\xE2\x96\x81\")"));
  EXPECT_THAT(card, HasSubstr("\"attention_mask\": torch.ones(1, len(ids), dtype=torch.long)"));
  // The cleanup runs before the forward pass.
  EXPECT_LT(card.find("space_id ="), card.find("logits = model(**inputs).logits"));
}

TEST(ModelCard, EmbeddingSnippetUsesFirstToken) {
  const std::string card = Card(TinyConfig(), Inputs());
  EXPECT_THAT(card, HasSubstr("model = AutoModel.from_pretrained(repo_id, trust_remote_code=True)"));
  EXPECT_THAT(card, HasSubstr("outputs.last_hidden_state[:, 0, :]"));
  EXPECT_THAT(card, HasSubstr("print(embedding.shape)"));
}

TEST(ModelCard, TrainingConfigRedumpedInOriginalOrder) {
  auto c = ParseCheckpointConfig(
      "zeta:\n  b: 1\n  a: 2\nmodel:\n" +
      absl::StrReplaceAll(testing::TinyConfigYaml(), {{"model:\n", ""}}) +
      "alpha: [1, {x: 2}]\nempty: []\nanchor: &a {k: v}\nref: *a\n");
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string card = Card(*c, Inputs());
  const size_t fence = card.find("```yaml\n");
  ASSERT_NE(fence, std::string::npos);
  const std::string yaml = card.substr(fence + 8, card.find("\n```", fence + 8) - fence - 8);
  EXPECT_THAT(yaml, StartsWith("zeta:\n  b: 1\n  a: 2\nmodel:\n  name: null\n  hidden_size: 8\n"));
  EXPECT_THAT(yaml, HasSubstr("  norm_eps: 1.0e-05\n"));  // scalars as written
  EXPECT_THAT(yaml, HasSubstr("alpha:\n  - 1\n  - x: 2\nempty: []\n"));  // block style
  EXPECT_THAT(yaml, HasSubstr("anchor: &1\n  k: v\nref: *1"));  // aliases stay aliases
  EXPECT_LT(yaml.find("trainer:"), yaml.find("alpha:"));
  // It parses back to the same document.
  EXPECT_TRUE(ParseCheckpointConfig(yaml).ok());
}

TEST(ModelCard, AliasBombIsNotExpanded) {
  // Nine levels of ten aliases each: 10^9 leaves if anything expanded them.
  std::string yaml = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 10; ++i) {
    const std::string prev = "*l" + std::to_string(i - 1);
    yaml += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) yaml += (k ? ", " : "") + prev;
    yaml += "]\n";
  }
  yaml += testing::TinyConfigYaml();
  auto c = ParseCheckpointConfig(yaml);
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string card = Card(*c, Inputs());
  EXPECT_LT(card.size(), 64u << 10);
  EXPECT_THAT(card, HasSubstr("- *"));
}

}  // namespace
}  // namespace neobert::core
