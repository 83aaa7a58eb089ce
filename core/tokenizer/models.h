// Models of tokenizer.json ("model" section): WordPiece, BPE, WordLevel.
// Unigram is refused with UNIMPLEMENTED. A model turns one pre-tokenized
// piece into tokens exactly as the reference library does, including its
// unknown-token and byte-fallback rules.
//
// Thread-safety: immutable after parsing.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/tokenizer/normalized_string.h"

namespace neobert::tokenizer {

// Hard caps on what a tokenizer.json may declare.
inline constexpr size_t kMaxVocabSize = size_t{1} << 24;
inline constexpr size_t kMaxMerges = size_t{1} << 24;

class Model {
 public:
  virtual ~Model() = default;
  // Tokenizes one piece (code points); appends to `out`. Fails only when the
  // piece needs an unknown token the vocabulary lacks.
  virtual absl::Status Tokenize(const std::u32string& piece, std::vector<Token>* out) const = 0;
  virtual std::optional<uint32_t> TokenToId(const std::string& token) const = 0;
  virtual std::optional<std::string> IdToToken(uint32_t id) const = 0;
  // Number of vocabulary entries (the library's get_vocab_size()).
  virtual size_t VocabSize() const = 0;
};

// token -> id, with the reverse map.
struct Vocab {
  absl::flat_hash_map<std::string, uint32_t> ids;
  absl::flat_hash_map<uint32_t, std::string> tokens;
  size_t longest = 0;  // bytes of the longest token

  std::optional<uint32_t> Find(const std::string& t) const {
    auto it = ids.find(t);
    if (it == ids.end()) return std::nullopt;
    return it->second;
  }
  std::optional<std::string> Token(uint32_t id) const {
    auto it = tokens.find(id);
    if (it == tokens.end()) return std::nullopt;
    return it->second;
  }
};

// Parses a {"token": id, ...} object.
absl::StatusOr<Vocab> ParseVocab(const nlohmann::json& j, const std::string& where);

absl::StatusOr<std::unique_ptr<Model>> ParseModel(const nlohmann::json& j, const std::string& where);

// Per-model parsers (`j` is the model object).
absl::StatusOr<std::unique_ptr<Model>> ParseWordPiece(const nlohmann::json& j, const std::string& where);
absl::StatusOr<std::unique_ptr<Model>> ParseBpe(const nlohmann::json& j, const std::string& where);
absl::StatusOr<std::unique_ptr<Model>> ParseWordLevel(const nlohmann::json& j, const std::string& where);

}  // namespace neobert::tokenizer
