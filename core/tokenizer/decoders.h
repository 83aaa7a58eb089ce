// How a token of tokenizer.json reads as text ("decoder" section), for
// display: fill-mask predictions print tokens, not ids.
//
// Not the reference library's full decode (no joining of a whole sequence,
// no byte fallback or fusing): one token at a time, the step of the decoder
// that changes how a single token reads:
//   WordPiece  the continuation prefix "##" is removed;
//   Metaspace  every U+2581 "▁" becomes a space;
//   ByteLevel  each character of the GPT-2 byte alphabet becomes its byte
//              (so "Ġworld" reads " world", and multi-byte characters
//              split over tokens come back as their UTF-8 bytes);
// any other decoder, or none, leaves the token as it is. In a Sequence the
// last of these three kinds listed wins.
//
// Thread-safety: immutable; Decode may run concurrently.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "absl/strings/string_view.h"

namespace neobert::tokenizer {

class TokenDecoder {
 public:
  enum class Kind { kPlain, kWordPiece, kMetaspace, kByteLevel };

  TokenDecoder() = default;
  // From tokenizer.json's "decoder" value (null when absent). Never fails: a
  // decoder this class does not know reads tokens as they are.
  static TokenDecoder FromJson(const nlohmann::json* section);

  Kind kind() const { return kind_; }
  // The text `token` stands for.
  std::string Decode(absl::string_view token) const;

 private:
  explicit TokenDecoder(Kind kind) : kind_(kind) {}
  Kind kind_ = Kind::kPlain;
};

}  // namespace neobert::tokenizer
