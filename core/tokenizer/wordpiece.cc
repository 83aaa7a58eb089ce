// WordPiece: greedy longest-match-first over each piece, continuation pieces
// carrying a prefix ("##"); a piece longer than max_input_chars_per_word, or
// one that cannot be covered, becomes the single unknown token.
#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "core/base/excerpt.h"
#include "core/base/status_macros.h"
#include "core/tokenizer/json_util.h"
#include "core/tokenizer/models.h"
#include "core/tokenizer/unicode.h"

namespace neobert::tokenizer {
namespace {

using json_util::Json;

class WordPiece : public Model {
 public:
  WordPiece(Vocab vocab, std::string unk, std::string prefix, uint64_t max_chars)
      : vocab_(std::move(vocab)), unk_(std::move(unk)), prefix_(std::move(prefix)),
        max_chars_(max_chars) {}

  absl::Status Tokenize(const std::u32string& piece, std::vector<Token>* out) const override {
    if (piece.size() > max_chars_) return PushUnk(out);
    const std::string s = unicode::ToUtf8(piece);
    // Byte offset of every code point boundary, so `end` only steps back
    // whole characters.
    std::vector<size_t> bounds;
    bounds.reserve(piece.size() + 1);
    size_t off = 0;
    for (char32_t c : piece) {
      bounds.push_back(off);
      off += static_cast<size_t>(unicode::Utf8Length(c));
    }
    bounds.push_back(off);

    std::vector<Token> sub;
    size_t start = 0;  // index into bounds
    std::string candidate;
    while (start + 1 < bounds.size()) {
      const size_t extra = start > 0 ? prefix_.size() : 0;
      // Candidates longer than the longest vocabulary entry cannot match.
      size_t end = bounds.size() - 1;
      while (end > start && bounds[end] - bounds[start] + extra > vocab_.longest) --end;
      bool found = false;
      for (; end > start; --end) {
        candidate.assign(start > 0 ? prefix_ : std::string());
        candidate.append(s, bounds[start], bounds[end] - bounds[start]);
        if (std::optional<uint32_t> id = vocab_.Find(candidate)) {
          sub.push_back({*id, candidate});
          found = true;
          break;
        }
      }
      if (!found) return PushUnk(out);
      start = end;
    }
    out->insert(out->end(), std::make_move_iterator(sub.begin()), std::make_move_iterator(sub.end()));
    return absl::OkStatus();
  }

  std::optional<uint32_t> TokenToId(const std::string& t) const override { return vocab_.Find(t); }
  std::optional<std::string> IdToToken(uint32_t id) const override { return vocab_.Token(id); }
  size_t VocabSize() const override { return vocab_.ids.size(); }

 private:
  absl::Status PushUnk(std::vector<Token>* out) const {
    std::optional<uint32_t> id = vocab_.Find(unk_);
    if (!id.has_value()) {
      return absl::FailedPreconditionError(
          absl::StrCat("WordPiece model: unknown token '", base::Excerpt(unk_), "' is not in the vocabulary"));
    }
    out->push_back({*id, unk_});
    return absl::OkStatus();
  }

  Vocab vocab_;
  std::string unk_, prefix_;
  uint64_t max_chars_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> ParseWordPiece(const Json& j, const std::string& where) {
  const Json* vj = json_util::Find(j, "vocab");
  if (vj == nullptr) return json_util::Invalid(json_util::Field(where, "vocab"), "missing");
  ASSIGN_OR_RETURN(Vocab vocab, ParseVocab(*vj, json_util::Field(where, "vocab")));
  ASSIGN_OR_RETURN(std::string unk, json_util::GetString(j, "unk_token", where, "[UNK]"));
  ASSIGN_OR_RETURN(std::string prefix,
                   json_util::GetString(j, "continuing_subword_prefix", where, "##"));
  ASSIGN_OR_RETURN(uint64_t max_chars,
                   json_util::GetUint(j, "max_input_chars_per_word", where, 100, UINT64_MAX));
  return std::make_unique<WordPiece>(std::move(vocab), std::move(unk), std::move(prefix), max_chars);
}

}  // namespace neobert::tokenizer
