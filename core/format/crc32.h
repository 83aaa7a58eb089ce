// CRC-32 as ZIP and zlib define it (reflected polynomial 0x04C11DB7, initial
// value and final XOR 0xFFFFFFFF): Crc32(c, a + b) == Crc32(Crc32(c, a), b),
// Crc32(0, "123456789") == 0xCBF43926, and results equal zlib's crc32_z.
//
// Why not zlib alone: every byte of a pytorch_model.bin passes through the
// CRC, and Debian's zlib 1.2.13 runs at ~1.4 GB/s here, which made the CRC
// the largest single CPU cost of writing the file. On x86-64 CPUs with
// PCLMULQDQ the bulk is folded 64 bytes at a time with carry-less multiplies
// (an order of magnitude faster); short inputs, the last < 64 bytes and
// other CPUs use zlib.
#pragma once

#include <cstdint>

#include "absl/types/span.h"

namespace neobert::format {

uint32_t Crc32(uint32_t crc, absl::Span<const uint8_t> data);

// The table-driven path only (zlib), for tests and comparisons.
uint32_t Crc32Portable(uint32_t crc, absl::Span<const uint8_t> data);

// Whether Crc32 uses the carry-less multiply path on this CPU.
bool Crc32IsAccelerated();

}  // namespace neobert::format
