#include "core/tokenizer/added_vocabulary.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/status_macros.h"
#include "core/tokenizer/unicode.h"

namespace neobert::tokenizer {
namespace {

bool IsWord(char32_t c) { return unicode::Has(c, unicode::kRegexWord); }
bool IsSpace(char32_t c) { return unicode::Has(c, unicode::kWhiteSpace); }

absl::StatusOr<NormalizedString> FromUtf8(const std::string& s, const std::string& where) {
  std::u32string text;
  std::vector<uint32_t> offsets;
  size_t bad = 0;
  if (!unicode::DecodeUtf8(s, &text, &offsets, &bad)) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": invalid UTF-8 at byte ", bad));
  }
  return NormalizedString(std::move(text), std::move(offsets));
}

}  // namespace

std::pair<size_t, uint32_t> AddedVocabulary::Trie::LongestAt(const std::u32string& text,
                                                             size_t i) const {
  std::pair<size_t, uint32_t> best{0, 0};
  uint64_t node = 0;
  for (size_t k = i; k < text.size(); ++k) {
    auto it = edges.find(node << 21 | text[k]);
    if (it == edges.end()) break;
    node = it->second;
    if (value[node] >= 0) best = {k + 1 - i, static_cast<uint32_t>(node)};
  }
  return best;
}

void AddedVocabulary::BuildTrie(const std::vector<std::pair<std::u32string, uint32_t>>& patterns,
                                Trie* trie) {
  for (const auto& [pattern, id] : patterns) {
    // An empty pattern (content the normalizer erases) never matches, as in
    // the library.
    if (pattern.empty()) continue;
    uint64_t node = 0;
    for (char32_t c : pattern) {
      auto [it, inserted] = trie->edges.try_emplace(node << 21 | c, static_cast<uint32_t>(trie->value.size()));
      if (inserted) trie->value.push_back(-1);
      node = it->second;
    }
    if (trie->value[node] >= 0) {
      // Several tokens share this text. The library then picks one in hash
      // order (it differs between runs); refuse to encode such a match
      // rather than guess (see FindMatches).
      auto& ids = trie->ambiguous[static_cast<uint32_t>(node)];
      if (ids.empty()) ids.push_back(static_cast<uint32_t>(trie->value[node]));
      ids.push_back(id);
      continue;
    }
    trie->value[node] = id;
  }
}

absl::StatusOr<AddedVocabulary> AddedVocabulary::Create(const std::vector<AddedTokenSpec>& tokens,
                                                        const Model& model, const Normalizer* normalizer,
                                                        const std::string& where) {
  AddedVocabulary v;
  uint64_t next_id = model.VocabSize();
  for (size_t i = 0; i < tokens.size(); ++i) {
    const AddedTokenSpec& t = tokens[i];
    if (t.content.empty()) continue;
    if (auto it = v.by_content_.find(t.content); it != v.by_content_.end()) {
      if (v.by_id_.at(it->second) == t) continue;
    }
    uint32_t id;
    if (auto it = v.by_content_.find(t.content); it != v.by_content_.end()) {
      id = it->second;
    } else if (std::optional<uint32_t> mid = model.TokenToId(t.content)) {
      id = *mid;
    } else {
      if (next_id > UINT32_MAX) return absl::InvalidArgumentError(absl::StrCat(where, ": too many tokens"));
      id = static_cast<uint32_t>(next_id++);
    }
    if (t.normalized && normalizer != nullptr) {
      ASSIGN_OR_RETURN(NormalizedString s,
                       FromUtf8(t.content, absl::StrCat(where, "[", i, "].content")));
      normalizer->Normalize(&s);
      std::string normed = s.Utf8();
      if (normed != t.content) v.normalized_form_[id] = std::move(normed);
    }
    v.by_content_[t.content] = id;
    v.by_id_[id] = t;
  }
  std::vector<std::pair<std::u32string, uint32_t>> raw, normalized;
  std::vector<uint32_t> ids;
  for (const auto& [id, t] : v.by_id_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  for (uint32_t id : ids) {
    const AddedTokenSpec& t = v.by_id_.at(id);
    std::string pattern = t.content;
    if (t.normalized) {
      if (auto it = v.normalized_form_.find(id); it != v.normalized_form_.end()) pattern = it->second;
    }
    ASSIGN_OR_RETURN(NormalizedString p, FromUtf8(pattern, where));
    (t.normalized ? normalized : raw).push_back({p.text(), id});
  }
  BuildTrie(raw, &v.raw_trie_);
  BuildTrie(normalized, &v.normalized_trie_);
  return v;
}

absl::StatusOr<std::vector<AddedVocabulary::Match>> AddedVocabulary::FindMatches(
    const std::u32string& text, const Trie& trie) const {
  if (text.empty()) return std::vector<Match>{{std::nullopt, 0, 0}};
  if (trie.empty()) return std::vector<Match>{{std::nullopt, 0, text.size()}};
  std::vector<Match> out;
  size_t start_offset = 0;
  size_t i = 0;
  while (i < text.size()) {
    const auto [len, node] = trie.LongestAt(text, i);
    if (len == 0) {
      ++i;
      continue;
    }
    if (auto amb = trie.ambiguous.find(node); amb != trie.ambiguous.end()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "text matches added tokens ", absl::StrJoin(amb->second, ", "), " equally ('",
          unicode::ToUtf8(text.substr(i, len)),
          "' after normalization); the reference library picks one of them at random"));
    }
    const uint32_t id = static_cast<uint32_t>(trie.value[node]);
    size_t start = i, stop = i + len;
    i = stop;  // the scan resumes after the raw match whatever happens below
    const AddedTokenSpec& t = by_id_.at(id);
    if (t.single_word) {
      const bool start_space = start == 0 || !IsWord(text[start - 1]);
      const bool stop_space = stop == text.size() || !IsWord(text[stop]);
      if (!start_space || !stop_space) continue;
    }
    if (t.lstrip) {
      size_t s = start;
      while (s > 0 && IsSpace(text[s - 1])) --s;
      start = std::max(s, start_offset);
    }
    if (t.rstrip) {
      while (stop < text.size() && IsSpace(text[stop])) ++stop;
    }
    if (start > stop) {
      return absl::InvalidArgumentError(
          "added tokens overlap in a way the reference library cannot split (rstrip into an lstrip token)");
    }
    if (start_offset < start) out.push_back({std::nullopt, start_offset, start});
    out.push_back({id, start, stop});
    start_offset = stop;
  }
  if (start_offset != text.size()) out.push_back({std::nullopt, start_offset, text.size()});
  return out;
}

absl::StatusOr<std::vector<Split>> AddedVocabulary::SplitWithTokens(const NormalizedString& s,
                                                                    const Trie& trie) const {
  ASSIGN_OR_RETURN(std::vector<Match> matches, FindMatches(s.text(), trie));
  std::vector<Split> out;
  out.reserve(matches.size());
  for (const Match& m : matches) {
    NormalizedString piece = s.Slice(m.begin, m.end);
    if (m.id.has_value()) {
      std::string value = piece.Utf8();
      out.push_back(Split{std::move(piece), std::vector<Token>{{*m.id, std::move(value)}}});
    } else {
      out.push_back(Split{std::move(piece), std::nullopt});
    }
  }
  return out;
}

absl::Status AddedVocabulary::ExtractAndNormalize(const Normalizer* normalizer, NormalizedString input,
                                                  PreTokenizedString* out) const {
  out->splits().clear();
  out->splits().push_back(Split{std::move(input), std::nullopt});
  absl::Status status;
  out->SplitEach([&](const NormalizedString& s) {
    absl::StatusOr<std::vector<Split>> r = SplitWithTokens(s, raw_trie_);
    if (!r.ok()) {
      status.Update(r.status());
      return std::vector<Split>();
    }
    return std::move(*r);
  });
  if (!status.ok()) return status;
  out->SplitEach([&](const NormalizedString& s) {
    NormalizedString n = s;
    if (normalizer != nullptr) normalizer->Normalize(&n);
    absl::StatusOr<std::vector<Split>> r = SplitWithTokens(n, normalized_trie_);
    if (!r.ok()) {
      status.Update(r.status());
      return std::vector<Split>();
    }
    return std::move(*r);
  });
  return status;
}

std::optional<uint32_t> AddedVocabulary::TokenToId(const std::string& content) const {
  auto it = by_content_.find(content);
  if (it == by_content_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> AddedVocabulary::IdToToken(uint32_t id) const {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  if (auto n = normalized_form_.find(id); n != normalized_form_.end()) return n->second;
  return it->second.content;
}

size_t AddedVocabulary::CountNotIn(const Model& model) const {
  size_t n = 0;
  for (const auto& [content, id] : by_content_) {
    if (!model.TokenToId(content).has_value()) ++n;
  }
  return n;
}

}  // namespace neobert::tokenizer
