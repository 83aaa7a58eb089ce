// Helpers shared by the tokenizer unit tests.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tokenizer/normalized_string.h"
#include "core/tokenizer/unicode.h"

namespace neobert::tokenizer::testing {

inline NormalizedString FromUtf8(const std::string& s) {
  std::u32string text;
  std::vector<uint32_t> offsets;
  size_t bad = 0;
  unicode::DecodeUtf8(s, &text, &offsets, &bad);
  return NormalizedString(std::move(text), std::move(offsets));
}

inline std::u32string U32(const std::string& s) { return FromUtf8(s).text(); }

inline nlohmann::json J(const char* text) { return nlohmann::json::parse(text); }

// The UTF-8 text of every piece of a pre-tokenized string.
inline std::vector<std::string> PieceTexts(const PreTokenizedString& p) {
  std::vector<std::string> out;
  for (const Split& s : p.splits()) out.push_back(s.normalized.Utf8());
  return out;
}

inline PreTokenizedString Single(const std::string& s) {
  PreTokenizedString p;
  p.splits().push_back(Split{FromUtf8(s), std::nullopt});
  return p;
}

}  // namespace neobert::tokenizer::testing
