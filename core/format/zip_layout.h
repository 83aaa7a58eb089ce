// The ZIP record constants that the reader (zip_reader.cc) and the writer
// (zip_writer.cc) share; zip_reader.h describes the layout. Internal to
// core/format.
#pragma once

#include <cstdint>

namespace neobert::format::zip {

inline constexpr uint32_t kLocalSig = 0x04034b50;
inline constexpr uint32_t kCentralSig = 0x02014b50;
inline constexpr uint32_t kEocdSig = 0x06054b50;
inline constexpr uint32_t kZip64EocdSig = 0x06064b50;
inline constexpr uint32_t kZip64LocatorSig = 0x07064b50;

// Fixed parts of the records, in bytes (names, extra fields and comments
// follow them).
inline constexpr uint64_t kLocalSize = 30;
inline constexpr uint64_t kCentralSize = 46;
inline constexpr uint64_t kEocdSize = 22;
inline constexpr uint64_t kZip64EocdSize = 56;
inline constexpr uint64_t kZip64LocatorSize = 20;

// Extra field id of the ZIP64 sizes and offsets.
inline constexpr uint16_t kZip64ExtraId = 0x0001;
// A 32-bit (16-bit) field holding this value takes its real value from the
// ZIP64 extra field (record).
inline constexpr uint32_t kSaturated32 = 0xFFFFFFFFu;
inline constexpr uint16_t kSaturated16 = 0xFFFF;

}  // namespace neobert::format::zip
