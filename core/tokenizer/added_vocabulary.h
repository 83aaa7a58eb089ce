// Added tokens (tokenizer.json "added_tokens"): matched in the text before the
// model runs, as the reference library does it.
//
//  1. Tokens with normalized=false are matched on the raw input.
//  2. Every remaining piece is normalized on its own, then tokens with
//     normalized=true are matched on the normalized text (their pattern is
//     their content passed through the same normalizer).
// Matching is leftmost-longest. A single_word token only matches when the
// characters around it are not word characters (\w); lstrip / rstrip widen a
// match over the whitespace to its left / right.
//
// Two tokens whose patterns are the same text (e.g. "Hello" and "hello" under
// a lowercasing normalizer) make the library pick one in hash order, which
// varies between runs; encoding text that hits such a pattern therefore fails
// with FAILED_PRECONDITION instead of guessing. A pattern the normalizer
// erases entirely never matches.
//
// Ids are assigned as the library does when it loads the file (the "id" field
// is not authoritative): a content already in the model vocabulary keeps that
// id, others get model.VocabSize(), +1, ... in file order.
//
// Thread-safety: immutable after Create.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/tokenizer/models.h"
#include "core/tokenizer/normalized_string.h"
#include "core/tokenizer/normalizers.h"

namespace neobert::tokenizer {

struct AddedTokenSpec {
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
  bool special = false;
  bool operator==(const AddedTokenSpec&) const = default;
};

class AddedVocabulary {
 public:
  // `where` names the added_tokens section in errors.
  static absl::StatusOr<AddedVocabulary> Create(const std::vector<AddedTokenSpec>& tokens,
                                                const Model& model, const Normalizer* normalizer,
                                                const std::string& where);

  // Cuts `input` around added tokens and normalizes the rest (steps 1-2).
  absl::Status ExtractAndNormalize(const Normalizer* normalizer, NormalizedString input,
                                   PreTokenizedString* out) const;

  std::optional<uint32_t> TokenToId(const std::string& content) const;
  // The library answers with the normalized form for normalized tokens.
  std::optional<std::string> IdToToken(uint32_t id) const;
  // Contents of the added tokens that the model vocabulary lacks.
  size_t CountNotIn(const Model& model) const;
  const absl::flat_hash_map<uint32_t, AddedTokenSpec>& by_id() const { return by_id_; }

 private:
  // Code-point trie for leftmost-longest matching.
  struct Trie {
    absl::flat_hash_map<uint64_t, uint32_t> edges;  // (node << 21 | cp) -> child
    std::vector<int64_t> value = {-1};              // token id at node, or -1
    // Nodes reached by several tokens' patterns, with all their ids.
    absl::flat_hash_map<uint32_t, std::vector<uint32_t>> ambiguous;
    bool empty() const { return value.size() == 1; }
    // Longest pattern starting at text[i]: (length, node), or length 0.
    std::pair<size_t, uint32_t> LongestAt(const std::u32string& text, size_t i) const;
  };
  struct Match {
    std::optional<uint32_t> id;
    size_t begin, end;
  };

  static void BuildTrie(const std::vector<std::pair<std::u32string, uint32_t>>& patterns, Trie* trie);
  absl::StatusOr<std::vector<Match>> FindMatches(const std::u32string& text, const Trie& trie) const;
  absl::StatusOr<std::vector<Split>> SplitWithTokens(const NormalizedString& s, const Trie& trie) const;

  absl::flat_hash_map<std::string, uint32_t> by_content_;
  absl::flat_hash_map<uint32_t, AddedTokenSpec> by_id_;
  absl::flat_hash_map<uint32_t, std::string> normalized_form_;
  Trie raw_trie_, normalized_trie_;
};

}  // namespace neobert::tokenizer
