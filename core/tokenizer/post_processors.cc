#include "core/tokenizer/post_processors.h"

#include "absl/strings/str_cat.h"
#include "core/base/excerpt.h"
#include "core/base/status_macros.h"
#include "core/tokenizer/json_util.h"
#include <cstdint>

namespace neobert::tokenizer {
namespace {

using json_util::Json;
constexpr int kMaxNesting = 16;
constexpr size_t kMaxTemplatePieces = 4096;

// A template piece: the input sequence, or a run of special tokens.
struct Piece {
  bool is_sequence = false;
  uint32_t type_id = 0;
  std::vector<Token> special;  // for special-token pieces
};

class Template : public PostProcessor {
 public:
  explicit Template(std::vector<Piece> single) : single_(std::move(single)) {
    for (const Piece& p : single_) added_ += p.special.size();
  }
  size_t AddedTokens() const override { return added_; }
  void Process(TokenSequence* seq, bool add_special_tokens) const override {
    TokenSequence out;
    for (const Piece& p : single_) {
      if (p.is_sequence) {
        out.tokens.insert(out.tokens.end(), seq->tokens.begin(), seq->tokens.end());
        out.type_ids.insert(out.type_ids.end(), seq->tokens.size(), p.type_id);
      } else if (add_special_tokens) {
        out.tokens.insert(out.tokens.end(), p.special.begin(), p.special.end());
        out.type_ids.insert(out.type_ids.end(), p.special.size(), p.type_id);
      }
    }
    *seq = std::move(out);
  }

 private:
  std::vector<Piece> single_;
  size_t added_ = 0;
};

// BertProcessing / RobertaProcessing on one sequence: cls A sep, type id 0.
class Wrap : public PostProcessor {
 public:
  Wrap(Token cls, Token sep) : cls_(std::move(cls)), sep_(std::move(sep)) {}
  size_t AddedTokens() const override { return 2; }
  void Process(TokenSequence* seq, bool add_special_tokens) const override {
    seq->type_ids.assign(seq->tokens.size(), 0);
    if (!add_special_tokens) return;
    seq->tokens.insert(seq->tokens.begin(), cls_);
    seq->tokens.push_back(sep_);
    seq->type_ids.assign(seq->tokens.size(), 0);
  }

 private:
  Token cls_, sep_;
};

class NoOp : public PostProcessor {
 public:
  size_t AddedTokens() const override { return 0; }
  void Process(TokenSequence*, bool) const override {}
};

class SequenceProcessor : public PostProcessor {
 public:
  explicit SequenceProcessor(std::vector<std::unique_ptr<PostProcessor>> parts)
      : parts_(std::move(parts)) {}
  size_t AddedTokens() const override {
    size_t n = 0;
    for (const auto& p : parts_) n += p->AddedTokens();
    return n;
  }
  void Process(TokenSequence* seq, bool add) const override {
    for (const auto& p : parts_) p->Process(seq, add);
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> parts_;
};

// ["token", id] as BertProcessing/RobertaProcessing store cls and sep.
absl::StatusOr<Token> ParseTokenPair(const Json& j, const char* key, const std::string& where) {
  const Json* v = json_util::Find(j, key);
  const std::string kw = json_util::Field(where, key);
  if (v == nullptr || !v->is_array() || v->size() != 2 || !(*v)[0].is_string() ||
      !((*v)[1].is_number_unsigned() || ((*v)[1].is_number_integer() && (*v)[1].get<int64_t>() >= 0)) ||
      (*v)[1].get<uint64_t>() > UINT32_MAX) {
    return json_util::Invalid(kw, "expected [\"token\", id]");
  }
  return Token{static_cast<uint32_t>((*v)[1].get<uint64_t>()), (*v)[0].get<std::string>()};
}

absl::StatusOr<std::unique_ptr<PostProcessor>> ParseTemplate(const Json& j, const std::string& where) {
  using json_util::Field;
  // special_tokens: {"name": {"id": name, "ids": [...], "tokens": [...]}}
  const Json* st = json_util::Find(j, "special_tokens");
  const std::string sw = Field(where, "special_tokens");
  if (st == nullptr) return json_util::Invalid(sw, "missing");
  RETURN_IF_ERROR(json_util::ExpectObject(*st, sw));
  const Json* single = json_util::Find(j, "single");
  const std::string tw = Field(where, "single");
  if (single == nullptr) return json_util::Invalid(tw, "missing");
  RETURN_IF_ERROR(json_util::ExpectArray(*single, tw));
  if (single->size() > kMaxTemplatePieces) return json_util::Invalid(tw, "too many pieces");
  std::vector<Piece> pieces;
  for (size_t i = 0; i < single->size(); ++i) {
    const Json& p = (*single)[i];
    const std::string pw = json_util::Index(tw, i);
    const Json* seq = json_util::Find(p, "Sequence");
    const Json* spec = json_util::Find(p, "SpecialToken");
    if ((seq == nullptr) == (spec == nullptr) || p.size() != 1) {
      return json_util::Invalid(pw, "expected {\"Sequence\": ...} or {\"SpecialToken\": ...}");
    }
    const Json& body = seq != nullptr ? *seq : *spec;
    const std::string bw = Field(pw, seq != nullptr ? "Sequence" : "SpecialToken");
    ASSIGN_OR_RETURN(uint64_t type_id,
                     json_util::GetUint(body, "type_id", bw, std::nullopt, UINT32_MAX));
    ASSIGN_OR_RETURN(std::string id, json_util::GetString(body, "id", bw, std::nullopt));
    Piece piece;
    piece.type_id = static_cast<uint32_t>(type_id);
    if (seq != nullptr) {
      if (id != "A") {
        return json_util::Invalid(Field(bw, "id"), "the single-sequence template may only use sequence A");
      }
      piece.is_sequence = true;
    } else {
      const Json* def = json_util::Find(*st, id);
      const std::string dw = Field(sw, id);
      if (def == nullptr) return json_util::Invalid(dw, "template uses a special token that is not defined");
      const Json* ids = json_util::Find(*def, "ids");
      const Json* toks = json_util::Find(*def, "tokens");
      if (ids == nullptr || toks == nullptr || !ids->is_array() || !toks->is_array() ||
          ids->size() != toks->size()) {
        return json_util::Invalid(dw, "expected \"ids\" and \"tokens\" arrays of the same length");
      }
      for (size_t k = 0; k < ids->size(); ++k) {
        const Json& idv = (*ids)[k];
        if (!(idv.is_number_unsigned() || (idv.is_number_integer() && idv.get<int64_t>() >= 0)) ||
            idv.get<uint64_t>() > UINT32_MAX || !(*toks)[k].is_string()) {
          return json_util::Invalid(json_util::Index(Field(dw, "ids"), k), "expected a token id and string");
        }
        piece.special.push_back({static_cast<uint32_t>(idv.get<uint64_t>()), (*toks)[k].get<std::string>()});
      }
    }
    pieces.push_back(std::move(piece));
  }
  return std::make_unique<Template>(std::move(pieces));
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostProcessor>> ParsePostProcessor(const Json& j, const std::string& where,
                                                                  int depth) {
  ASSIGN_OR_RETURN(std::string type, json_util::GetType(j, where));
  if (type == "TemplateProcessing") return ParseTemplate(j, where);
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    ASSIGN_OR_RETURN(Token sep, ParseTokenPair(j, "sep", where));
    ASSIGN_OR_RETURN(Token cls, ParseTokenPair(j, "cls", where));
    return std::make_unique<Wrap>(std::move(cls), std::move(sep));
  }
  if (type == "ByteLevel") return std::make_unique<NoOp>();
  if (type == "Sequence") {
    if (depth >= kMaxNesting) return json_util::Invalid(where, "Sequence nested too deeply");
    const Json* list = json_util::Find(j, "processors");
    const std::string lw = json_util::Field(where, "processors");
    if (list == nullptr) return json_util::Invalid(lw, "missing");
    RETURN_IF_ERROR(json_util::ExpectArray(*list, lw));
    std::vector<std::unique_ptr<PostProcessor>> parts;
    size_t structural = 0;  // processors other than ByteLevel
    for (size_t i = 0; i < list->size(); ++i) {
      // The library hands a template's output to the next processor as one
      // encoding per template piece; only ByteLevel (offsets) copes with that,
      // so at most one processor may add tokens.
      const Json* t = json_util::Find((*list)[i], "type");
      if (t == nullptr || !t->is_string() || t->get<std::string>() != "ByteLevel") ++structural;
      if (structural > 1) {
        return json_util::Unsupported(json_util::Index(lw, i),
                                      "a Sequence post-processor with more than one processor "
                                      "besides ByteLevel is not supported");
      }
      ASSIGN_OR_RETURN(std::unique_ptr<PostProcessor> p,
                       ParsePostProcessor((*list)[i], json_util::Index(lw, i), depth + 1));
      parts.push_back(std::move(p));
    }
    return std::make_unique<SequenceProcessor>(std::move(parts));
  }
  return json_util::Unsupported(json_util::Field(where, "type"),
                                absl::StrCat("unknown post-processor type '", base::Excerpt(type), "'"));
}

}  // namespace neobert::tokenizer
