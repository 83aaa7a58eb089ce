// CRC-32 with a carry-less-multiply fast path; the contract is in crc32.h.
//
// The folding path treats the message as a polynomial over GF(2) whose first
// bit (bit 0 of byte 0, the CRC being reflected) has the highest degree.
// raw(0, M), the CRC register after M with a zero start, depends only on
// M(x) mod P(x). A 16-byte block X that lies d bits before block Y can be
// replaced by zeros if X(x)·x^d mod P is added into Y — "folding" — which
// keeps M mod P and shortens the message. Four 16-byte lanes are folded over
// each next 64 bytes (d = 512), then into one another (d = 128), leaving one
// 16-byte block whose CRC (table-driven) is the CRC of the whole prefix.
//
// Why x^(d+63) and x^(d-1): a 128-bit register holds bit i as coefficient
// x^(127-i). Its low quadword is X_H·x^64, its high quadword X_L, so
// X·x^d = X_H·x^(d+64) + X_L·x^d. PCLMULQDQ of two reflected 64-bit values
// yields the product one degree short in that layout (bit m means x^(126-m)),
// so the constants carry one x less. A constant K (degree < 32) is stored
// bit-reflected in the upper half of a quadword (coefficient e at bit 63-e).
// All constants are computed from the polynomial at compile time.
#include "core/format/crc32.h"

#include <cstdint>
#include <zlib.h>


#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace neobert::format {
namespace {

// x^n mod P(x), P = x^32 + 0x04C11DB7 (normal bit order: bit e = x^e).
constexpr uint32_t XPowModP(unsigned n) {
  uint64_t r = 1;
  for (unsigned i = 0; i < n; ++i) {
    r <<= 1;
    if (r & (uint64_t{1} << 32)) r ^= 0x104C11DB7ull;
  }
  return static_cast<uint32_t>(r);
}

// K with coefficient x^e at bit 63 - e.
constexpr uint64_t ReflectedHigh(uint32_t k) {
  uint64_t r = 0;
  for (int e = 0; e < 32; ++e) {
    if (k & (uint32_t{1} << e)) r |= uint64_t{1} << (63 - e);
  }
  return r;
}

constexpr uint64_t kFold512Lo = ReflectedHigh(XPowModP(512 + 63));
constexpr uint64_t kFold512Hi = ReflectedHigh(XPowModP(512 - 1));
constexpr uint64_t kFold128Lo = ReflectedHigh(XPowModP(128 + 63));
constexpr uint64_t kFold128Hi = ReflectedHigh(XPowModP(128 - 1));
static_assert(XPowModP(32) == 0x04C11DB7u, "x^32 mod P is P's low part");

// zlib's crc32_z takes z_size_t lengths; crc32 (uInt) would truncate.
uint32_t ZlibCrc(uint32_t crc, const uint8_t* p, size_t n) {
  return static_cast<uint32_t>(crc32_z(crc, p, n));
}

#if defined(__x86_64__)

__attribute__((target("pclmul,sse2"))) inline __m128i Fold(__m128i x, __m128i k, __m128i y) {
  const __m128i a = _mm_clmulepi64_si128(x, k, 0x00);  // X_H · constant for the low half
  const __m128i b = _mm_clmulepi64_si128(x, k, 0x11);  // X_L · constant for the high half
  return _mm_xor_si128(_mm_xor_si128(a, b), y);
}

__attribute__((target("pclmul,sse2"))) inline __m128i Load(const uint8_t* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

// CRC of p[0, 64·blocks) continuing from `crc`; blocks >= 1.
__attribute__((target("pclmul,sse2"))) uint32_t FoldBlocks(uint32_t crc, const uint8_t* p,
                                                            size_t blocks) {
  const __m128i k512 = _mm_set_epi64x(static_cast<long long>(kFold512Hi),
                                      static_cast<long long>(kFold512Lo));
  const __m128i k128 = _mm_set_epi64x(static_cast<long long>(kFold128Hi),
                                      static_cast<long long>(kFold128Lo));
  // raw(c, M) == raw(0, M with c XORed into its first four bytes).
  __m128i v0 = _mm_xor_si128(Load(p), _mm_cvtsi32_si128(static_cast<int>(~crc)));
  __m128i v1 = Load(p + 16);
  __m128i v2 = Load(p + 32);
  __m128i v3 = Load(p + 48);
  for (size_t i = 1; i < blocks; ++i) {
    p += 64;
    v0 = Fold(v0, k512, Load(p));
    v1 = Fold(v1, k512, Load(p + 16));
    v2 = Fold(v2, k512, Load(p + 32));
    v3 = Fold(v3, k512, Load(p + 48));
  }
  v1 = Fold(v0, k128, v1);
  v2 = Fold(v1, k128, v2);
  v3 = Fold(v2, k128, v3);
  uint8_t rest[16];
  _mm_storeu_si128(reinterpret_cast<__m128i*>(rest), v3);
  // crc32_z(0xFFFFFFFF, R) == ~raw(0, R) == the CRC of the folded prefix.
  return ZlibCrc(0xFFFFFFFFu, rest, sizeof(rest));
}

bool HavePclmul() {
  static const bool have = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse2");
  return have;
}

#endif

// Below this the table path is as fast and avoids the fixed folding cost.
constexpr size_t kMinFoldBytes = 256;

}  // namespace

uint32_t Crc32Portable(uint32_t crc, absl::Span<const uint8_t> data) {
  return ZlibCrc(crc, data.data(), data.size());
}

bool Crc32IsAccelerated() {
#if defined(__x86_64__)
  return HavePclmul();
#else
  return false;
#endif
}

uint32_t Crc32(uint32_t crc, absl::Span<const uint8_t> data) {
#if defined(__x86_64__)
  if (data.size() >= kMinFoldBytes && HavePclmul()) {
    const size_t blocks = data.size() / 64;
    crc = FoldBlocks(crc, data.data(), blocks);
    data.remove_prefix(blocks * 64);
  }
#endif
  return ZlibCrc(crc, data.data(), data.size());
}

}  // namespace neobert::format
