#include "core/export/validator_text_checks.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/base/excerpt.h"
#include "core/base/json.h"
#include "core/base/status_macros.h"

namespace neobert::core {
namespace fs = std::filesystem;

namespace {

// §9.1 step 3, 4, 6 and 7 texts, verbatim from the original validator.
constexpr const char* kTokenizerText = "tokenizer check.";
constexpr const char* kMaskText = "sanity [MASK] token.";
constexpr const char* kPipelineTexts[] = {"NeoBERT efficiency check.", "Models improve rapidly.",
                                          "The quick brown fox jumps."};
constexpr const char* kCosineSentences[] = {
    "The cat sat on the mat.",       "The feline rested on the rug.",
    "I love programming in Python.", "I enjoy coding with Python.",
    "The cat sat on the mat.",       "Quantum physics explores subatomic particles."};
constexpr double kMinSimilar = 0.5;    // sim1, sim2 must reach this
constexpr double kMaxDifferent = 0.95; // diff must not exceed this
// Padded row vs the same text alone: only summation order may differ (a
// batch of another shape takes other BLAS kernels), relative to the largest
// value. A real leak of padded keys moves values by their own order of size;
// rounding moved the 200 MB random-weight test model's by 7e-4 of 4.
constexpr double kPaddingTolerance = 1e-3;

absl::Status Fail(const std::string& why) { return absl::FailedPreconditionError(why); }

bool AllFinite(const std::vector<float>& v) {
  return std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); });
}

double Cosine(const std::vector<double>& a, const std::vector<double>& b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return (na > 0 && nb > 0) ? dot / std::sqrt(na * nb) : 0.0;
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

}  // namespace

absl::StatusOr<TokenizerCheckResult> CheckExportTokenizer(const base::FsRoot& root,
                                                          const std::string& export_dir,
                                                          const engine::ModelSpec* spec) {
  ASSIGN_OR_RETURN(auto loaded, LoadExportTokenizer(root, export_dir));
  TokenizerCheckResult r{.tokenizer = std::move(loaded), .detail = ""};
  const ExportTokenizer& t = r.tokenizer;

  ASSIGN_OR_RETURN(auto enc, t.tokenizer->Encode(kTokenizerText));
  if (enc.ids.empty()) return Fail(absl::StrCat("'", kTokenizerText, "' encodes to no ids"));
  std::vector<std::string> agree;
  if (spec != nullptr) {
    const size_t n = t.tokenizer->VocabSize();
    if (n > static_cast<size_t>(spec->vocab_size)) {
      return Fail(absl::StrCat("tokenizer.json has ", n, " tokens, more than config.json vocab_size ",
                               spec->vocab_size));
    }
    for (uint32_t id : enc.ids) {
      if (id >= spec->vocab_size) {
        return Fail(absl::StrCat("'", kTokenizerText, "' encodes to id ", id,
                                 ", outside config.json vocab_size ", spec->vocab_size));
      }
    }
    // config.json's pad_token_id is what the model treats as padding (learned
    // positions); the tokenizer must pad with the same id.
    if (spec->pad_token_id && *spec->pad_token_id != t.pad_id) {
      return Fail(absl::StrCat("pad token '", base::Excerpt(t.special.pad), "' is id ", t.pad_id,
                               " but config.json pad_token_id is ", *spec->pad_token_id));
    }
    if (spec->pad_token_id) agree.push_back("pad_token_id");
  }
  // Other *_token_id fields config.json may carry (the original exporter's
  // configs can; ours writes pad_token_id only).
  {
    // A config.json that does not parse is the config check's finding.
    auto read = base::ReadJsonObject(root, (fs::path(export_dir) / "config.json").string(),
                                     {.max_bytes = 1 << 20});
    const nlohmann::json j = read.ok() ? *std::move(read) : nlohmann::json();
    const std::pair<const char*, uint32_t> fields[] = {
        {"cls_token_id", t.cls_id}, {"sep_token_id", t.sep_id}, {"mask_token_id", t.mask_id},
        {"unk_token_id", t.unk_id}};
    for (const auto& [field, id] : fields) {
      if (!j.is_object() || !j.contains(field) || j[field].is_null()) continue;
      if (!j[field].is_number_integer() || j[field].get<int64_t>() != id) {
        return Fail(absl::StrCat("config.json ", field, " is ", base::Excerpt(j[field].dump()),
                                 " but the tokenizer's is ", id));
      }
      agree.push_back(field);
    }
  }
  if (auto pad = t.tokenizer->PaddingId(); pad && *pad != t.pad_id) {
    return Fail(absl::StrCat("tokenizer.json padding pad_id ", *pad, " differs from the pad token '",
                             base::Excerpt(t.special.pad), "' (id ", t.pad_id, ")"));
  }
  const std::string masked = Replace(kMaskText, "[MASK]", t.special.mask);
  ASSIGN_OR_RETURN(auto menc, t.tokenizer->Encode(masked));
  if (std::count(menc.ids.begin(), menc.ids.end(), t.mask_id) != 1) {
    return Fail(absl::StrCat("'", base::Excerpt(masked, 80), "' does not encode the mask token '",
                             base::Excerpt(t.special.mask),
                             "' as exactly one id ", t.mask_id));
  }
  r.detail = absl::StrCat("'", kTokenizerText, "' -> ", enc.ids.size(), " ids; cls/sep/pad/mask/unk ",
                          t.cls_id, "/", t.sep_id, "/", t.pad_id, "/", t.mask_id, "/", t.unk_id,
                          agree.empty() ? "" : absl::StrCat(" agree with config.json ",
                                                            absl::StrJoin(agree, ", ")));
  return r;
}

absl::StatusOr<std::string> CheckEndToEnd(const engine::NeoBertModel& model,
                                          const ExportTokenizer& tok) {
  const std::vector<std::string> texts(std::begin(kPipelineTexts), std::end(kPipelineTexts));
  ASSIGN_OR_RETURN(auto rows, tok.tokenizer->EncodeBatch(texts, /*pad=*/true, tok.pad_id));
  const engine::ForwardInput batch = ForwardInputFromEncodings(rows);
  ASSIGN_OR_RETURN(auto out, model.Forward(batch));
  const int64_t b = static_cast<int64_t>(texts.size());
  const int64_t s = static_cast<int64_t>(batch.input_ids[0].size());
  const int64_t h = model.spec().hidden_size, v = model.spec().vocab_size;
  if (out.hidden_shape != std::vector<int64_t>{b, s, h} ||
      out.logits_shape != std::vector<int64_t>{b, s, v}) {
    return Fail(absl::StrCat("shapes (", absl::StrJoin(out.hidden_shape, ", "), ") / (",
                             absl::StrJoin(out.logits_shape, ", "), "), expected (", b, ", ", s,
                             ", ", h, ") / (", b, ", ", s, ", ", v, ")"));
  }
  if (!AllFinite(out.last_hidden_state) || !AllFinite(out.logits)) {
    return Fail("non-finite values in last_hidden_state or logits");
  }
  // Padding must not change the real tokens: each row against its text alone.
  // RoPE positions are 0..S-1 whatever the padding (§7.3), so a left-padded
  // row is legitimately different there; only rows whose real tokens start at
  // position 0, or learned positions, are comparable.
  double worst = 0, largest = 0;
  int compared = 0;
  for (int64_t r = 0; r < b; ++r) {
    const auto& mask = rows[r].attention_mask;
    const int64_t first = std::find(mask.begin(), mask.end(), 1u) - mask.begin();
    if (first != 0 && model.spec().rope) continue;
    ASSIGN_OR_RETURN(auto alone_enc, tok.tokenizer->Encode(texts[r]));
    ASSIGN_OR_RETURN(auto alone, model.Forward(ForwardInputFromEncodings({alone_enc})));
    const int64_t n = static_cast<int64_t>(alone_enc.ids.size());
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t k = 0; k < h; ++k) {
        const double a = out.last_hidden_state[(r * s + first + i) * h + k];
        const double c = alone.last_hidden_state[i * h + k];
        worst = std::max(worst, std::abs(a - c));
        largest = std::max(largest, std::abs(c));
      }
    }
    ++compared;
  }
  const double tolerance = kPaddingTolerance * std::max(1.0, largest);
  if (worst > tolerance) {
    return Fail(absl::StrFormat("a padded row differs from its text run alone by max-abs %.3g "
                                "(> %.3g = %.0e x the largest value): padding leaks into the result",
                                worst, tolerance, kPaddingTolerance));
  }
  return absl::StrFormat("%d texts padded to (%d, %d): hidden (%d, %d, %d), logits (%d, %d, %d), "
                         "finite; %d padded rows equal their text alone (max-abs %.3g)",
                         b, b, s, b, s, h, b, s, v, compared, worst);
}

absl::StatusOr<CosineSanityResult> CheckCosineSanity(const engine::NeoBertModel& model,
                                                     const ExportTokenizer& tok) {
  const int64_t h = model.spec().hidden_size;
  std::vector<std::vector<double>> mean, cls;
  for (const char* sentence : kCosineSentences) {
    ASSIGN_OR_RETURN(auto enc, tok.tokenizer->Encode(sentence));
    ASSIGN_OR_RETURN(auto out, model.Forward(ForwardInputFromEncodings({enc})));
    const size_t n = enc.ids.size();
    std::vector<double> m(h, 0.0), c(h, 0.0);
    double weight = 0;
    for (size_t i = 0; i < n; ++i) {
      const double w = enc.attention_mask[i];
      weight += w;
      for (int64_t k = 0; k < h; ++k) m[k] += w * out.last_hidden_state[i * h + k];
    }
    // Σ(h·m) / max(Σm, 1), as the b4beb16+ seed pools.
    for (auto& x : m) x /= std::max(weight, 1.0);
    for (int64_t k = 0; k < h; ++k) c[k] = out.last_hidden_state[k];
    mean.push_back(std::move(m));
    cls.push_back(std::move(c));
  }
  CosineSanityResult r;
  r.sim1 = Cosine(mean[0], mean[1]);
  r.sim2 = Cosine(mean[2], mean[3]);
  r.diff = Cosine(mean[4], mean[5]);
  r.passed = r.sim1 >= kMinSimilar && r.sim2 >= kMinSimilar && r.diff <= kMaxDifferent;
  r.detail = absl::StrFormat(
      "mean pooling: sim(cat, feline) %.4f, sim(python, python) %.4f, sim(cat, quantum) %.4f "
      "(seed's thresholds >= %.2f, >= %.2f, <= %.2f: %s); CLS vectors: %.4f, %.4f, %.4f",
      r.sim1, r.sim2, r.diff, kMinSimilar, kMinSimilar, kMaxDifferent,
      r.passed ? "met" : "NOT met", Cosine(cls[0], cls[1]), Cosine(cls[2], cls[3]),
      Cosine(cls[4], cls[5]));
  return r;
}

}  // namespace neobert::core
