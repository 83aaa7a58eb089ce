#include "core/neobert/tokenizer_assets.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/neobert/test_util.h"

namespace neobert::core {
namespace {

using Json = nlohmann::ordered_json;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::TempDir;
using testing::TinyConfig;

constexpr const char* kSpecials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

// A WordPiece tokenizer.json: the five BERT specials (ids 0-4, also listed
// as added tokens, as HF writes them) and `n - 5` plain tokens.
Json WordPiece(int n, const std::vector<std::string>& extra_vocab = {}) {
  Json vocab = Json::object();
  for (int i = 0; i < 5; ++i) vocab[kSpecials[i]] = i;
  int id = 5;
  for (const std::string& t : extra_vocab) vocab[t] = id++;
  while (id < n) vocab["tok" + std::to_string(id)] = id, ++id;
  Json added = Json::array();
  for (int i = 0; i < 5; ++i) {
    added.push_back({{"id", i}, {"content", kSpecials[i]}, {"single_word", false},
                     {"lstrip", false}, {"rstrip", false}, {"normalized", false},
                     {"special", true}});
  }
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"added_tokens", added},
          {"normalizer", {{"type", "BertNormalizer"}}},
          {"model", {{"type", "WordPiece"}, {"unk_token", "[UNK]"}, {"vocab", vocab}}}};
}

const std::string kSpecialMap =
    R"({"cls_token": "[CLS]", "mask_token": "[MASK]", "pad_token": "[PAD]", "sep_token": "[SEP]", "unk_token": "[UNK]"})";

// transformers 4.x layout.
void WriteV4(const TempDir& d, const Json& tokenizer) {
  d.Write("tokenizer/tokenizer.json", tokenizer.dump(2));
  d.Write("tokenizer/special_tokens_map.json", kSpecialMap);
  d.Write("tokenizer/tokenizer_config.json",
          R"({"do_lower_case": true, "model_max_length": 512, "cls_token": "[CLS]",
              "tokenizer_class": "BertTokenizer"})");
  d.Write("tokenizer/vocab.txt", "[PAD]\n[UNK]\n");
}

const TokenizerFile* FindFile(const TokenizerPlan& p, const std::string& name) {
  for (const auto& f : p.files) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::vector<std::string> FileNames(const TokenizerPlan& p) {
  std::vector<std::string> n;
  for (const auto& f : p.files) n.push_back(f.name);
  return n;
}

TEST(TokenizerAssets, AlignedTokenizerIsCopiedAndMaxLengthSet) {
  TempDir d;
  WriteV4(d, WordPiece(16));
  auto plan = PlanTokenizerAssets(neobert::base::FsRoot(), d.str() + "/tokenizer", TinyConfig());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(FileNames(*plan), ElementsAre("special_tokens_map.json", "tokenizer.json",
                                            "tokenizer_config.json", "vocab.txt"));
  EXPECT_EQ(plan->tokenizer_size, 16);  // specials counted once
  EXPECT_EQ(plan->placeholders_added, 0);
  EXPECT_FALSE(plan->metaspace);
  EXPECT_EQ(plan->special.cls, "[CLS]");
  EXPECT_EQ(plan->special.mask, "[MASK]");
  EXPECT_EQ(plan->special.unk, "[UNK]");
  const TokenizerFile* tok = FindFile(*plan, "tokenizer.json");
  EXPECT_FALSE(tok->content.has_value());
  EXPECT_EQ(tok->source_path, d.str() + "/tokenizer/tokenizer.json");
  const TokenizerFile* cfg = FindFile(*plan, "tokenizer_config.json");
  ASSERT_TRUE(cfg->content.has_value());
  Json j = Json::parse(*cfg->content);
  EXPECT_EQ(j["model_max_length"], 8);  // = max_position_embeddings
  EXPECT_EQ(j["tokenizer_class"], "BertTokenizer");
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  // Sorted, as HF's save_pretrained writes it (sort_keys=True).
  EXPECT_THAT(keys, ElementsAre("cls_token", "do_lower_case", "model_max_length",
                                "tokenizer_class"));
  EXPECT_FALSE(j.contains("added_tokens_decoder"));
}

TEST(TokenizerAssets, AddsPlaceholdersUpToVocabSize) {
  TempDir d;
  WriteV4(d, WordPiece(10));
  d.Write("tokenizer/added_tokens.json", R"({"[NEW]": 9})");
  auto plan = PlanTokenizerAssets(neobert::base::FsRoot(), d.str() + "/tokenizer", TinyConfig());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->tokenizer_size, 10);
  EXPECT_EQ(plan->placeholders_added, 6);
  EXPECT_THAT(plan->notes, Contains(HasSubstr("added 6 placeholder tokens (ids 10..15)")));

  const std::string& text = *FindFile(*plan, "tokenizer.json")->content;
  const std::string original = WordPiece(10).dump(2);
  // Spliced: everything up to the last original added token is byte-identical.
  const size_t last_special = original.find("\"special\": true\n    }\n  ]");
  ASSERT_NE(last_special, std::string::npos);
  EXPECT_EQ(text.substr(0, last_special), original.substr(0, last_special));
  EXPECT_EQ(text.substr(text.find("\"normalizer\"")),
            original.substr(original.find("\"normalizer\"")));
  Json tok = Json::parse(text);
  ASSERT_EQ(tok["added_tokens"].size(), 5u + 6u);
  EXPECT_EQ(tok["added_tokens"][5].dump(),
            R"({"id":10,"content":"<|neobert_extra_token_10|>","single_word":false,)"
            R"("lstrip":false,"rstrip":false,"normalized":true,"special":false})");
  EXPECT_EQ(tok["added_tokens"][10]["content"], "<|neobert_extra_token_15|>");
  EXPECT_EQ(tok["model"]["vocab"].size(), 10u);  // the model vocab is untouched

  Json cfg = Json::parse(*FindFile(*plan, "tokenizer_config.json")->content);
  ASSERT_TRUE(cfg["added_tokens_decoder"].is_object());
  EXPECT_EQ(cfg["added_tokens_decoder"]["15"].dump(),
            R"({"content":"<|neobert_extra_token_15|>","lstrip":false,"normalized":true,)"
            R"("rstrip":false,"single_word":false,"special":false})");
  EXPECT_EQ(cfg["added_tokens_decoder"].size(), 6u);

  Json added = Json::parse(*FindFile(*plan, "added_tokens.json")->content);
  EXPECT_EQ(added["[NEW]"], 9);
  EXPECT_EQ(added["<|neobert_extra_token_12|>"], 12);
  EXPECT_EQ(PlaceholderToken(30522), "<|neobert_extra_token_30522|>");
}

TEST(TokenizerAssets, PlaceholdersWithoutAddedTokensList) {
  TempDir d;
  Json t = WordPiece(14);
  t.erase("added_tokens");
  WriteV4(d, t);
  auto plan = PlanTokenizerAssets(neobert::base::FsRoot(), d.str() + "/tokenizer", TinyConfig());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->placeholders_added, 2);
  Json tok = Json::parse(*FindFile(*plan, "tokenizer.json")->content);
  ASSERT_EQ(tok["added_tokens"].size(), 2u);
  EXPECT_EQ(tok["added_tokens"][1]["id"], 15);
  EXPECT_EQ(tok["added_tokens"][1]["normalized"], true);
}

TEST(TokenizerAssets, SpliceFindsOnlyTheTopLevelAddedTokens) {
  TempDir d;
  // Decoys before the real list: the key inside a string, and a nested
  // key of the same name.
  Json t = {{"decoy", {{"note", "\"added_tokens\": [ \\\"]"},
                       {"added_tokens", Json::array({1, 2})}}}};
  const Json real = WordPiece(15);
  for (auto& [k, v] : real.items()) t[k] = v;
  WriteV4(d, t);
  auto plan = PlanTokenizerAssets(neobert::base::FsRoot(), d.str() + "/tokenizer", TinyConfig());
  ASSERT_TRUE(plan.ok()) << plan.status();
  Json tok = Json::parse(*FindFile(*plan, "tokenizer.json")->content);
  EXPECT_EQ(tok["added_tokens"].size(), 6u);
  EXPECT_EQ(tok["added_tokens"][5]["content"], "<|neobert_extra_token_15|>");
  EXPECT_EQ(tok["decoy"], t["decoy"]);
}

TEST(TokenizerAssets, TransformersV5LayoutWithoutSpecialTokensMap) {
  TempDir d;
  d.Write("tokenizer/tokenizer.json", WordPiece(16).dump());
  d.Write("tokenizer/tokenizer_config.json", R"({
    "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]",
    "mask_token": {"content": "[MASK]", "lstrip": false, "special": true},
    "tokenizer_class": "BertTokenizer"})");
  auto plan = PlanTokenizerAssets(neobert::base::FsRoot(), d.str() + "/tokenizer", TinyConfig());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->special.mask, "[MASK]");
  EXPECT_EQ(plan->special.pad, "[PAD]");
  EXPECT_THAT(FileNames(*plan), ElementsAre("tokenizer.json", "tokenizer_config.json"));
}

TEST(TokenizerAssets, SpecialTokensMapWinsOverConfig) {
  TempDir d;
  WriteV4(d, WordPiece(16));
  d.Write("tokenizer/special_tokens_map.json",
          absl::StrReplaceAll(kSpecialMap, {{"\"[MASK]\"", R"({"content": "<mask>"})"}}));
  auto plan = PlanTokenizerAssets(neobert::base::FsRoot(), d.str() + "/tokenizer", TinyConfig());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->special.mask, "<mask>");
}

TEST(TokenizerAssets, MissingSpecialTokensNameTokensAndFiles) {
  TempDir d;
  WriteV4(d, WordPiece(16));
  d.Write("tokenizer/special_tokens_map.json", R"({"sep_token": "[SEP]", "pad_token": null})");
  absl::Status s = PlanTokenizerAssets(neobert::base::FsRoot(), d.str() + "/tokenizer", TinyConfig()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("special tokens pad_token, mask_token, unk_token not found "
                                     "in special_tokens_map.json or tokenizer_config.json"));
}

TEST(TokenizerAssets, MissingFilesAndFolders) {
  TempDir d;
  EXPECT_EQ(PlanTokenizerAssets(neobert::base::FsRoot(), d.str() + "/tokenizer", TinyConfig()).status().code(),
            absl::StatusCode::kNotFound);
  d.Write("tokenizer/tokenizer.json", WordPiece(16).dump());
  absl::Status none = PlanTokenizerAssets(neobert::base::FsRoot(), d.str() + "/tokenizer", TinyConfig()).status();
  EXPECT_EQ(none.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(none.message(),
              HasSubstr("neither special_tokens_map.json nor tokenizer_config.json exists"));
  std::filesystem::remove(d.path() / "tokenizer/tokenizer.json");
  d.Write("tokenizer/special_tokens_map.json", kSpecialMap);
  EXPECT_THAT(PlanTokenizerAssets(neobert::base::FsRoot(), d.str() + "/tokenizer", TinyConfig()).status().message(),
              HasSubstr("tokenizer.json not found"));
  d.Write("tokenizer/tokenizer.json", "{\"model\": ");
  EXPECT_THAT(PlanTokenizerAssets(neobert::base::FsRoot(), d.str() + "/tokenizer", TinyConfig()).status().message(),
              HasSubstr("tokenizer/tokenizer.json: not valid JSON"));
  d.Write("tokenizer/tokenizer.json", R"({"model": {"type": "BPE"}})");
  EXPECT_THAT(PlanTokenizerAssets(neobert::base::FsRoot(), d.str() + "/tokenizer", TinyConfig()).status().message(),
              HasSubstr("model.vocab is missing"));
}

TEST(TokenizerAssets, R19MoreTokensThanVocabIsAnError) {
  TempDir d;
  WriteV4(d, WordPiece(20));
  absl::Status s = PlanTokenizerAssets(neobert::base::FsRoot(), d.str() + "/tokenizer", TinyConfig()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("tokenizer has 20 tokens, more than model.vocab_size 16"));
}

TEST(TokenizerAssets, IdsMustBeContiguous) {
  TempDir d;
  Json t = WordPiece(10);
  t["added_tokens"].push_back({{"id", 14}, {"content", "[X]"}});
  WriteV4(d, t);
  EXPECT_THAT(PlanTokenizerAssets(neobert::base::FsRoot(), d.str() + "/tokenizer", TinyConfig()).status().message(),
              HasSubstr("token ids are not contiguous (11 distinct ids, largest 14)"));
}

TEST(TokenizerAssets, PlaceholderCollisionAndCap) {
  TempDir d;
  WriteV4(d, WordPiece(10, {"<|neobert_extra_token_12|>"}));
  EXPECT_THAT(PlanTokenizerAssets(neobert::base::FsRoot(), d.str() + "/tokenizer", TinyConfig()).status().message(),
              HasSubstr("placeholder <|neobert_extra_token_12|> already exists"));
  NeoBertConfig big = TinyConfig();
  big.vocab_size = 100000;
  WriteV4(d, WordPiece(10));
  EXPECT_THAT(PlanTokenizerAssets(neobert::base::FsRoot(), d.str() + "/tokenizer", big).status().message(),
              HasSubstr("refusing to add more than 65536 placeholder tokens"));
}

TEST(TokenizerAssets, UnigramListVocabAndMetaspace) {
  TempDir d;
  Json vocab = Json::array();
  for (const char* t : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "\xE2\x96\x81", "a", "b"}) {
    vocab.push_back(Json::array({t, -1.5}));
  }
  d.Write("tokenizer/tokenizer.json",
          Json{{"added_tokens", Json::array()},
               {"pre_tokenizer", {{"type", "Metaspace"}}},
               {"model", {{"type", "Unigram"}, {"unk_id", 1}, {"vocab", vocab}}}}
              .dump());
  d.Write("tokenizer/special_tokens_map.json", kSpecialMap);
  auto plan = PlanTokenizerAssets(neobert::base::FsRoot(), d.str() + "/tokenizer", TinyConfig());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->tokenizer_size, 8);
  EXPECT_EQ(plan->placeholders_added, 8);
  EXPECT_TRUE(plan->metaspace);
  // No tokenizer_config.json in the checkpoint: one is created.
  EXPECT_THAT(plan->notes, Contains(HasSubstr("created tokenizer_config.json")));
  Json cfg = Json::parse(*FindFile(*plan, "tokenizer_config.json")->content);
  EXPECT_EQ(cfg["tokenizer_class"], "PreTrainedTokenizerFast");
  EXPECT_EQ(cfg["mask_token"], "[MASK]");
  EXPECT_EQ(cfg["model_max_length"], 8);
  EXPECT_EQ(FindFile(*plan, "tokenizer_config.json")->source_path, "");
  // Spliced into the empty list; scores untouched.
  Json tok = Json::parse(*FindFile(*plan, "tokenizer.json")->content);
  EXPECT_EQ(tok["added_tokens"].size(), 8u);
  EXPECT_EQ(tok["added_tokens"][0]["id"], 8);
  EXPECT_EQ(tok["model"]["vocab"][6][1], -1.5);
}

TEST(TokenizerAssets, SkipsWhatIsNotATokenizerFile) {
  TempDir d;
  WriteV4(d, WordPiece(16));
  d.Write("tokenizer/README.md", "# not ours");
  d.Write("tokenizer/config.json", "{}");
  d.Write("tokenizer/.cache", "x");
  d.Write("tokenizer/sub/file.txt", "x");
  auto plan = PlanTokenizerAssets(neobert::base::FsRoot(), d.str() + "/tokenizer", TinyConfig());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(FileNames(*plan), ElementsAre("special_tokens_map.json", "tokenizer.json",
                                            "tokenizer_config.json", "vocab.txt"));
  EXPECT_THAT(plan->notes, Contains(HasSubstr("skipped 'README.md' (the exporter writes")));
  EXPECT_THAT(plan->notes, Contains(HasSubstr("skipped 'config.json'")));
  EXPECT_THAT(plan->notes, Contains(HasSubstr("skipped hidden entry '.cache'")));
  EXPECT_THAT(plan->notes, Contains(HasSubstr("skipped 'sub' (not a regular file)")));
}

TEST(TokenizerAssets, SymlinksInsideFollowedOutsideRefused) {
  TempDir d;
  WriteV4(d, WordPiece(16));
  d.Write("tokenizer/real_merges.txt", "a b\n");
  std::filesystem::create_symlink("real_merges.txt", d.path() / "tokenizer/merges.txt");
  auto plan = PlanTokenizerAssets(neobert::base::FsRoot(), d.str() + "/tokenizer", TinyConfig());
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_NE(FindFile(*plan, "merges.txt"), nullptr);
  EXPECT_EQ(FindFile(*plan, "merges.txt")->source_path, d.str() + "/tokenizer/real_merges.txt");

  d.Write("secret.txt", "top secret");
  std::filesystem::create_symlink(d.path() / "secret.txt", d.path() / "tokenizer/spiece.model");
  absl::Status s = PlanTokenizerAssets(neobert::base::FsRoot(), d.str() + "/tokenizer", TinyConfig()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("spiece.model: symlink points to " + d.str() +
                                     "/secret.txt, outside the tokenizer folder"));
}

}  // namespace
}  // namespace neobert::core
