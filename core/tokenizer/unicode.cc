#include "core/tokenizer/unicode.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "core/tokenizer/unicode_tables.h"

namespace neobert::tokenizer::unicode {
namespace {

namespace t = ::neobert::tokenizer::unicode_tables;

// Hangul syllables decompose and compose algorithmically (Unicode ch. 3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28;
constexpr char32_t kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

struct DecompositionRef {
  char32_t cp;
  uint32_t offset;  // of the first mapped code point in kDecompositionStream
  uint8_t len;
  bool compat;
};

// The generated stream is sorted by code point; index it once.
const std::vector<DecompositionRef>& DecompositionIndex() {
  static const std::vector<DecompositionRef>* index = [] {
    auto* v = new std::vector<DecompositionRef>();
    size_t i = 0;
    while (i < t::kDecompositionStreamSize) {
      uint32_t header = t::kDecompositionStream[i];
      DecompositionRef ref{header & 0x1FFFFF, static_cast<uint32_t>(i + 1),
                           static_cast<uint8_t>((header >> 21) & 0x1F), ((header >> 26) & 1) != 0};
      v->push_back(ref);
      i += 1 + ref.len;
    }
    return v;
  }();
  return *index;
}

const DecompositionRef* FindDecomposition(char32_t cp) {
  const auto& index = DecompositionIndex();
  auto it = std::lower_bound(index.begin(), index.end(), cp,
                             [](const DecompositionRef& r, char32_t c) { return r.cp < c; });
  return it != index.end() && it->cp == cp ? &*it : nullptr;
}

struct Item {
  char32_t cp;
  uint32_t origin;
};

void Decompose(char32_t cp, bool compat, uint32_t origin, int depth, std::vector<Item>* out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    char32_t s = cp - kSBase;
    out->push_back({kLBase + s / kNCount, origin});
    out->push_back({kVBase + (s % kNCount) / kTCount, origin});
    if (s % kTCount != 0) out->push_back({kTBase + s % kTCount, origin});
    return;
  }
  const DecompositionRef* d = depth < 8 ? FindDecomposition(cp) : nullptr;
  if (d == nullptr || (d->compat && !compat)) {
    out->push_back({cp, origin});
    return;
  }
  for (uint32_t k = 0; k < d->len; ++k) {
    Decompose(t::kDecompositionStream[d->offset + k], compat, origin, depth + 1, out);
  }
}

bool ComposePair(char32_t a, char32_t b, char32_t* composed) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount) {
    *composed = kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
    return true;
  }
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
      b < kTBase + kTCount) {
    *composed = a + (b - kTBase);
    return true;
  }
  const t::Composition* begin = t::kCompositions;
  const t::Composition* end = t::kCompositions + t::kCompositionCount;
  const t::Composition* it = std::lower_bound(begin, end, std::make_pair(a, b),
      [](const t::Composition& c, const std::pair<char32_t, char32_t>& key) {
        return c.first != key.first ? c.first < key.first : c.second < key.second;
      });
  if (it != end && it->first == a && it->second == b) {
    *composed = it->composed;
    return true;
  }
  return false;
}

}  // namespace

uint16_t Properties(char32_t cp) {
  const t::PropertyRange* begin = t::kPropertyRanges;
  const t::PropertyRange* end = t::kPropertyRanges + t::kPropertyRangeCount;
  const t::PropertyRange* it = std::upper_bound(
      begin, end, cp, [](char32_t c, const t::PropertyRange& r) { return c < r.lo; });
  if (it == begin) return 0;
  --it;
  return cp <= it->hi ? it->bits : 0;
}

bool IsBertChinese(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

int Lowercase(char32_t cp, char32_t out[3]) {
  for (size_t i = 0; i < t::kLowercaseMultiCount; ++i) {
    if (t::kLowercaseMulti[i].cp == cp) {
      for (int k = 0; k < t::kLowercaseMulti[i].len; ++k) out[k] = t::kLowercaseMulti[i].to[k];
      return t::kLowercaseMulti[i].len;
    }
  }
  const t::LowercaseRun* begin = t::kLowercaseRuns;
  const t::LowercaseRun* end = t::kLowercaseRuns + t::kLowercaseRunCount;
  const t::LowercaseRun* it = std::upper_bound(
      begin, end, cp, [](char32_t c, const t::LowercaseRun& r) { return c < r.lo; });
  out[0] = cp;
  if (it != begin) {
    --it;
    if (cp <= it->hi && (cp - it->lo) % static_cast<char32_t>(it->stride) == 0) {
      out[0] = static_cast<char32_t>(static_cast<int64_t>(cp) + it->delta);
    }
  }
  return 1;
}

uint8_t CombiningClass(char32_t cp) {
  const t::CombiningRun* begin = t::kCombiningRuns;
  const t::CombiningRun* end = t::kCombiningRuns + t::kCombiningRunCount;
  const t::CombiningRun* it = std::upper_bound(
      begin, end, cp, [](char32_t c, const t::CombiningRun& r) { return c < r.lo; });
  if (it == begin) return 0;
  --it;
  return cp <= it->hi ? it->ccc : 0;
}

void Normalize(NormalForm form, const std::u32string& in, std::u32string* out,
               std::vector<uint32_t>* origin) {
  const bool compat = form == NormalForm::kNFKD || form == NormalForm::kNFKC;
  std::vector<Item> items;
  items.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    Decompose(in[i], compat, static_cast<uint32_t>(i), 0, &items);
  }
  // Canonical ordering: stable sort of every run of non-starters by class.
  std::vector<uint8_t> ccc(items.size());
  for (size_t i = 0; i < items.size(); ++i) ccc[i] = CombiningClass(items[i].cp);
  for (size_t i = 0; i < items.size();) {
    if (ccc[i] == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < items.size() && ccc[j] != 0) ++j;
    if (j - i > 1) {
      std::vector<std::pair<uint8_t, Item>> run;
      for (size_t k = i; k < j; ++k) run.push_back({ccc[k], items[k]});
      std::stable_sort(run.begin(), run.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      for (size_t k = i; k < j; ++k) {
        ccc[k] = run[k - i].first;
        items[k] = run[k - i].second;
      }
    }
    i = j;
  }
  out->clear();
  origin->clear();
  if (form == NormalForm::kNFD || form == NormalForm::kNFKD) {
    for (const Item& it : items) {
      out->push_back(it.cp);
      origin->push_back(it.origin);
    }
    return;
  }
  // Canonical composition: a character combines with the last starter unless
  // something of equal or higher class (or a starter) stands between them.
  size_t starter = SIZE_MAX;
  int last_class = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const int c = ccc[i];
    if (starter != SIZE_MAX && (last_class < c || last_class == 0)) {
      char32_t composed;
      if (ComposePair((*out)[starter], items[i].cp, &composed)) {
        (*out)[starter] = composed;
        continue;
      }
    }
    if (c == 0) {
      starter = out->size();
      last_class = 0;
    } else {
      last_class = starter == SIZE_MAX ? 256 : c;
    }
    out->push_back(items[i].cp);
    origin->push_back(items[i].origin);
  }
}

bool DecodeUtf8(absl::string_view in, std::u32string* out, std::vector<uint32_t>* byte_offsets,
                size_t* error_offset) {
  out->clear();
  if (byte_offsets != nullptr) byte_offsets->clear();
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  const size_t n = in.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char b = s[i];
    char32_t cp;
    size_t len;
    if (b < 0x80) {
      cp = b;
      len = 1;
    } else if (b >= 0xC2 && b <= 0xDF) {
      cp = b & 0x1F;
      len = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      cp = b & 0x0F;
      len = 3;
    } else if (b >= 0xF0 && b <= 0xF4) {
      cp = b & 0x07;
      len = 4;
    } else {
      *error_offset = i;
      return false;
    }
    if (len > n - i) {
      *error_offset = i;
      return false;
    }
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) {
        *error_offset = i;
        return false;
      }
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
      *error_offset = i;
      return false;
    }
    out->push_back(cp);
    if (byte_offsets != nullptr) byte_offsets->push_back(static_cast<uint32_t>(i));
    i += len;
  }
  return true;
}

int Utf8Length(char32_t cp) {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string ToUtf8(const char32_t* begin, const char32_t* end) {
  std::string s;
  s.reserve(static_cast<size_t>(end - begin));
  for (const char32_t* p = begin; p != end; ++p) AppendUtf8(*p, &s);
  return s;
}

}  // namespace neobert::tokenizer::unicode
