// Size and offset arithmetic that cannot wrap around.
//
// Every length, count and offset read from a file is hostile until checked:
// compute with these instead of bare + and *, and compare ranges with
// RangeInside, so an overflow becomes a clear error instead of a small
// number. Header-only; usable from every layer.
#pragma once

#include <cstdint>
#include <optional>
#include <type_traits>

namespace neobert::base {

// a + b, or nullopt when it does not fit in T.
template <typename T>
[[nodiscard]] constexpr std::optional<T> CheckedAdd(T a, T b) {
  static_assert(std::is_integral_v<T>);
  T out;
  if (__builtin_add_overflow(a, b, &out)) return std::nullopt;
  return out;
}

// a * b, or nullopt when it does not fit in T.
template <typename T>
[[nodiscard]] constexpr std::optional<T> CheckedMul(T a, T b) {
  static_assert(std::is_integral_v<T>);
  T out;
  if (__builtin_mul_overflow(a, b, &out)) return std::nullopt;
  return out;
}

// True when [offset, offset + n) lies inside [0, limit), without computing
// offset + n.
[[nodiscard]] constexpr bool RangeInside(uint64_t offset, uint64_t n, uint64_t limit) {
  return offset <= limit && n <= limit - offset;
}

}  // namespace neobert::base
