// Layout of the generated character tables (unicode_tables.cc, written by
// tools/gen_unicode_tables.py). Internal to the tokenizer: use unicode.h.
//
// Every table is sorted by code point and is searched with binary search.
#pragma once

#include <cstddef>
#include <cstdint>

namespace neobert::tokenizer::unicode_tables {

// [lo, hi] all carry the property bit set `bits` (unicode.h, enum Property).
// Code points in no range have no property.
struct PropertyRange {
  char32_t lo, hi;
  uint16_t bits;
};

// Code points lo, lo + stride, ..., <= hi lowercase to cp + delta.
struct LowercaseRun {
  char32_t lo, hi;
  int32_t stride, delta;
};

// The few code points whose lowercase is several code points.
struct LowercaseMulti {
  char32_t cp;
  char32_t to[3];
  int32_t len;
};

// [lo, hi] have canonical combining class `ccc` (others: 0).
struct CombiningRun {
  char32_t lo, hi;
  uint8_t ccc;
};

// first + second compose canonically to `composed` (Hangul is algorithmic).
struct Composition {
  char32_t first, second, composed;
};

extern const PropertyRange kPropertyRanges[];
extern const size_t kPropertyRangeCount;
extern const LowercaseRun kLowercaseRuns[];
extern const size_t kLowercaseRunCount;
extern const LowercaseMulti kLowercaseMulti[];
extern const size_t kLowercaseMultiCount;
extern const CombiningRun kCombiningRuns[];
extern const size_t kCombiningRunCount;
// Records of: header = cp | len << 21 | compat << 26, then `len` code points
// (the one-step decomposition; components may decompose further).
extern const uint32_t kDecompositionStream[];
extern const size_t kDecompositionStreamSize;
extern const Composition kCompositions[];
extern const size_t kCompositionCount;

}  // namespace neobert::tokenizer::unicode_tables
