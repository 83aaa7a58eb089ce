// The text being tokenized, as the pipeline rewrites and cuts it.
//
// Mirrors the reference library's NormalizedString / PreTokenizedString, but
// keeps only what can change the produced ids: the current code points, and
// for each of them the byte offset in the original input of the code point it
// came from. That offset decides where a cut piece "starts in the original",
// which Metaspace's prepend_scheme "first" tests (a piece whose first code
// point was produced from input offset 0).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace neobert::tokenizer {

// A token produced by a model, an added token or a post-processor.
struct Token {
  uint32_t id = 0;
  std::string value;  // UTF-8
};

class NormalizedString {
 public:
  NormalizedString() = default;
  // The original input: code points and their byte offsets.
  NormalizedString(std::u32string text, std::vector<uint32_t> byte_offsets);

  const std::u32string& text() const { return text_; }
  size_t size() const { return text_.size(); }
  bool empty() const { return text_.empty(); }
  // Byte offset in the original input where this piece starts (HF
  // offsets_original().0).
  uint32_t original_start() const { return original_start_; }
  // Original offset of the code point at `i`.
  uint32_t origin_of(size_t i) const { return align_[i]; }

  // Code points [begin, end) as a new piece.
  NormalizedString Slice(size_t begin, size_t end) const;

  // Replaces the content. source[i] is the index (in the current text) of the
  // code point that output code point i derives from; kAtStart means "inserted
  // before everything", which takes this piece's own start.
  static constexpr uint32_t kAtStart = UINT32_MAX;
  void Rewrite(std::u32string text, const std::vector<uint32_t>& source);

  std::string Utf8() const;

 private:
  std::u32string text_;
  std::vector<uint32_t> align_;  // original byte offset per code point
  uint32_t original_start_ = 0;
};

// How a split keeps the delimiters (HF SplitDelimiterBehavior).
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// A cut of a piece: code points [begin, end) and whether the pattern matched
// there. A pattern's matches cover the whole piece in order.
struct PatternMatch {
  size_t begin, end;
  bool is_match;
};

// Cuts `s` along `matches` with the reference library's delimiter rules.
// Returned pieces may be empty; callers drop those.
std::vector<NormalizedString> SplitPiece(const NormalizedString& s,
                                         const std::vector<PatternMatch>& matches,
                                         SplitBehavior behavior);

// Matches of a per-character predicate: every matching code point is one
// match, the stretches between are non-matches (HF `impl Pattern for Fn`).
template <typename Pred>
std::vector<PatternMatch> MatchChars(const std::u32string& text, Pred pred) {
  std::vector<PatternMatch> m;
  if (text.empty()) return {{0, 0, false}};
  size_t last = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (!pred(text[i])) continue;
    if (last < i) m.push_back({last, i, false});
    m.push_back({i, i + 1, true});
    last = i + 1;
  }
  if (last < text.size()) m.push_back({last, text.size(), false});
  return m;
}

// Turns non-overlapping match spans [begin, end) (in order) into a full cover
// of a text of length n, as the regex patterns do.
std::vector<PatternMatch> CoverWithMatches(size_t n,
                                           const std::vector<std::pair<size_t, size_t>>& spans);

// Occurrences of `needle` (non-empty), leftmost first, non-overlapping.
std::vector<PatternMatch> MatchLiteral(const std::u32string& text, const std::u32string& needle);

inline std::vector<PatternMatch> Invert(std::vector<PatternMatch> m) {
  for (auto& x : m) x.is_match = !x.is_match;
  return m;
}

// The pieces of one input sequence; a piece already turned into tokens (an
// added token, or after the model ran) is not cut or rewritten again.
struct Split {
  NormalizedString normalized;
  std::optional<std::vector<Token>> tokens;
};

class PreTokenizedString {
 public:
  std::vector<Split>& splits() { return splits_; }
  const std::vector<Split>& splits() const { return splits_; }

  // Replaces every untokenized piece by what `fn(piece)` returns (a vector of
  // Split), dropping empty pieces, as HF PreTokenizedString::split does.
  template <typename Fn>
  void SplitEach(Fn fn) {
    std::vector<Split> next;
    next.reserve(splits_.size());
    for (Split& s : splits_) {
      if (s.tokens.has_value()) {
        next.push_back(std::move(s));
        continue;
      }
      for (Split& piece : fn(s.normalized)) {
        if (!piece.normalized.empty()) next.push_back(std::move(piece));
      }
    }
    splits_ = std::move(next);
  }

  // Applies `fn` to every untokenized piece in place.
  template <typename Fn>
  void ForEachUntokenized(Fn fn) {
    for (Split& s : splits_) {
      if (!s.tokens.has_value()) fn(s.normalized);
    }
  }

 private:
  std::vector<Split> splits_;
};

// Wraps plain pieces as untokenized splits.
std::vector<Split> AsSplits(std::vector<NormalizedString> pieces);

}  // namespace neobert::tokenizer
