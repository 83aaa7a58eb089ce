// Pre-tokenizers of tokenizer.json ("pre_tokenizer" section). Supported types:
// BertPreTokenizer, ByteLevel (GPT-2 regex, hand-coded), Metaspace, Whitespace,
// WhitespaceSplit, Punctuation, Digits, CharDelimiterSplit, Split with a
// String pattern, FixedLength, Sequence. Split with a Regex pattern and
// UnicodeScripts are refused with UNIMPLEMENTED naming the type.
//
// Thread-safety: immutable after parsing.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "core/tokenizer/normalized_string.h"

namespace neobert::tokenizer {

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual void PreTokenize(PreTokenizedString* p) const = 0;
};

absl::StatusOr<std::unique_ptr<PreTokenizer>> ParsePreTokenizer(const nlohmann::json& j,
                                                                const std::string& where,
                                                                int depth = 0);

// Spans of the GPT-2 pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// over `text` (leftmost-first alternation, as Oniguruma runs it).
std::vector<std::pair<size_t, size_t>> ByteLevelSpans(const std::u32string& text);

// Spans of \w+|[^\w\s]+ (the Whitespace pre-tokenizer's pattern).
std::vector<std::pair<size_t, size_t>> WordSpans(const std::u32string& text);

}  // namespace neobert::tokenizer
