// Fill-mask, after the original mlm_predict.py (reference §9.2), on our
// tokenizer and engine:
//  * every literal "[MASK]" in the text becomes the export's mask token
//    (special_tokens_map.json / tokenizer_config.json), so one spelling works
//    for WordPiece ("[MASK]") and RoBERTa-style ("<mask>") tokenizers; a text
//    with no mask token left is an error;
//  * Metaspace cleanup: when "▁" is a token of its own, a lone "▁" id right
//    before a mask id is dropped (the seed does this; a SentencePiece
//    tokenizer otherwise predicts after a stray word boundary);
//  * one forward pass; for each mask position the top-k logits.
// Probabilities: `probability` is the softmax over the whole vocabulary (so
// the k values sum to at most 1); `topk_probability` is the seed's number,
// the softmax over the k selected scores only (they sum to 1).
#include "client/predict_command.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <numeric>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/cli_args.h"
#include "core/export/export_folder.h"
#include "core/tokenizer/tokenizer.h"
#include "nlohmann/json.hpp"

namespace neobert::cli {
namespace {

constexpr char kUsage[] =
    "usage: neobert-export predict EXPORT_DIR TEXT [--top-k K] [--json]\n"
    "                              [--device auto|cpu|cuda|cuda:N]\n"
    "  Fill-mask: TEXT holds one or more [MASK] (replaced by the tokenizer's own mask\n"
    "  token, e.g. <mask>); prints the top K (default 5) tokens for each mask with\n"
    "  their probability (softmax over the vocabulary) and the seed's top-k\n"
    "  renormalised probability, then the text filled with each top-1 token.\n"
    "  --confine DIR  read only beneath DIR; symlinks may not lead out\n";

constexpr const char* kMetaspace = "\xE2\x96\x81";  // U+2581

int Fail(const absl::Status& s) {
  std::cerr << "neobert-export predict: " << s.message() << "\n";
  return kExitFailed;
}

// The token as text (tokenizer.json's decoder), stripped like the seed's
// decode(...).strip().
std::string DisplayToken(const tokenizer::Tokenizer& tok, const std::string& token) {
  std::string t = tok.DecodeToken(token);
  const auto not_space = [](unsigned char c) { return !std::isspace(c); };
  t.erase(t.begin(), std::find_if(t.begin(), t.end(), not_space));
  t.erase(std::find_if(t.rbegin(), t.rend(), not_space).base(), t.end());
  return t;
}

struct Prediction {
  uint32_t id;
  std::string token, text;
  double probability, topk_probability;
};

// The text's ids with the metaspace piece before each mask dropped, and
// the positions of the masks. INVALID_ARGUMENT when there is no mask.
struct MaskedInput {
  std::vector<uint32_t> ids;
  std::vector<size_t> positions;
};

absl::StatusOr<MaskedInput> EncodeMasked(const core::ExportTokenizer& tok, const std::string& text) {
  auto enc = tok.tokenizer->Encode(text);
  if (!enc.ok()) return enc.status();
  MaskedInput in;
  in.ids = enc->ids;
  if (auto space = tok.tokenizer->TokenToId(kMetaspace);
      space && tok.tokenizer->IdToToken(*space) == std::string(kMetaspace)) {
    std::vector<uint32_t> kept;
    for (size_t i = 0; i < in.ids.size(); ++i) {
      if (in.ids[i] == *space && i + 1 < in.ids.size() && in.ids[i + 1] == tok.mask_id) continue;
      kept.push_back(in.ids[i]);
    }
    in.ids = std::move(kept);
  }
  for (size_t i = 0; i < in.ids.size(); ++i) {
    if (in.ids[i] == tok.mask_id) in.positions.push_back(i);
  }
  if (in.positions.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the text has no mask token: write [MASK] (or the tokenizer's mask token '",
        tok.special.mask, "') where a word should be predicted"));
  }
  return in;
}

// The k most likely tokens of one logits row, with their probability over
// the whole vocabulary and within the top k.
std::vector<Prediction> TopK(const float* row, size_t vocab, size_t k,
                             const tokenizer::Tokenizer& tokenizer) {
  const double max = *std::max_element(row, row + vocab);
  double total = 0;
  for (size_t v = 0; v < vocab; ++v) total += std::exp(row[v] - max);
  std::vector<uint32_t> order(vocab);
  std::iota(order.begin(), order.end(), 0u);
  // Highest logit first; ties to the lower id, as a stable top-k does.
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](uint32_t a, uint32_t b) {
    return row[a] != row[b] ? row[a] > row[b] : a < b;
  });
  double topk_total = 0;
  for (size_t r = 0; r < k; ++r) topk_total += std::exp(row[order[r]] - row[order[0]]);
  std::vector<Prediction> preds;
  for (size_t r = 0; r < k; ++r) {
    const uint32_t id = order[r];
    const std::string token = tokenizer.IdToToken(id).value_or("");
    preds.push_back({id, token, DisplayToken(tokenizer, token), std::exp(row[id] - max) / total,
                     std::exp(row[id] - row[order[0]]) / topk_total});
  }
  return preds;
}

// The text with each mask filled by its top-1 token, left to right.
std::string FillMasks(std::string text, const std::string& mask,
                      const std::vector<std::vector<Prediction>>& all) {
  size_t search = 0;
  for (const auto& preds : all) {
    const size_t at = text.find(mask, search);
    if (at == std::string::npos) break;
    text.replace(at, mask.size(), preds[0].text);
    search = at + preds[0].text.size();
  }
  return text;
}

void PrintJson(const std::string& text, const std::string& mask, const MaskedInput& in,
               const std::string& device, const std::vector<std::vector<Prediction>>& all,
               const std::string& filled) {
  nlohmann::ordered_json j;
  j["text"] = text;
  j["mask_token"] = mask;
  j["input_ids"] = in.ids;
  j["device"] = device;
  nlohmann::ordered_json masks = nlohmann::ordered_json::array();
  for (size_t m = 0; m < in.positions.size(); ++m) {
    nlohmann::ordered_json preds = nlohmann::ordered_json::array();
    for (size_t r = 0; r < all[m].size(); ++r) {
      const Prediction& p = all[m][r];
      preds.push_back({{"rank", r + 1}, {"id", p.id}, {"token", p.token}, {"text", p.text},
                       {"probability", p.probability}, {"topk_probability", p.topk_probability}});
    }
    masks.push_back({{"position", in.positions[m]}, {"predictions", std::move(preds)}});
  }
  j["masks"] = std::move(masks);
  j["filled"] = filled;
  std::cout << j.dump() << std::endl;
}

void PrintText(const std::string& text, const MaskedInput& in, size_t k,
               const std::vector<std::vector<Prediction>>& all, const std::string& filled) {
  std::cout << "text: " << text << "\n";
  for (size_t m = 0; m < in.positions.size(); ++m) {
    std::cout << "mask " << m + 1 << " (token position " << in.positions[m] << "):\n";
    for (size_t r = 0; r < all[m].size(); ++r) {
      const Prediction& p = all[m][r];
      std::cout << absl::StrFormat("  %2d. %-20s id %-7d p %.6f  (top-%d: %.4f)\n", r + 1,
                                   p.text.empty() ? p.token : p.text, p.id, p.probability, k,
                                   p.topk_probability);
    }
  }
  std::cout << "filled: " << filled << "\n";
}

}  // namespace

int RunPredict(const std::vector<std::string>& args) {
  FlagSpec spec{.boolean = {"help", "json"},
                .valued = {"top-k", "device", "confine"},
                .short_names = {{'h', "help"}, {'k', "top-k"}}};
  auto parsed = ParseArgs(args, spec);
  const bool help = parsed.ok() && parsed->Has("help");
  int top_k = 5;
  const bool bad_k = parsed.ok() && parsed->Value("top-k") &&
                     (!absl::SimpleAtoi(*parsed->Value("top-k"), &top_k) || top_k < 1);
  if (!parsed.ok() || help || parsed->positional.size() != 2 || bad_k) {
    if (!parsed.ok()) std::cerr << "neobert-export predict: " << parsed.status().message() << "\n";
    if (bad_k) std::cerr << "neobert-export predict: --top-k must be an integer >= 1\n";
    std::cerr << kUsage;
    return help ? kExitOk : kExitUsage;
  }
  const std::string export_dir = parsed->positional[0];
  std::string text = parsed->positional[1];

  auto root = CommandRoot(*parsed);
  if (!root.ok()) {
    std::cerr << "neobert-export predict: " << root.status().message() << "\n";
    return kExitUsage;
  }
  auto tok = core::LoadExportTokenizer(*root, export_dir);
  if (!tok.ok()) return Fail(tok.status());
  const std::string& mask = tok->special.mask;
  for (size_t at = text.find("[MASK]"); at != std::string::npos && mask != "[MASK]";
       at = text.find("[MASK]", at + mask.size())) {
    text.replace(at, 6, mask);
  }
  auto in = EncodeMasked(*tok, text);
  if (!in.ok()) return Fail(in.status());

  auto model = core::LoadExportModel(*root, export_dir,
                                     {.device = parsed->Value("device").value_or("auto")});
  if (!model.ok()) return Fail(model.status());
  engine::ForwardInput forward;
  forward.input_ids = {std::vector<int64_t>(in->ids.begin(), in->ids.end())};
  forward.attention_mask =
      std::vector<std::vector<double>>{std::vector<double>(in->ids.size(), 1.0)};
  auto out = (*model)->Forward(forward);
  if (!out.ok()) return Fail(out.status());

  const size_t vocab = static_cast<size_t>(out->logits_shape[2]);
  const size_t k = std::min<size_t>(top_k, vocab);
  std::vector<std::vector<Prediction>> all;
  for (size_t pos : in->positions) {
    all.push_back(TopK(out->logits.data() + pos * vocab, vocab, k, *tok->tokenizer));
  }
  const std::string filled = FillMasks(text, mask, all);
  if (parsed->Has("json")) {
    PrintJson(text, mask, *in, (*model)->device(), all, filled);
  } else {
    PrintText(text, *in, k, all, filled);
  }
  return kExitOk;
}

}  // namespace neobert::cli
