#include "core/tokenizer/normalized_string.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "core/tokenizer/unicode.h"

namespace neobert::tokenizer {

NormalizedString::NormalizedString(std::u32string text, std::vector<uint32_t> byte_offsets)
    : text_(std::move(text)), align_(std::move(byte_offsets)) {
  align_.resize(text_.size(), 0);
}

NormalizedString NormalizedString::Slice(size_t begin, size_t end) const {
  NormalizedString s;
  if (end > text_.size()) end = text_.size();
  if (begin >= end) {
    s.original_start_ = original_start_;
    return s;
  }
  s.text_ = text_.substr(begin, end - begin);
  s.align_.assign(align_.begin() + static_cast<ptrdiff_t>(begin),
                  align_.begin() + static_cast<ptrdiff_t>(end));
  s.original_start_ = align_[begin];
  return s;
}

void NormalizedString::Rewrite(std::u32string text, const std::vector<uint32_t>& source) {
  std::vector<uint32_t> align(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const uint32_t src = i < source.size() ? source[i] : kAtStart;
    align[i] = src < align_.size() ? align_[src] : original_start_;
  }
  text_ = std::move(text);
  align_ = std::move(align);
}

std::string NormalizedString::Utf8() const { return unicode::ToUtf8(text_); }

std::vector<NormalizedString> SplitPiece(const NormalizedString& s,
                                         const std::vector<PatternMatch>& matches,
                                         SplitBehavior behavior) {
  struct Cut {
    size_t begin, end;
    bool remove;
  };
  std::vector<Cut> cuts;
  cuts.reserve(matches.size());
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const auto& m : matches) cuts.push_back({m.begin, m.end, false});
      break;
    case SplitBehavior::kRemoved:
      for (const auto& m : matches) cuts.push_back({m.begin, m.end, m.is_match});
      break;
    case SplitBehavior::kContiguous: {
      bool previous = false;
      for (const auto& m : matches) {
        if (m.is_match == previous && !cuts.empty()) {
          cuts.back().end = m.end;
        } else {
          cuts.push_back({m.begin, m.end, false});
        }
        previous = m.is_match;
      }
      break;
    }
    case SplitBehavior::kMergedWithPrevious: {
      bool previous = false;
      for (const auto& m : matches) {
        if (m.is_match && !previous && !cuts.empty()) {
          cuts.back().end = m.end;
        } else {
          cuts.push_back({m.begin, m.end, false});
        }
        previous = m.is_match;
      }
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      bool previous = false;
      for (auto it = matches.rbegin(); it != matches.rend(); ++it) {
        if (it->is_match && !previous && !cuts.empty()) {
          cuts.back().begin = it->begin;
        } else {
          cuts.push_back({it->begin, it->end, false});
        }
        previous = it->is_match;
      }
      std::reverse(cuts.begin(), cuts.end());
      break;
    }
  }
  std::vector<NormalizedString> out;
  out.reserve(cuts.size());
  for (const Cut& c : cuts) {
    if (!c.remove) out.push_back(s.Slice(c.begin, c.end));
  }
  return out;
}

std::vector<PatternMatch> CoverWithMatches(size_t n,
                                           const std::vector<std::pair<size_t, size_t>>& spans) {
  if (n == 0) return {{0, 0, false}};
  std::vector<PatternMatch> m;
  size_t prev = 0;
  for (const auto& [b, e] : spans) {
    if (prev != b) m.push_back({prev, b, false});
    m.push_back({b, e, true});
    prev = e;
  }
  if (prev != n) m.push_back({prev, n, false});
  return m;
}

std::vector<PatternMatch> MatchLiteral(const std::u32string& text, const std::u32string& needle) {
  std::vector<std::pair<size_t, size_t>> spans;
  if (!needle.empty()) {
    size_t pos = 0;
    while ((pos = text.find(needle, pos)) != std::u32string::npos) {
      spans.push_back({pos, pos + needle.size()});
      pos += needle.size();
    }
  }
  return CoverWithMatches(text.size(), spans);
}

std::vector<Split> AsSplits(std::vector<NormalizedString> pieces) {
  std::vector<Split> out;
  out.reserve(pieces.size());
  for (auto& p : pieces) out.push_back(Split{std::move(p), std::nullopt});
  return out;
}

}  // namespace neobert::tokenizer
