#include "core/tokenizer/tokenizer.h"

#include <cstdint>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "core/base/excerpt.h"
#include "core/base/json.h"
#include "core/base/status_macros.h"
#include "core/tokenizer/added_vocabulary.h"
#include "core/tokenizer/decoders.h"
#include "core/tokenizer/json_util.h"
#include "core/tokenizer/models.h"
#include "core/tokenizer/normalizers.h"
#include "core/tokenizer/post_processors.h"
#include "core/tokenizer/pre_tokenizers.h"
#include "core/tokenizer/unicode.h"

namespace neobert::tokenizer {

struct TruncationParams {
  enum class Strategy { kLongestFirst, kOnlyFirst, kOnlySecond } strategy;
  uint64_t max_length;
  bool left;  // direction Left: keep the end
};

struct PaddingParams {
  std::optional<uint64_t> fixed;  // Fixed(n); nullopt = BatchLongest
  bool left;
  uint64_t multiple;  // 0 = none
  uint32_t pad_id, pad_type_id;
  std::string pad_token;
};

namespace {

using json_util::Json;

absl::StatusOr<std::unique_ptr<TruncationParams>> ParseTruncation(const Json& j, const std::string& where) {
  RETURN_IF_ERROR(json_util::ExpectObject(j, where));
  auto t = std::make_unique<TruncationParams>();
  ASSIGN_OR_RETURN(uint64_t max,
                   json_util::GetUint(j, "max_length", where, std::nullopt, UINT64_MAX));
  t->max_length = max;
  ASSIGN_OR_RETURN(std::string dir, json_util::GetString(j, "direction", where, "Right"));
  if (dir != "Left" && dir != "Right") {
    return json_util::Invalid(json_util::Field(where, "direction"), "expected Left or Right");
  }
  t->left = dir == "Left";
  ASSIGN_OR_RETURN(std::string strategy, json_util::GetString(j, "strategy", where, std::nullopt));
  if (strategy == "LongestFirst") {
    t->strategy = TruncationParams::Strategy::kLongestFirst;
  } else if (strategy == "OnlyFirst") {
    t->strategy = TruncationParams::Strategy::kOnlyFirst;
  } else if (strategy == "OnlySecond") {
    t->strategy = TruncationParams::Strategy::kOnlySecond;
  } else {
    return json_util::Invalid(json_util::Field(where, "strategy"), absl::StrCat("unknown strategy '", base::Excerpt(strategy), "'"));
  }
  return t;
}

absl::StatusOr<std::unique_ptr<PaddingParams>> ParsePadding(const Json& j, const std::string& where) {
  RETURN_IF_ERROR(json_util::ExpectObject(j, where));
  auto p = std::make_unique<PaddingParams>();
  const Json* s = json_util::Find(j, "strategy");
  const std::string sw = json_util::Field(where, "strategy");
  if (s != nullptr && s->is_string() && s->get<std::string>() == "BatchLongest") {
    p->fixed.reset();
  } else if (s != nullptr && s->is_object() && s->contains("Fixed")) {
    ASSIGN_OR_RETURN(uint64_t n,
                     json_util::GetUint(*s, "Fixed", sw, std::nullopt, uint64_t{1} << 32));
    p->fixed = n;
  } else {
    return json_util::Invalid(sw, "expected \"BatchLongest\" or {\"Fixed\": n}");
  }
  ASSIGN_OR_RETURN(std::string dir, json_util::GetString(j, "direction", where, std::nullopt));
  if (dir != "Left" && dir != "Right") {
    return json_util::Invalid(json_util::Field(where, "direction"), "expected Left or Right");
  }
  p->left = dir == "Left";
  ASSIGN_OR_RETURN(uint64_t multiple,
                   json_util::GetUint(j, "pad_to_multiple_of", where, 0, uint64_t{1} << 32));
  p->multiple = multiple;
  ASSIGN_OR_RETURN(uint64_t id, json_util::GetUint(j, "pad_id", where, std::nullopt, UINT32_MAX));
  p->pad_id = static_cast<uint32_t>(id);
  ASSIGN_OR_RETURN(uint64_t type_id, json_util::GetUint(j, "pad_type_id", where, 0, UINT32_MAX));
  p->pad_type_id = static_cast<uint32_t>(type_id);
  ASSIGN_OR_RETURN(std::string token, json_util::GetString(j, "pad_token", where, std::nullopt));
  p->pad_token = token;
  return p;
}

size_t RoundUp(size_t n, uint64_t multiple) {
  if (multiple > 0 && n % multiple != 0) n += static_cast<size_t>(multiple - n % multiple);
  return n;
}

}  // namespace

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromFile(const base::FsRoot& root,
                                                               const std::string& path) {
  bool via_symlink = false;
  ASSIGN_OR_RETURN(std::string text, root.ReadFile(path, kMaxTokenizerJsonBytes, &via_symlink));
  auto tokenizer = FromJson(text, path);
  if (via_symlink && !tokenizer.ok()) return base::WithoutContent(tokenizer.status(), path);
  return tokenizer;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromJson(const std::string& text,
                                                               const std::string& origin) {
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  RETURN_IF_ERROR(t->Load(text, origin));
  return t;
}

absl::Status Tokenizer::Load(const std::string& text, const std::string& origin) {
  origin_ = origin;
  const std::string root = absl::StrCat(origin, ": ");
  // FromFile strips the excerpt of a file reached through a symlink.
  ASSIGN_OR_RETURN(const Json j, base::ParseJsonObject(text, origin,
                                                       {.max_bytes = kMaxTokenizerJsonBytes},
                                                       /*quote=*/true));

  if (const Json* v = json_util::Find(j, "version"); v != nullptr) {
    if (!v->is_string() || v->get<std::string>() != "1.0") {
      return json_util::Invalid(root + "version", absl::StrCat("unknown tokenizer version ", json_util::Show(*v)));
    }
  }
  if (const Json* n = json_util::Find(j, "normalizer"); n != nullptr) {
    ASSIGN_OR_RETURN(std::unique_ptr<Normalizer> p, ParseNormalizer(*n, root + "normalizer"));
    normalizer_ = std::move(p);
  }
  if (const Json* n = json_util::Find(j, "pre_tokenizer"); n != nullptr) {
    ASSIGN_OR_RETURN(std::unique_ptr<PreTokenizer> p,
                     ParsePreTokenizer(*n, root + "pre_tokenizer"));
    pre_tokenizer_ = std::move(p);
  }
  decoder_ = std::make_unique<TokenDecoder>(TokenDecoder::FromJson(json_util::Find(j, "decoder")));
  const Json* m = json_util::Find(j, "model");
  if (m == nullptr) return json_util::Invalid(root + "model", "missing");
  ASSIGN_OR_RETURN(std::unique_ptr<Model> model, ParseModel(*m, root + "model"));
  model_ = std::move(model);
  if (const Json* n = json_util::Find(j, "post_processor"); n != nullptr) {
    ASSIGN_OR_RETURN(std::unique_ptr<PostProcessor> p,
                     ParsePostProcessor(*n, root + "post_processor"));
    post_processor_ = std::move(p);
  }
  if (const Json* n = json_util::Find(j, "truncation"); n != nullptr) {
    ASSIGN_OR_RETURN(std::unique_ptr<TruncationParams> p, ParseTruncation(*n, root + "truncation"));
    truncation_ = std::move(p);
  }
  if (const Json* n = json_util::Find(j, "padding"); n != nullptr) {
    ASSIGN_OR_RETURN(std::unique_ptr<PaddingParams> p, ParsePadding(*n, root + "padding"));
    padding_ = std::move(p);
  }

  std::vector<AddedTokenSpec> specs;
  const std::string aw = root + "added_tokens";
  if (const Json* a = json_util::Find(j, "added_tokens"); a != nullptr) {
    RETURN_IF_ERROR(json_util::ExpectArray(*a, aw));
    if (a->size() > kMaxVocabSize) return json_util::Invalid(aw, "too many added tokens");
    for (size_t i = 0; i < a->size(); ++i) {
      const Json& t = (*a)[i];
      const std::string tw = json_util::Index(aw, i);
      RETURN_IF_ERROR(json_util::ExpectObject(t, tw));
      AddedTokenSpec s;
      ASSIGN_OR_RETURN(std::string content, json_util::GetString(t, "content", tw, std::nullopt));
      s.content = content;
      ASSIGN_OR_RETURN(bool special, json_util::GetBool(t, "special", tw, false));
      s.special = special;
      for (auto [key, dst, dflt] : {std::tuple{"single_word", &s.single_word, false},
                                    std::tuple{"lstrip", &s.lstrip, false},
                                    std::tuple{"rstrip", &s.rstrip, false},
                                    std::tuple{"normalized", &s.normalized, !s.special}}) {
        ASSIGN_OR_RETURN(bool v, json_util::GetBool(t, key, tw, dflt));
        *dst = v;
      }
      specs.push_back(std::move(s));
    }
  }
  ASSIGN_OR_RETURN(AddedVocabulary added,
                   AddedVocabulary::Create(specs, *model_, normalizer_.get(), aw));
  added_ = std::make_unique<AddedVocabulary>(std::move(added));
  return absl::OkStatus();
}

absl::StatusOr<Encoding> Tokenizer::Encode(const std::string& text, bool add_special_tokens) const {
  if (text.size() > kMaxEncodeInputBytes) {
    return absl::InvalidArgumentError(absl::StrCat(origin_, ": input of ", text.size(),
                                                   " bytes exceeds the limit ", kMaxEncodeInputBytes));
  }
  std::u32string chars;
  std::vector<uint32_t> offsets;
  size_t bad = 0;
  if (!unicode::DecodeUtf8(text, &chars, &offsets, &bad)) {
    return absl::InvalidArgumentError(absl::StrCat(origin_, ": input text is not UTF-8 (byte ", bad, ")"));
  }
  PreTokenizedString pieces;
  RETURN_IF_ERROR(added_->ExtractAndNormalize(
                      normalizer_.get(), NormalizedString(std::move(chars), std::move(offsets)),
                      &pieces),
                  origin_);
  if (pre_tokenizer_ != nullptr) pre_tokenizer_->PreTokenize(&pieces);

  TokenSequence seq;
  for (Split& s : pieces.splits()) {
    if (s.tokens.has_value()) {
      for (Token& t : *s.tokens) seq.tokens.push_back(std::move(t));
      continue;
    }
    RETURN_IF_ERROR(model_->Tokenize(s.normalized.text(), &seq.tokens), origin_);
  }
  seq.type_ids.assign(seq.tokens.size(), 0);

  if (truncation_ != nullptr) {
    uint64_t max = truncation_->max_length;
    const size_t added = post_processor_ != nullptr ? post_processor_->AddedTokens() : 0;
    bool apply = true;
    if (add_special_tokens && added > 0) {
      // The library subtracts in unsigned arithmetic; a wrapped (huge) limit
      // truncates nothing.
      if (max < added) apply = false;
      else max -= added;
    }
    const size_t n = seq.tokens.size();
    if (apply && (max == 0 || n > max)) {
      if (truncation_->strategy == TruncationParams::Strategy::kOnlySecond && max != 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(origin_, ": truncation strategy OnlySecond needs a second sequence"));
      }
      const size_t keep = static_cast<size_t>(std::min<uint64_t>(max, n));
      const size_t drop = n - keep;
      if (truncation_->left) {
        seq.tokens.erase(seq.tokens.begin(), seq.tokens.begin() + static_cast<ptrdiff_t>(drop));
      } else {
        seq.tokens.resize(keep);
      }
      seq.type_ids.assign(seq.tokens.size(), 0);
    }
  }
  if (post_processor_ != nullptr) post_processor_->Process(&seq, add_special_tokens);

  Encoding e;
  e.ids.reserve(seq.tokens.size());
  e.tokens.reserve(seq.tokens.size());
  for (Token& t : seq.tokens) {
    e.ids.push_back(t.id);
    e.tokens.push_back(std::move(t.value));
  }
  e.type_ids = std::move(seq.type_ids);
  e.attention_mask.assign(e.ids.size(), 1);
  if (padding_ != nullptr) {
    std::vector<Encoding> one;
    one.push_back(std::move(e));
    const size_t target = RoundUp(padding_->fixed.has_value() ? static_cast<size_t>(*padding_->fixed)
                                                              : one[0].ids.size(),
                                  padding_->multiple);
    Pad(&one, target, padding_->pad_id, padding_->pad_token, padding_->left);
    e = std::move(one[0]);
  }
  return e;
}

void Tokenizer::Pad(std::vector<Encoding>* batch, size_t length, uint32_t pad_id,
                    const std::string& pad_token, bool left) const {
  const uint32_t type_id = padding_ != nullptr ? padding_->pad_type_id : 0;
  for (Encoding& e : *batch) {
    if (e.ids.size() >= length) continue;
    const size_t n = length - e.ids.size();
    auto grow = [&](auto& v, auto value) {
      v.insert(left ? v.begin() : v.end(), n, value);
    };
    grow(e.ids, pad_id);
    grow(e.tokens, pad_token);
    grow(e.attention_mask, 0u);
    grow(e.type_ids, type_id);
  }
}

absl::StatusOr<std::vector<Encoding>> Tokenizer::EncodeBatch(const std::vector<std::string>& texts,
                                                             bool pad, std::optional<uint32_t> pad_id,
                                                             bool add_special_tokens) const {
  std::vector<Encoding> out;
  out.reserve(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    ASSIGN_OR_RETURN(Encoding e, Encode(texts[i], add_special_tokens), "text ", i);
    out.push_back(std::move(e));
  }
  if (!pad || out.empty()) return out;
  if (!pad_id.has_value() && padding_ != nullptr) pad_id = padding_->pad_id;
  if (!pad_id.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat(origin_, ": no pad id given and tokenizer.json has no padding section"));
  }
  size_t longest = 0;
  for (const Encoding& e : out) longest = std::max(longest, e.ids.size());
  size_t target = longest;
  bool left = false;
  std::string pad_token;
  if (padding_ != nullptr) {
    if (padding_->fixed.has_value()) target = static_cast<size_t>(*padding_->fixed);
    target = RoundUp(target, padding_->multiple);
    left = padding_->left;
    pad_token = padding_->pad_token;
  }
  if (padding_ == nullptr || *pad_id != padding_->pad_id) {
    pad_token = IdToToken(*pad_id).value_or(std::string());
  }
  Pad(&out, target, *pad_id, pad_token, left);
  return out;
}

std::optional<uint32_t> Tokenizer::TokenToId(const std::string& token) const {
  if (std::optional<uint32_t> id = added_->TokenToId(token)) return id;
  return model_->TokenToId(token);
}

std::optional<std::string> Tokenizer::IdToToken(uint32_t id) const {
  if (std::optional<std::string> t = added_->IdToToken(id)) return t;
  return model_->IdToToken(id);
}

size_t Tokenizer::VocabSize(bool with_added_tokens) const {
  const size_t base = model_->VocabSize();
  return with_added_tokens ? base + added_->CountNotIn(*model_) : base;
}

std::optional<uint32_t> Tokenizer::PaddingId() const {
  if (padding_ == nullptr) return std::nullopt;
  return padding_->pad_id;
}

std::string Tokenizer::DecodeToken(const std::string& token) const {
  return decoder_ ? decoder_->Decode(token) : token;
}

}  // namespace neobert::tokenizer
