// Crc32: the folding path must agree with zlib for every length, alignment
// and starting value, and chain like zlib's crc32.
#include "core/format/crc32.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "tests/format/writer_test_util.h"

namespace neobert::format {
namespace {

using testing::RandomBytes;

uint32_t Zlib(uint32_t crc, const uint8_t* p, size_t n) {
  return static_cast<uint32_t>(crc32_z(crc, p, n));
}

TEST(Crc32Test, KnownValues) {
  const std::string check = "123456789";
  auto span = absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(check.data()), check.size());
  EXPECT_EQ(Crc32(0, span), 0xCBF43926u);
  EXPECT_EQ(Crc32(0, {}), 0u);
  // 1 MiB of zeros, long enough for the folding path.
  std::vector<uint8_t> zeros(1 << 20, 0);
  EXPECT_EQ(Crc32(0, zeros), Zlib(0, zeros.data(), zeros.size()));
  std::vector<uint8_t> ones(4096, 0xFF);
  EXPECT_EQ(Crc32(0, ones), Zlib(0, ones.data(), ones.size()));
}

TEST(Crc32Test, MatchesZlibForEveryLengthOffsetAndSeed) {
  const auto data = RandomBytes(4096 + 64, 7);
  int mismatches = 0;
  for (size_t len = 0; len <= 2100; ++len) {
    for (size_t offset : {0, 1, 3, 8, 15}) {
      for (uint32_t seed : {0u, 0xFFFFFFFFu, 0x9E3779B9u}) {
        const uint32_t got = Crc32(seed, absl::MakeConstSpan(data.data() + offset, len));
        const uint32_t want = Zlib(seed, data.data() + offset, len);
        if (got != want && ++mismatches <= 5) {
          ADD_FAILURE() << "len " << len << " offset " << offset << " seed " << seed << ": "
                        << std::hex << got << " != " << want;
        }
      }
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(Crc32Test, ChainsAcrossArbitrarySplits) {
  const auto data = RandomBytes(3 << 20, 11);
  const uint32_t whole = Zlib(0, data.data(), data.size());
  EXPECT_EQ(Crc32(0, data), whole);
  std::mt19937_64 rng(3);
  for (int trial = 0; trial < 20; ++trial) {
    uint32_t crc = 0;
    size_t pos = 0;
    while (pos < data.size()) {
      size_t n = std::min<size_t>(data.size() - pos, rng() % 300000);
      crc = Crc32(crc, absl::MakeConstSpan(data.data() + pos, n));
      pos += n;
    }
    EXPECT_EQ(crc, whole) << "trial " << trial;
  }
}

TEST(Crc32Test, PortablePathIsZlib) {
  const auto data = RandomBytes(10000, 5);
  EXPECT_EQ(Crc32Portable(0x1234, data), Zlib(0x1234, data.data(), data.size()));
  // Not an assertion on the machine, but visible in the test log.
  RecordProperty("accelerated", Crc32IsAccelerated() ? "yes" : "no");
}

}  // namespace
}  // namespace neobert::format
