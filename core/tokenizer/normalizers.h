// Normalizers of tokenizer.json ("normalizer" section), as the reference
// library applies them. Supported types: BertNormalizer, Lowercase,
// StripAccents, NFD, NFKD, NFC, NFKC, Nmt, Strip, Prepend, Replace (string
// pattern), ByteLevel, Sequence. Precompiled and Replace with a Regex pattern
// are refused with UNIMPLEMENTED naming the type.
//
// Thread-safety: immutable after parsing; Normalize may run concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "core/tokenizer/normalized_string.h"

namespace neobert::tokenizer {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void Normalize(NormalizedString* s) const = 0;
};

// Parses one normalizer object; `where` names it in errors ("<file>:
// normalizer"). `depth` bounds Sequence nesting.
absl::StatusOr<std::unique_ptr<Normalizer>> ParseNormalizer(const nlohmann::json& j,
                                                            const std::string& where,
                                                            int depth = 0);

// Building blocks shared with the pre-tokenizers.
void LowercaseInPlace(NormalizedString* s);
// Maps every byte of the UTF-8 form to the GPT-2 byte alphabet.
void ByteLevelInPlace(NormalizedString* s);
// The GPT-2 byte-to-character table.
char32_t ByteLevelChar(uint8_t b);

}  // namespace neobert::tokenizer
