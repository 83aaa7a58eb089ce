// Streaming writer for uncompressed (STORED) ZIP archives, the container of
// torch.save files.
//
// Layout written, all integers little-endian:
//   per entry:   local header  "PK\3\4" ver flags method=0 time date crc32
//                              csize usize name_len extra_len name extra
//                extra:        [0x0001 ZIP64 usize csize] (only when the size
//                              needs it, or force_zip64) then 0x4246 "FB"
//                              padding of 'Z' bytes so that the data starts at
//                              a multiple of `alignment` (as torch.save does)
//                data          the entry's bytes
//   central dir: "PK\1\2" per entry; ZIP64 extra (0x0001) holding exactly the
//                fields whose 32-bit slot is 0xFFFFFFFF, in the order usize,
//                csize, local header offset
//   [ZIP64 end of central directory record "PK\6\6" + locator "PK\6\7"]
//                when the entry count, central directory size or offset
//                overflow the classic fields, or force_zip64
//   end of central directory "PK\5\6"
//
// Entry data is streamed: the local header is written with a zero CRC, the
// CRC-32 is computed while the data passes through, and the header is patched
// in place at EndEntry, so no entry is ever held in memory. The CRC is
// crc32.h's (carry-less multiply where available): it touches every byte. Sizes are declared
// up front (BeginEntry) so that the local header knows whether it needs ZIP64.
// CopyEntry is the exception: for bytes whose CRC-32 is already known (a
// torch checkpoint's record copied whole) the header carries that CRC, the
// kernel copies the bytes, and they are never read here; the CRC is trusted,
// not checked (a corrupt source record then stays detectable in the output,
// whose CRC no longer matches its bytes).
//
// Not thread-safe. After any error the writer is poisoned: every later call
// fails. A writer destroyed before a successful Finish() deletes its file.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/format/byte_source.h"

namespace neobert::format {

struct ZipWriterOptions {
  // Where the archive is created (default: the whole file system).
  base::FsRoot root;
  // Entry data starts at a multiple of this many bytes; a power of two in
  // [1, 4096]. torch.save aligns to 64.
  uint64_t alignment = 64;
  // Write ZIP64 records even when sizes fit in 32 bits (tests the ZIP64 path
  // without multi-gigabyte files).
  bool force_zip64 = false;
  // fsync before closing in Finish().
  bool sync = true;
  // Submit written bytes for writeback as they are written (OutputFile's
  // writeback mode), so the disk works while we write; for callers that fsync.
  bool writeback = false;
  // Compute the archive's SHA-256 while writing (OutputFile's hash mode);
  // sha256() has it after Finish unless an entry's header had to be patched
  // (streamed data whose CRC differs from the one given to BeginEntry).
  bool hash = false;
};

class ZipWriter {
 public:
  // Creates (truncating) `path`.
  static absl::StatusOr<std::unique_ptr<ZipWriter>> Create(const std::string& path,
                                                           const ZipWriterOptions& options = {});
  ~ZipWriter();
  ZipWriter(const ZipWriter&) = delete;
  ZipWriter& operator=(const ZipWriter&) = delete;

  // Writes a whole small entry.
  absl::Status AddEntry(const std::string& name, absl::Span<const uint8_t> data);
  absl::Status AddEntry(const std::string& name, absl::string_view data);

  // Starts an entry of exactly `size` bytes, to be supplied by WriteData calls
  // and closed by EndEntry (which fails if a different amount was written).
  // `header_crc` goes into the local header: 0 when the CRC is not known yet
  // (EndEntry then patches the header), or the CRC the data will have, so
  // that the header is never patched (hash mode keeps its digest).
  absl::Status BeginEntry(const std::string& name, uint64_t size, uint32_t header_crc = 0);
  absl::Status WriteData(absl::Span<const uint8_t> data);
  // Appends bytes [offset, offset + n) of `src` to the entry. They are read
  // in cache-sized pieces for the CRC and, when `src` is a file, copied by
  // the kernel (copy_file_range) while still cached, instead of being
  // written back from user space.
  absl::Status CopyData(const ByteSource& src, uint64_t offset, uint64_t n);
  absl::Status EndEntry();

  // Writes a whole entry `name` holding bytes [offset, offset + n) of `src`,
  // whose CRC-32 the caller knows to be `crc` (e.g. recorded by the zip the
  // bytes come from). The bytes are copied by the kernel (copy_file_range)
  // when `src` has a descriptor and are not read or checked here. Fails if
  // the copy does not cover exactly the n declared bytes.
  absl::Status CopyEntry(const std::string& name, const ByteSource& src, uint64_t offset,
                         uint64_t n, uint32_t crc);

  // Writes the central directory and end records, then closes the file.
  absl::Status Finish();

  // After Finish with ZipWriterOptions::hash: the hex SHA-256 of the file,
  // or "" when it could not be computed while writing (see the option).
  std::string sha256() const;

  // Bytes written so far.
  uint64_t position() const;
  const std::string& path() const { return path_; }

 private:
  struct Entry {
    std::string name;
    uint64_t header_offset = 0;
    uint64_t size = 0;
    uint32_t crc = 0;
    bool zip64_local = false;  // local header carries a ZIP64 extra field
  };

  ZipWriter(std::string path, std::unique_ptr<OutputFile> out, const ZipWriterOptions& options)
      : path_(std::move(path)), out_(std::move(out)), options_(options) {}
  // OUT_OF_RANGE (and poisoned) unless [offset, offset + n) lies in `src`.
  absl::Status CheckSourceRange(const ByteSource& src, uint64_t offset, uint64_t n);
  absl::Status Poison(absl::Status s);
  absl::Status Ready() const;
  absl::Status WriteCentralDirectory();

  std::string path_;
  std::unique_ptr<OutputFile> out_;
  ZipWriterOptions options_;
  std::vector<Entry> entries_;
  std::set<std::string> names_;
  bool in_entry_ = false;
  uint64_t entry_written_ = 0;
  uint32_t entry_crc_ = 0;
  uint32_t entry_header_crc_ = 0;  // the CRC the local header holds now
  std::vector<uint8_t> copy_buffer_;  // CopyData's read buffer, kept across entries
  bool finished_ = false;
  absl::Status error_;
};

}  // namespace neobert::format
