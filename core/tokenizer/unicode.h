// Character data and UTF-8 helpers for the tokenizer.
//
// The properties reproduce what the Rust `tokenizers` library (the reference)
// answers for each code point, not the newest Unicode: its crates were built
// from different Unicode releases (see tools/gen_unicode_tables.py). Each
// Property names the component that consults it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace neobert::tokenizer::unicode {

enum Property : uint16_t {
  kWhiteSpace = 1 << 0,     // char::is_whitespace, regex \s, Oniguruma \s
  kBertControl = 1 << 1,    // BertNormalizer clean_text drops it (NUL, U+FFFD, Cc/Cf/Co but \t\n\r)
  kBertPunct = 1 << 2,      // BertPreTokenizer / Punctuation: ASCII punctuation or P*
  kBertMn = 1 << 3,         // BertNormalizer strip_accents drops it (Mn)
  kCombiningMark = 1 << 4,  // StripAccents normalizer drops it (M*)
  kOnigLetter = 1 << 5,     // \p{L} in the ByteLevel regex
  kOnigNumber = 1 << 6,     // \p{N} in the ByteLevel regex
  kRegexWord = 1 << 7,      // \w (Whitespace pre-tokenizer, single_word added tokens)
  kNumeric = 1 << 8,        // char::is_numeric (Digits pre-tokenizer)
};

// The property bits of `cp` (0 for unassigned or out-of-range values).
uint16_t Properties(char32_t cp);
inline bool Has(char32_t cp, Property p) { return (Properties(cp) & p) != 0; }

// BertNormalizer's "Chinese character" ranges (CJK ideograph blocks).
bool IsBertChinese(char32_t cp);

// Writes the lowercase of `cp` (Rust char::to_lowercase: full mapping, no
// context) to out[0..n) and returns n (1 to 3).
int Lowercase(char32_t cp, char32_t out[3]);

// Canonical combining class.
uint8_t CombiningClass(char32_t cp);

enum class NormalForm { kNFD, kNFKD, kNFC, kNFKC };

// Normalizes `in`. `origin` receives, for each output code point, the index in
// `in` of the code point it was produced from (a composed character takes the
// index of its starter).
void Normalize(NormalForm form, const std::u32string& in, std::u32string* out,
               std::vector<uint32_t>* origin);

// Strict UTF-8 decoding (no overlongs, surrogates or values above U+10FFFF).
// On success fills `out` and, if given, `byte_offsets` (the byte offset of each
// code point) and returns true; otherwise sets *error_offset to the byte
// offset of the first invalid sequence and returns false.
bool DecodeUtf8(absl::string_view in, std::u32string* out, std::vector<uint32_t>* byte_offsets,
                size_t* error_offset);

void AppendUtf8(char32_t cp, std::string* out);
std::string ToUtf8(const char32_t* begin, const char32_t* end);
inline std::string ToUtf8(const std::u32string& s) { return ToUtf8(s.data(), s.data() + s.size()); }
// Number of UTF-8 bytes of `cp`.
int Utf8Length(char32_t cp);

}  // namespace neobert::tokenizer::unicode
