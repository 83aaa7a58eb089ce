#include "core/tokenizer/pre_tokenizers.h"

#include <cstdint>
#include <optional>

#include "absl/strings/str_cat.h"
#include "core/base/excerpt.h"
#include "core/base/status_macros.h"
#include "core/tokenizer/json_util.h"
#include "core/tokenizer/normalizers.h"
#include "core/tokenizer/unicode.h"

namespace neobert::tokenizer {
namespace {

using json_util::Json;
constexpr int kMaxNesting = 16;

bool IsSpace(char32_t c) { return unicode::Has(c, unicode::kWhiteSpace); }
bool IsLetter(char32_t c) { return unicode::Has(c, unicode::kOnigLetter); }
bool IsNumber(char32_t c) { return unicode::Has(c, unicode::kOnigNumber); }
bool IsOther(char32_t c) { return !IsSpace(c) && !IsLetter(c) && !IsNumber(c); }

// Splits every untokenized piece with matches from `find`.
template <typename Find>
void SplitAll(PreTokenizedString* p, SplitBehavior behavior, Find find) {
  p->SplitEach([&](const NormalizedString& s) {
    return AsSplits(SplitPiece(s, find(s.text()), behavior));
  });
}

class BertPreTokenizer : public PreTokenizer {
 public:
  void PreTokenize(PreTokenizedString* p) const override {
    SplitAll(p, SplitBehavior::kRemoved,
             [](const std::u32string& t) { return MatchChars(t, IsSpace); });
    SplitAll(p, SplitBehavior::kIsolated, [](const std::u32string& t) {
      return MatchChars(t, [](char32_t c) { return unicode::Has(c, unicode::kBertPunct); });
    });
  }
};

class ByteLevel : public PreTokenizer {
 public:
  ByteLevel(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space), use_regex_(use_regex) {}

  void PreTokenize(PreTokenizedString* p) const override {
    p->SplitEach([&](const NormalizedString& in) {
      NormalizedString s = in;
      if (add_prefix_space_ && !s.empty() && s.text()[0] != U' ') {
        std::vector<uint32_t> src{0};
        for (size_t i = 0; i < s.size(); ++i) src.push_back(static_cast<uint32_t>(i));
        s.Rewrite(U" " + s.text(), src);
      }
      if (!use_regex_) return AsSplits({std::move(s)});
      return AsSplits(SplitPiece(s, CoverWithMatches(s.size(), ByteLevelSpans(s.text())),
                                 SplitBehavior::kIsolated));
    });
    p->ForEachUntokenized([](NormalizedString& s) { ByteLevelInPlace(&s); });
  }

 private:
  bool add_prefix_space_, use_regex_;
};

enum class PrependScheme { kFirst, kNever, kAlways };

class Metaspace : public PreTokenizer {
 public:
  Metaspace(char32_t replacement, PrependScheme scheme, bool split)
      : replacement_(replacement), scheme_(scheme), split_(split) {}

  void PreTokenize(PreTokenizedString* p) const override {
    p->SplitEach([&](const NormalizedString& in) {
      NormalizedString s = in;
      std::u32string text = s.text();
      std::vector<uint32_t> src(text.size());
      for (size_t i = 0; i < text.size(); ++i) {
        src[i] = static_cast<uint32_t>(i);
        if (text[i] == U' ') text[i] = replacement_;
      }
      s.Rewrite(std::move(text), src);
      const bool starts = !s.empty() && s.text()[0] == replacement_;
      // "first" prepends only to the piece that starts the original input.
      if (!s.empty() && !starts &&
          (scheme_ == PrependScheme::kAlways ||
           (scheme_ == PrependScheme::kFirst && s.original_start() == 0))) {
        std::vector<uint32_t> psrc{0};
        for (size_t i = 0; i < s.size(); ++i) psrc.push_back(static_cast<uint32_t>(i));
        s.Rewrite(std::u32string(1, replacement_) + s.text(), psrc);
      }
      if (!split_) return AsSplits({std::move(s)});
      const char32_t r = replacement_;
      return AsSplits(SplitPiece(s, MatchChars(s.text(), [r](char32_t c) { return c == r; }),
                                 SplitBehavior::kMergedWithNext));
    });
  }

 private:
  char32_t replacement_;
  PrependScheme scheme_;
  bool split_;
};

class Whitespace : public PreTokenizer {
 public:
  void PreTokenize(PreTokenizedString* p) const override {
    SplitAll(p, SplitBehavior::kRemoved, [](const std::u32string& t) {
      return Invert(CoverWithMatches(t.size(), WordSpans(t)));
    });
  }
};

// Splits on code points selected by a predicate.
class CharSplit : public PreTokenizer {
 public:
  using Pred = bool (*)(char32_t, char32_t);
  CharSplit(Pred pred, char32_t arg, SplitBehavior behavior)
      : pred_(pred), arg_(arg), behavior_(behavior) {}
  void PreTokenize(PreTokenizedString* p) const override {
    SplitAll(p, behavior_, [this](const std::u32string& t) {
      return MatchChars(t, [this](char32_t c) { return pred_(c, arg_); });
    });
  }

 private:
  Pred pred_;
  char32_t arg_;
  SplitBehavior behavior_;
};

class LiteralSplit : public PreTokenizer {
 public:
  LiteralSplit(std::u32string pattern, SplitBehavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}
  void PreTokenize(PreTokenizedString* p) const override {
    SplitAll(p, behavior_, [this](const std::u32string& t) {
      std::vector<PatternMatch> m = MatchLiteral(t, pattern_);
      return invert_ ? Invert(std::move(m)) : m;
    });
  }

 private:
  std::u32string pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

class FixedLength : public PreTokenizer {
 public:
  explicit FixedLength(size_t length) : length_(length) {}
  void PreTokenize(PreTokenizedString* p) const override {
    p->SplitEach([this](const NormalizedString& s) {
      std::vector<NormalizedString> pieces;
      for (size_t i = 0; i < s.size(); i += length_) pieces.push_back(s.Slice(i, i + length_));
      return AsSplits(std::move(pieces));
    });
  }

 private:
  size_t length_;
};

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> parts)
      : parts_(std::move(parts)) {}
  void PreTokenize(PreTokenizedString* p) const override {
    for (const auto& part : parts_) part->PreTokenize(p);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

absl::StatusOr<SplitBehavior> ParseBehavior(const Json& j, const std::string& where,
                                            std::optional<SplitBehavior> dflt) {
  const Json* v = json_util::Find(j, "behavior");
  const std::string bw = json_util::Field(where, "behavior");
  if (v == nullptr) {
    if (dflt.has_value()) return *dflt;
    return json_util::Invalid(bw, "missing");
  }
  if (v->is_string()) {
    const std::string s = v->get<std::string>();
    if (s == "Removed") return SplitBehavior::kRemoved;
    if (s == "Isolated") return SplitBehavior::kIsolated;
    if (s == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
    if (s == "MergedWithNext") return SplitBehavior::kMergedWithNext;
    if (s == "Contiguous") return SplitBehavior::kContiguous;
  }
  return json_util::Invalid(bw, absl::StrCat("unknown split behavior ", json_util::Show(*v)));
}

}  // namespace

std::vector<std::pair<size_t, size_t>> ByteLevelSpans(const std::u32string& t) {
  std::vector<std::pair<size_t, size_t>> spans;
  const size_t n = t.size();
  size_t i = 0;
  // Each position starts a match: every code point is a space, a letter, a
  // number or "other", and one alternative accepts each kind.
  while (i < n) {
    const char32_t c = t[i];
    size_t end = 0;
    if (c == U'\'' && i + 1 < n) {
      const char32_t a = t[i + 1];
      if (a == U's' || a == U't' || a == U'm' || a == U'd') {
        end = i + 2;
      } else if (i + 2 < n && ((a == U'r' && t[i + 2] == U'e') || (a == U'v' && t[i + 2] == U'e') ||
                               (a == U'l' && t[i + 2] == U'l'))) {
        end = i + 3;
      }
    }
    if (end == 0) {
      // ` ?X+` for X in letter, number, other, tried in that order.
      for (bool (*cls)(char32_t) : {IsLetter, IsNumber, IsOther}) {
        size_t j = i;
        if (t[j] == U' ' && j + 1 < n && cls(t[j + 1])) ++j;
        if (!cls(t[j])) continue;
        while (j < n && cls(t[j])) ++j;
        end = j;
        break;
      }
    }
    if (end == 0) {  // c is a space: \s+(?!\S) then \s+
      size_t j = i;
      while (j < n && IsSpace(t[j])) ++j;
      end = (j < n && j - i >= 2) ? j - 1 : j;
    }
    spans.push_back({i, end});
    i = end;
  }
  return spans;
}

std::vector<std::pair<size_t, size_t>> WordSpans(const std::u32string& t) {
  auto word = [](char32_t c) { return unicode::Has(c, unicode::kRegexWord); };
  std::vector<std::pair<size_t, size_t>> spans;
  size_t i = 0;
  while (i < t.size()) {
    size_t j = i;
    if (word(t[i])) {
      while (j < t.size() && word(t[j])) ++j;
    } else if (!IsSpace(t[i])) {
      while (j < t.size() && !word(t[j]) && !IsSpace(t[j])) ++j;
    } else {
      ++i;
      continue;
    }
    spans.push_back({i, j});
    i = j;
  }
  return spans;
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> ParsePreTokenizer(const Json& j,
                                                                const std::string& where,
                                                                int depth) {
  using json_util::Field;
  ASSIGN_OR_RETURN(std::string type, json_util::GetType(j, where));
  const std::string tw = Field(where, "type");
  if (type == "BertPreTokenizer") return std::make_unique<BertPreTokenizer>();
  if (type == "ByteLevel") {
    ASSIGN_OR_RETURN(bool prefix, json_util::GetBool(j, "add_prefix_space", where, true));
    ASSIGN_OR_RETURN(bool regex, json_util::GetBool(j, "use_regex", where, true));
    return std::make_unique<ByteLevel>(prefix, regex);
  }
  if (type == "Metaspace") {
    ASSIGN_OR_RETURN(char32_t repl, json_util::GetChar(j, "replacement", where, std::nullopt));
    ASSIGN_OR_RETURN(std::string scheme_name,
                     json_util::GetString(j, "prepend_scheme", where, "always"));
    PrependScheme scheme;
    if (scheme_name == "always") {
      scheme = PrependScheme::kAlways;
    } else if (scheme_name == "first") {
      scheme = PrependScheme::kFirst;
    } else if (scheme_name == "never") {
      scheme = PrependScheme::kNever;
    } else {
      return json_util::Invalid(Field(where, "prepend_scheme"),
                                absl::StrCat("unknown scheme '", base::Excerpt(scheme_name), "'"));
    }
    // Legacy files: add_prefix_space false means "never".
    if (const Json* a = json_util::Find(j, "add_prefix_space"); a != nullptr) {
      if (!a->is_boolean()) return json_util::Invalid(Field(where, "add_prefix_space"), "expected true/false");
      if (!a->get<bool>()) {
        if (scheme != PrependScheme::kNever && json_util::Find(j, "prepend_scheme") != nullptr) {
          return json_util::Invalid(where, "add_prefix_space does not match declared prepend_scheme");
        }
        scheme = PrependScheme::kNever;
      }
    }
    ASSIGN_OR_RETURN(bool split, json_util::GetBool(j, "split", where, true));
    return std::make_unique<Metaspace>(repl, scheme, split);
  }
  if (type == "Whitespace") return std::make_unique<Whitespace>();
  if (type == "WhitespaceSplit") {
    return std::make_unique<CharSplit>([](char32_t c, char32_t) { return IsSpace(c); }, 0,
                                       SplitBehavior::kRemoved);
  }
  if (type == "Punctuation") {
    ASSIGN_OR_RETURN(SplitBehavior b, ParseBehavior(j, where, SplitBehavior::kIsolated));
    return std::make_unique<CharSplit>(
        [](char32_t c, char32_t) { return unicode::Has(c, unicode::kBertPunct); }, 0, b);
  }
  if (type == "Digits") {
    ASSIGN_OR_RETURN(bool individual, json_util::GetBool(j, "individual_digits", where, false));
    return std::make_unique<CharSplit>(
        [](char32_t c, char32_t) { return unicode::Has(c, unicode::kNumeric); }, 0,
        individual ? SplitBehavior::kIsolated : SplitBehavior::kContiguous);
  }
  if (type == "CharDelimiterSplit" || type == "Delimiter") {
    ASSIGN_OR_RETURN(char32_t d, json_util::GetChar(j, "delimiter", where, std::nullopt));
    return std::make_unique<CharSplit>([](char32_t c, char32_t arg) { return c == arg; }, d,
                                       SplitBehavior::kRemoved);
  }
  if (type == "Split") {
    const Json* pattern = json_util::Find(j, "pattern");
    const std::string pw = Field(where, "pattern");
    if (pattern == nullptr || !pattern->is_object()) return json_util::Invalid(pw, "expected {\"String\": ...}");
    if (pattern->contains("Regex")) {
      return json_util::Unsupported(pw, "Split pre-tokenizer with a Regex pattern is not supported");
    }
    ASSIGN_OR_RETURN(std::string lit, json_util::GetString(*pattern, "String", pw, std::nullopt));
    ASSIGN_OR_RETURN(std::u32string lit32, json_util::DecodeField(lit, Field(pw, "String")));
    if (lit32.empty()) return json_util::Unsupported(pw, "an empty Split pattern is not supported");
    ASSIGN_OR_RETURN(SplitBehavior b, ParseBehavior(j, where, std::nullopt));
    ASSIGN_OR_RETURN(bool invert, json_util::GetBool(j, "invert", where, false));
    return std::make_unique<LiteralSplit>(std::move(lit32), b, invert);
  }
  if (type == "FixedLength") {
    ASSIGN_OR_RETURN(uint64_t len, json_util::GetUint(j, "length", where, 5, uint64_t{1} << 32));
    if (len == 0) return json_util::Invalid(Field(where, "length"), "must be positive");
    return std::make_unique<FixedLength>(static_cast<size_t>(len));
  }
  if (type == "Sequence") {
    if (depth >= kMaxNesting) return json_util::Invalid(where, "Sequence nested too deeply");
    const Json* list = json_util::Find(j, "pretokenizers");
    const std::string lw = Field(where, "pretokenizers");
    if (list == nullptr) return json_util::Invalid(lw, "missing");
    RETURN_IF_ERROR(json_util::ExpectArray(*list, lw));
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    for (size_t i = 0; i < list->size(); ++i) {
      ASSIGN_OR_RETURN(std::unique_ptr<PreTokenizer> p,
                       ParsePreTokenizer((*list)[i], json_util::Index(lw, i), depth + 1));
      parts.push_back(std::move(p));
    }
    return std::make_unique<SequencePreTokenizer>(std::move(parts));
  }
  if (type == "UnicodeScripts") {
    return json_util::Unsupported(tw, "pre-tokenizer type 'UnicodeScripts' is not supported");
  }
  return json_util::Unsupported(tw, absl::StrCat("unknown pre-tokenizer type '", base::Excerpt(type), "'"));
}

}  // namespace neobert::tokenizer
