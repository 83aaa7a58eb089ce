#include "core/tokenizer/models.h"

#include "absl/strings/str_cat.h"
#include "core/base/excerpt.h"
#include "core/base/status_macros.h"
#include "core/tokenizer/json_util.h"
#include "core/tokenizer/unicode.h"
#include <cstdint>

namespace neobert::tokenizer {
namespace {

using json_util::Json;

// WordLevel: the whole piece is one vocabulary entry, or the unknown token.
class WordLevel : public Model {
 public:
  WordLevel(Vocab vocab, std::string unk) : vocab_(std::move(vocab)), unk_(std::move(unk)) {}

  absl::Status Tokenize(const std::u32string& piece, std::vector<Token>* out) const override {
    std::string s = unicode::ToUtf8(piece);
    if (std::optional<uint32_t> id = vocab_.Find(s)) {
      out->push_back({*id, std::move(s)});
    } else if (std::optional<uint32_t> unk = vocab_.Find(unk_)) {
      out->push_back({*unk, unk_});
    } else {
      return absl::FailedPreconditionError(
          absl::StrCat("WordLevel model: unknown token '", base::Excerpt(unk_), "' is not in the vocabulary"));
    }
    return absl::OkStatus();
  }
  std::optional<uint32_t> TokenToId(const std::string& t) const override { return vocab_.Find(t); }
  std::optional<std::string> IdToToken(uint32_t id) const override { return vocab_.Token(id); }
  size_t VocabSize() const override { return vocab_.ids.size(); }

 private:
  Vocab vocab_;
  std::string unk_;
};

}  // namespace

absl::StatusOr<Vocab> ParseVocab(const Json& j, const std::string& where) {
  RETURN_IF_ERROR(json_util::ExpectObject(j, where));
  if (j.size() > kMaxVocabSize) {
    return json_util::Invalid(where, absl::StrCat(j.size(), " entries exceed the limit ", kMaxVocabSize));
  }
  Vocab v;
  v.ids.reserve(j.size());
  for (auto it = j.begin(); it != j.end(); ++it) {
    const Json& id = it.value();
    if (!id.is_number_unsigned() && !(id.is_number_integer() && id.get<int64_t>() >= 0)) {
      return json_util::Invalid(json_util::Field(where, it.key()),
                                absl::StrCat("expected a token id, got ", json_util::Show(id)));
    }
    const uint64_t n = id.get<uint64_t>();
    if (n > UINT32_MAX) return json_util::Invalid(json_util::Field(where, it.key()), "id exceeds 2^32-1");
    v.ids[it.key()] = static_cast<uint32_t>(n);
    v.tokens[static_cast<uint32_t>(n)] = it.key();
    v.longest = std::max(v.longest, it.key().size());
  }
  return v;
}

absl::StatusOr<std::unique_ptr<Model>> ParseWordLevel(const Json& j, const std::string& where) {
  const Json* vj = json_util::Find(j, "vocab");
  if (vj == nullptr) return json_util::Invalid(json_util::Field(where, "vocab"), "missing");
  ASSIGN_OR_RETURN(Vocab vocab, ParseVocab(*vj, json_util::Field(where, "vocab")));
  ASSIGN_OR_RETURN(std::string unk, json_util::GetString(j, "unk_token", where, "<unk>"));
  return std::make_unique<WordLevel>(std::move(vocab), std::move(unk));
}

absl::StatusOr<std::unique_ptr<Model>> ParseModel(const Json& j, const std::string& where) {
  RETURN_IF_ERROR(json_util::ExpectObject(j, where));
  std::string type;
  if (const Json* t = json_util::Find(j, "type"); t != nullptr) {
    if (!t->is_string()) return json_util::Invalid(json_util::Field(where, "type"), "expected a string");
    type = t->get<std::string>();
  } else if (j.contains("merges")) {  // files written before models carried a type
    type = "BPE";
  } else if (j.contains("continuing_subword_prefix") || j.contains("max_input_chars_per_word")) {
    type = "WordPiece";
  } else if (const Json* v = json_util::Find(j, "vocab"); v != nullptr && v->is_array()) {
    type = "Unigram";
  } else {
    type = "WordLevel";
  }
  if (type == "WordPiece") return ParseWordPiece(j, where);
  if (type == "BPE") return ParseBpe(j, where);
  if (type == "WordLevel") return ParseWordLevel(j, where);
  if (type == "Unigram") {
    return json_util::Unsupported(json_util::Field(where, "type"), "model type 'Unigram' is not supported");
  }
  return json_util::Unsupported(json_util::Field(where, "type"),
                                absl::StrCat("unknown model type '", base::Excerpt(type), "'"));
}

}  // namespace neobert::tokenizer
