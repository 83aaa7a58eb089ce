#include "core/tokenizer/normalizers.h"

#include <array>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/base/excerpt.h"
#include "core/base/status_macros.h"
#include "core/tokenizer/json_util.h"
#include "core/tokenizer/unicode.h"

namespace neobert::tokenizer {
namespace {

using json_util::Json;
constexpr int kMaxNesting = 16;

// Keeps the code points for which keep(cp) holds, with their origins.
template <typename Keep>
void Filter(NormalizedString* s, Keep keep) {
  std::u32string text;
  std::vector<uint32_t> src;
  for (size_t i = 0; i < s->size(); ++i) {
    if (keep(s->text()[i])) {
      text.push_back(s->text()[i]);
      src.push_back(static_cast<uint32_t>(i));
    }
  }
  s->Rewrite(std::move(text), src);
}

void NormalizeForm(NormalizedString* s, unicode::NormalForm form) {
  std::u32string out;
  std::vector<uint32_t> origin;
  unicode::Normalize(form, s->text(), &out, &origin);
  s->Rewrite(std::move(out), origin);
}

class BertNormalizer : public Normalizer {
 public:
  BertNormalizer(bool clean_text, bool chinese, bool strip_accents, bool lowercase)
      : clean_text_(clean_text), chinese_(chinese), strip_accents_(strip_accents),
        lowercase_(lowercase) {}

  void Normalize(NormalizedString* s) const override {
    if (clean_text_) {
      Filter(s, [](char32_t c) { return !unicode::Has(c, unicode::kBertControl); });
      std::u32string text = s->text();
      std::vector<uint32_t> src(text.size());
      for (size_t i = 0; i < text.size(); ++i) {
        src[i] = static_cast<uint32_t>(i);
        if (unicode::Has(text[i], unicode::kWhiteSpace)) text[i] = U' ';
      }
      s->Rewrite(std::move(text), src);
    }
    if (chinese_) {
      std::u32string text;
      std::vector<uint32_t> src;
      for (size_t i = 0; i < s->size(); ++i) {
        const char32_t c = s->text()[i];
        const uint32_t k = static_cast<uint32_t>(i);
        if (unicode::IsBertChinese(c)) {
          text.append({U' ', c, U' '});
          src.insert(src.end(), {k, k, k});
        } else {
          text.push_back(c);
          src.push_back(k);
        }
      }
      s->Rewrite(std::move(text), src);
    }
    if (strip_accents_) {
      NormalizeForm(s, unicode::NormalForm::kNFD);
      Filter(s, [](char32_t c) { return !unicode::Has(c, unicode::kBertMn); });
    }
    if (lowercase_) LowercaseInPlace(s);
  }

 private:
  bool clean_text_, chinese_, strip_accents_, lowercase_;
};

class FormNormalizer : public Normalizer {
 public:
  explicit FormNormalizer(unicode::NormalForm form) : form_(form) {}
  void Normalize(NormalizedString* s) const override { NormalizeForm(s, form_); }

 private:
  unicode::NormalForm form_;
};

class LowercaseNormalizer : public Normalizer {
 public:
  void Normalize(NormalizedString* s) const override { LowercaseInPlace(s); }
};

class StripAccents : public Normalizer {
 public:
  void Normalize(NormalizedString* s) const override {
    Filter(s, [](char32_t c) { return !unicode::Has(c, unicode::kCombiningMark); });
  }
};

// SentencePiece's "nmt_nfkc" control-character clean-up (without the NFKC).
class Nmt : public Normalizer {
 public:
  void Normalize(NormalizedString* s) const override {
    Filter(s, [](char32_t c) {
      return !((c >= 0x1 && c <= 0x8) || c == 0xB || (c >= 0xE && c <= 0x1F) || c == 0x7F ||
               c == 0x8F || c == 0x9F);
    });
    std::u32string text = s->text();
    std::vector<uint32_t> src(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
      src[i] = static_cast<uint32_t>(i);
      const char32_t c = text[i];
      if (c == 0x9 || c == 0xA || c == 0xC || c == 0xD || c == 0x1680 || (c >= 0x200B && c <= 0x200F) ||
          c == 0x2028 || c == 0x2029 || c == 0x2581 || c == 0xFEFF || c == 0xFFFD) {
        text[i] = U' ';
      }
    }
    s->Rewrite(std::move(text), src);
  }
};

class Strip : public Normalizer {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}
  void Normalize(NormalizedString* s) const override {
    const std::u32string& t = s->text();
    size_t begin = 0, end = t.size();
    if (left_) {
      while (begin < end && unicode::Has(t[begin], unicode::kWhiteSpace)) ++begin;
    }
    if (right_) {
      while (end > begin && unicode::Has(t[end - 1], unicode::kWhiteSpace)) --end;
    }
    if (begin == 0 && end == t.size()) return;
    std::vector<uint32_t> src;
    for (size_t i = begin; i < end; ++i) src.push_back(static_cast<uint32_t>(i));
    s->Rewrite(t.substr(begin, end - begin), src);
  }

 private:
  bool left_, right_;
};

class Prepend : public Normalizer {
 public:
  explicit Prepend(std::u32string prefix) : prefix_(std::move(prefix)) {}
  void Normalize(NormalizedString* s) const override {
    if (s->empty()) return;
    // The added characters take the alignment of the first one.
    std::u32string text = prefix_ + s->text();
    std::vector<uint32_t> src(prefix_.size(), 0);
    for (size_t i = 0; i < s->size(); ++i) src.push_back(static_cast<uint32_t>(i));
    s->Rewrite(std::move(text), src);
  }

 private:
  std::u32string prefix_;
};

// Replace with a literal pattern; each replacement takes the alignment of the
// last code point it replaces.
class Replace : public Normalizer {
 public:
  Replace(std::u32string pattern, std::u32string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void Normalize(NormalizedString* s) const override {
    std::u32string text;
    std::vector<uint32_t> src;
    for (const PatternMatch& m : MatchLiteral(s->text(), pattern_)) {
      if (m.is_match) {
        text += content_;
        src.insert(src.end(), content_.size(), static_cast<uint32_t>(m.end - 1));
      } else {
        for (size_t i = m.begin; i < m.end; ++i) {
          text.push_back(s->text()[i]);
          src.push_back(static_cast<uint32_t>(i));
        }
      }
    }
    s->Rewrite(std::move(text), src);
  }

 private:
  std::u32string pattern_, content_;
};

class ByteLevelNormalizer : public Normalizer {
 public:
  void Normalize(NormalizedString* s) const override { ByteLevelInPlace(s); }
};

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> parts)
      : parts_(std::move(parts)) {}
  void Normalize(NormalizedString* s) const override {
    for (const auto& p : parts_) p->Normalize(s);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

const std::array<char32_t, 256>& ByteTable() {
  static const std::array<char32_t, 256> table = [] {
    std::array<char32_t, 256> t{};
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      t[b] = printable ? static_cast<char32_t>(b) : next++;
    }
    return t;
  }();
  return table;
}

}  // namespace

char32_t ByteLevelChar(uint8_t b) { return ByteTable()[b]; }

void LowercaseInPlace(NormalizedString* s) {
  std::u32string text;
  std::vector<uint32_t> src;
  text.reserve(s->size());
  src.reserve(s->size());
  for (size_t i = 0; i < s->size(); ++i) {
    char32_t low[3];
    const int n = unicode::Lowercase(s->text()[i], low);
    for (int k = 0; k < n; ++k) {
      text.push_back(low[k]);
      src.push_back(static_cast<uint32_t>(i));
    }
  }
  s->Rewrite(std::move(text), src);
}

void ByteLevelInPlace(NormalizedString* s) {
  std::u32string text;
  std::vector<uint32_t> src;
  std::string bytes;
  for (size_t i = 0; i < s->size(); ++i) {
    bytes.clear();
    unicode::AppendUtf8(s->text()[i], &bytes);
    for (char b : bytes) {
      text.push_back(ByteLevelChar(static_cast<uint8_t>(b)));
      src.push_back(static_cast<uint32_t>(i));
    }
  }
  s->Rewrite(std::move(text), src);
}

absl::StatusOr<std::unique_ptr<Normalizer>> ParseNormalizer(const Json& j, const std::string& where,
                                                            int depth) {
  using json_util::Field;
  ASSIGN_OR_RETURN(std::string type, json_util::GetType(j, where));
  const std::string tw = Field(where, "type");
  if (type == "BertNormalizer") {
    ASSIGN_OR_RETURN(bool clean, json_util::GetBool(j, "clean_text", where, true));
    ASSIGN_OR_RETURN(bool chinese, json_util::GetBool(j, "handle_chinese_chars", where, true));
    ASSIGN_OR_RETURN(bool lower, json_util::GetBool(j, "lowercase", where, true));
    // strip_accents: null means "same as lowercase".
    ASSIGN_OR_RETURN(bool strip, json_util::GetBool(j, "strip_accents", where, lower));
    return std::make_unique<BertNormalizer>(clean, chinese, strip, lower);
  }
  if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
  if (type == "StripAccents") return std::make_unique<StripAccents>();
  if (type == "NFD") return std::make_unique<FormNormalizer>(unicode::NormalForm::kNFD);
  if (type == "NFKD") return std::make_unique<FormNormalizer>(unicode::NormalForm::kNFKD);
  if (type == "NFC") return std::make_unique<FormNormalizer>(unicode::NormalForm::kNFC);
  if (type == "NFKC") return std::make_unique<FormNormalizer>(unicode::NormalForm::kNFKC);
  if (type == "Nmt") return std::make_unique<Nmt>();
  if (type == "ByteLevel") return std::make_unique<ByteLevelNormalizer>();
  if (type == "Strip") {
    ASSIGN_OR_RETURN(bool left, json_util::GetBool(j, "strip_left", where, std::nullopt));
    ASSIGN_OR_RETURN(bool right, json_util::GetBool(j, "strip_right", where, std::nullopt));
    return std::make_unique<Strip>(left, right);
  }
  if (type == "Prepend") {
    ASSIGN_OR_RETURN(std::string p, json_util::GetString(j, "prepend", where, std::nullopt));
    ASSIGN_OR_RETURN(std::u32string u, json_util::DecodeField(p, Field(where, "prepend")));
    return std::make_unique<Prepend>(std::move(u));
  }
  if (type == "Replace") {
    const Json* pattern = json_util::Find(j, "pattern");
    const std::string pw = Field(where, "pattern");
    if (pattern == nullptr || !pattern->is_object()) return json_util::Invalid(pw, "expected {\"String\": ...}");
    if (pattern->contains("Regex")) {
      return json_util::Unsupported(pw, "Replace normalizer with a Regex pattern is not supported");
    }
    ASSIGN_OR_RETURN(std::string lit, json_util::GetString(*pattern, "String", pw, std::nullopt));
    ASSIGN_OR_RETURN(std::string content, json_util::GetString(j, "content", where, std::nullopt));
    ASSIGN_OR_RETURN(std::u32string lit32, json_util::DecodeField(lit, Field(pw, "String")));
    if (lit32.empty()) return json_util::Unsupported(pw, "an empty Replace pattern is not supported");
    ASSIGN_OR_RETURN(std::u32string c32, json_util::DecodeField(content, Field(where, "content")));
    return std::make_unique<Replace>(std::move(lit32), std::move(c32));
  }
  if (type == "Sequence") {
    if (depth >= kMaxNesting) return json_util::Invalid(where, "Sequence nested too deeply");
    const Json* list = json_util::Find(j, "normalizers");
    const std::string lw = Field(where, "normalizers");
    if (list == nullptr) return json_util::Invalid(lw, "missing");
    RETURN_IF_ERROR(json_util::ExpectArray(*list, lw));
    std::vector<std::unique_ptr<Normalizer>> parts;
    for (size_t i = 0; i < list->size(); ++i) {
      ASSIGN_OR_RETURN(std::unique_ptr<Normalizer> p,
                       ParseNormalizer((*list)[i], json_util::Index(lw, i), depth + 1));
      parts.push_back(std::move(p));
    }
    return std::make_unique<SequenceNormalizer>(std::move(parts));
  }
  if (type == "Precompiled") {
    return json_util::Unsupported(tw, "normalizer type 'Precompiled' (SentencePiece charsmap) is not supported");
  }
  return json_util::Unsupported(tw, absl::StrCat("unknown normalizer type '", base::Excerpt(type), "'"));
}

}  // namespace neobert::tokenizer
