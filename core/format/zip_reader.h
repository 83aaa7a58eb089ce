// Read-only ZIP container over a ByteSource, for torch.save checkpoints.
//
// Byte layout (PKWARE APPNOTE), all integers little-endian:
//   [local file header 0x04034b50][name][extra][data]   ... one per entry
//   [central directory header 0x02014b50][name][extra][comment] ... one per entry
//   [ZIP64 end of central directory record 0x06064b50]   (optional)
//   [ZIP64 end of central directory locator 0x07064b50]  (optional, 20 bytes)
//   [end of central directory record 0x06054b50][comment]  (22 bytes + comment)
//
// The EOCD is searched backwards in the last 64 KiB + 22 bytes. When the
// ZIP64 locator sits right before it, the ZIP64 record's counts and offsets
// are used. Per-entry 32-bit fields saturated at 0xFFFFFFFF take their value
// from the ZIP64 extra field (id 0x0001). Every entry's local header is
// checked at Open (signature, name) and its data offset is computed from the
// LOCAL name/extra lengths, which torch uses to align data.
//
// Only STORED (method 0), unencrypted entries can be read: their bytes are
// exposed as an (offset, size) range inside the source so that tensor data is
// never copied. Compressed entries are listed but refused by StoredRange.
//
// Thread-safety: immutable after Open; safe to share.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/format/byte_source.h"

namespace neobert::format {

struct ZipLimits {
  // Most entries accepted in the central directory.
  uint64_t max_entries = 1'000'000;
  // Longest entry name in bytes.
  uint64_t max_name_bytes = 4096;
  // Largest central directory read into memory.
  uint64_t max_central_directory_bytes = 256ull << 20;
};

struct ZipEntry {
  std::string name;
  uint16_t method = 0;  // 0 = STORED, 8 = DEFLATE, ...
  uint16_t flags = 0;   // general purpose bit flags (bit 0 = encrypted)
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
  uint64_t local_header_offset = 0;
  uint64_t data_offset = 0;  // first byte of the entry's (stored) data
};

// A byte range inside the zip's source.
struct ZipRange {
  uint64_t offset = 0;
  uint64_t size = 0;
};

class ZipReader {
 public:
  // Parses and validates the directory. Errors are INVALID_ARGUMENT and start
  // with the source name, e.g. "<file>: zip: entry 'a/b': ...".
  static absl::StatusOr<std::unique_ptr<ZipReader>> Open(std::shared_ptr<const ByteSource> src,
                                                         const ZipLimits& limits = {});

  // Entries in central-directory order.
  const std::vector<ZipEntry>& entries() const { return entries_; }
  // nullptr when absent.
  const ZipEntry* Find(const std::string& name) const;

  // The data range of a STORED, unencrypted entry. NOT_FOUND when absent;
  // INVALID_ARGUMENT for compressed or encrypted entries.
  absl::StatusOr<ZipRange> StoredRange(const std::string& name) const;

  // Reads a small STORED entry (at most `limit` bytes) and, when
  // `verify_crc`, checks its CRC-32.
  absl::StatusOr<std::vector<uint8_t>> ReadSmall(const std::string& name, uint64_t limit,
                                                 bool verify_crc = true) const;

  const std::shared_ptr<const ByteSource>& source() const { return src_; }
  // True when the archive carried a ZIP64 end-of-central-directory record.
  bool is_zip64() const { return zip64_; }

 private:
  struct Directory;  // where the central directory is (zip_reader.cc)
  explicit ZipReader(std::shared_ptr<const ByteSource> src) : src_(std::move(src)) {}
  // Open's steps, in file order from the end: the end records, the
  // central directory, then each entry's local header.
  absl::StatusOr<Directory> FindDirectory();
  absl::Status ReadZip64End(uint64_t eocd_pos, Directory* dir);
  absl::Status CheckDirectory(const Directory& dir, const ZipLimits& limits) const;
  absl::Status ReadCentralDirectory(const Directory& dir, const ZipLimits& limits);
  absl::Status LocateData(uint64_t data_end, ZipEntry* e, std::vector<uint8_t>* buffer) const;
  absl::Status Error(absl::string_view msg) const;

  std::shared_ptr<const ByteSource> src_;
  std::vector<ZipEntry> entries_;
  std::map<std::string, size_t> by_name_;
  bool zip64_ = false;
};

}  // namespace neobert::format
