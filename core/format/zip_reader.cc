#include "core/format/zip_reader.h"

#include <cstdint>
#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/base/checked_math.h"
#include "core/base/status_macros.h"
#include "core/format/le_cursor.h"
#include "core/format/zip_layout.h"

namespace neobert::format {
namespace {

using namespace zip;  // NOLINT: the record constants shared with the writer

constexpr uint64_t kMaxComment = 0xFFFF;

// The records below are read field by field, in file order, from a cursor
// over bytes whose length the caller has already checked; fields this reader
// does not use are skipped by width.

// End of central directory record (after its signature).
struct Eocd {
  uint16_t disk = 0, cd_disk = 0;
  uint64_t entries_disk = 0, entries_total = 0, cd_size = 0, cd_offset = 0;
};
absl::StatusOr<Eocd> ReadEocd(LeCursor c) {
  Eocd r;
  RETURN_IF_ERROR(c.Skip(4, "signature"));
  ASSIGN_OR_RETURN(r.disk, c.U16("disk number"));
  ASSIGN_OR_RETURN(r.cd_disk, c.U16("central directory disk"));
  ASSIGN_OR_RETURN(r.entries_disk, c.U16("entries on this disk"));
  ASSIGN_OR_RETURN(r.entries_total, c.U16("entries"));
  ASSIGN_OR_RETURN(r.cd_size, c.U32("central directory size"));
  ASSIGN_OR_RETURN(r.cd_offset, c.U32("central directory offset"));
  return r;
}

// ZIP64 end of central directory locator.
struct Zip64Locator {
  uint32_t sig = 0, record_disk = 0, disks = 0;
  uint64_t record_offset = 0;
};
absl::StatusOr<Zip64Locator> ReadZip64Locator(LeCursor c) {
  Zip64Locator r;
  ASSIGN_OR_RETURN(r.sig, c.U32("signature"));
  ASSIGN_OR_RETURN(r.record_disk, c.U32("disk of the ZIP64 record"));
  ASSIGN_OR_RETURN(r.record_offset, c.U64("ZIP64 record offset"));
  ASSIGN_OR_RETURN(r.disks, c.U32("disk count"));
  return r;
}

// ZIP64 end of central directory record (fixed part).
struct Zip64Eocd {
  uint32_t sig = 0, disk = 0, cd_disk = 0;
  uint64_t entries_disk = 0, entries_total = 0, cd_size = 0, cd_offset = 0;
};
absl::StatusOr<Zip64Eocd> ReadZip64Eocd(LeCursor c) {
  Zip64Eocd r;
  ASSIGN_OR_RETURN(r.sig, c.U32("signature"));
  RETURN_IF_ERROR(c.Skip(8 + 2 + 2, "record size and versions"));
  ASSIGN_OR_RETURN(r.disk, c.U32("disk number"));
  ASSIGN_OR_RETURN(r.cd_disk, c.U32("central directory disk"));
  ASSIGN_OR_RETURN(r.entries_disk, c.U64("entries on this disk"));
  ASSIGN_OR_RETURN(r.entries_total, c.U64("entries"));
  ASSIGN_OR_RETURN(r.cd_size, c.U64("central directory size"));
  ASSIGN_OR_RETURN(r.cd_offset, c.U64("central directory offset"));
  return r;
}

// Central directory header (fixed part); the name, extra field and comment
// follow it.
struct CentralHeader {
  uint32_t sig = 0, crc32 = 0, compressed_size = 0, uncompressed_size = 0, local_offset = 0;
  uint16_t flags = 0, method = 0, name_len = 0, extra_len = 0, comment_len = 0, disk = 0;
};
absl::StatusOr<CentralHeader> ReadCentralHeader(LeCursor& c) {
  CentralHeader h;
  ASSIGN_OR_RETURN(h.sig, c.U32("signature"));
  RETURN_IF_ERROR(c.Skip(2 + 2, "versions"));
  ASSIGN_OR_RETURN(h.flags, c.U16("flags"));
  ASSIGN_OR_RETURN(h.method, c.U16("method"));
  RETURN_IF_ERROR(c.Skip(2 + 2, "time and date"));
  ASSIGN_OR_RETURN(h.crc32, c.U32("CRC-32"));
  ASSIGN_OR_RETURN(h.compressed_size, c.U32("compressed size"));
  ASSIGN_OR_RETURN(h.uncompressed_size, c.U32("size"));
  ASSIGN_OR_RETURN(h.name_len, c.U16("name length"));
  ASSIGN_OR_RETURN(h.extra_len, c.U16("extra field length"));
  ASSIGN_OR_RETURN(h.comment_len, c.U16("comment length"));
  ASSIGN_OR_RETURN(h.disk, c.U16("disk number"));
  RETURN_IF_ERROR(c.Skip(2 + 4, "file attributes"));
  ASSIGN_OR_RETURN(h.local_offset, c.U32("local header offset"));
  return h;
}

// Local file header (fixed part); the name and extra field follow it.
struct LocalHeader {
  uint32_t sig = 0;
  uint16_t name_len = 0, extra_len = 0;
};
absl::StatusOr<LocalHeader> ReadLocalHeader(LeCursor& c) {
  LocalHeader h;
  ASSIGN_OR_RETURN(h.sig, c.U32("signature"));
  RETURN_IF_ERROR(c.Skip(2 + 2 + 2 + 2 + 2 + 4 + 4 + 4, "versions to sizes"));
  ASSIGN_OR_RETURN(h.name_len, c.U16("name length"));
  ASSIGN_OR_RETURN(h.extra_len, c.U16("extra field length"));
  return h;
}

// Resolves the saturated 32-bit fields of a central header from its ZIP64
// extra field, which lists only the saturated values, in this order.
absl::Status ApplyZip64Extra(absl::Span<const uint8_t> extra, const CentralHeader& h,
                             ZipEntry* e) {
  LeCursor c(extra);
  while (c.remaining() >= 4) {
    ASSIGN_OR_RETURN(const uint16_t id, c.U16("extra field id"));
    ASSIGN_OR_RETURN(const uint16_t size, c.U16("extra field size"));
    if (size > c.remaining()) {
      return absl::InvalidArgumentError("extra field runs past its declared length");
    }
    if (id != kZip64ExtraId) {
      RETURN_IF_ERROR(c.Skip(size, "extra field"));
      continue;
    }
    LeCursor z(c.rest().first(size));
    const auto too_short = [] { return "ZIP64 extra field is too short"; };
    if (h.uncompressed_size == kSaturated32) {
      ASSIGN_OR_RETURN(e->uncompressed_size, z.U64("size"), too_short());
    }
    if (h.compressed_size == kSaturated32) {
      ASSIGN_OR_RETURN(e->compressed_size, z.U64("compressed size"), too_short());
    }
    if (h.local_offset == kSaturated32) {
      ASSIGN_OR_RETURN(e->local_header_offset, z.U64("local header offset"), too_short());
    }
    if (h.disk == kSaturated16) {
      ASSIGN_OR_RETURN(const uint32_t disk, z.U32("disk number"), too_short());
      if (disk != 0) {
        return absl::InvalidArgumentError(
            "entry starts on another disk (multi-disk archives are not supported)");
      }
    }
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      "32-bit size/offset fields are saturated but there is no ZIP64 extra field");
}

}  // namespace

// Where the central directory lies and how many entries it holds, from the
// end records.
struct ZipReader::Directory {
  uint64_t entries_disk = 0;
  uint64_t entries = 0;
  uint64_t size = 0;
  uint64_t offset = 0;
  uint64_t limit = 0;  // the directory must end by this offset
};

absl::Status ZipReader::Error(absl::string_view msg) const {
  return absl::InvalidArgumentError(absl::StrCat(src_->name(), ": zip: ", msg));
}

absl::StatusOr<std::unique_ptr<ZipReader>> ZipReader::Open(std::shared_ptr<const ByteSource> src,
                                                           const ZipLimits& limits) {
  if (!src) return absl::InvalidArgumentError("zip: no source");
  std::unique_ptr<ZipReader> r(new ZipReader(std::move(src)));
  ASSIGN_OR_RETURN(const Directory dir, r->FindDirectory());
  RETURN_IF_ERROR(r->CheckDirectory(dir, limits));
  RETURN_IF_ERROR(r->ReadCentralDirectory(dir, limits));
  std::vector<uint8_t> buffer;
  for (ZipEntry& e : r->entries_) RETURN_IF_ERROR(r->LocateData(dir.offset, &e, &buffer));
  return r;
}

absl::StatusOr<ZipReader::Directory> ZipReader::FindDirectory() {
  const uint64_t size = src_->size();
  if (size < kEocdSize) {
    return Error(absl::StrCat("no end of central directory record (file is only ", size,
                              " bytes; not a zip file)"));
  }
  // The last signature whose comment length reaches exactly to the end of
  // the file.
  const uint64_t tail_len = std::min<uint64_t>(size, kEocdSize + kMaxComment);
  const uint64_t tail_start = size - tail_len;
  std::vector<uint8_t> tail(tail_len);
  RETURN_IF_ERROR(src_->ReadAt(tail_start, absl::MakeSpan(tail)));
  uint64_t eocd_rel = UINT64_MAX;
  for (uint64_t i = tail_len - kEocdSize + 1; i-- > 0;) {
    if (LeCursor::LoadLe(&tail[i], 4) == kEocdSig &&
        i + kEocdSize + LeCursor::LoadLe(&tail[i + 20], 2) == tail_len) {
      eocd_rel = i;
      break;
    }
  }
  if (eocd_rel == UINT64_MAX) {
    return Error("no end of central directory record in the last 64 KiB (not a zip file?)");
  }
  ASSIGN_OR_RETURN(const Eocd eocd,
                   ReadEocd(LeCursor(absl::MakeConstSpan(tail).subspan(eocd_rel, kEocdSize))),
                   src_->name(), ": zip: end of central directory");
  if (eocd.disk != 0 || eocd.cd_disk != 0) return Error("multi-disk archives are not supported");
  const uint64_t eocd_pos = tail_start + eocd_rel;
  Directory dir{eocd.entries_disk, eocd.entries_total, eocd.cd_size, eocd.cd_offset, eocd_pos};
  if (eocd_pos >= kZip64LocatorSize) RETURN_IF_ERROR(ReadZip64End(eocd_pos, &dir));
  return dir;
}

absl::Status ZipReader::ReadZip64End(uint64_t eocd_pos, Directory* dir) {
  // A ZIP64 locator directly before the EOCD points at the ZIP64 record.
  const uint64_t locator_pos = eocd_pos - kZip64LocatorSize;
  uint8_t loc_bytes[kZip64LocatorSize];
  RETURN_IF_ERROR(src_->ReadAt(locator_pos, absl::MakeSpan(loc_bytes)));
  ASSIGN_OR_RETURN(const Zip64Locator loc, ReadZip64Locator(LeCursor(loc_bytes)),
                   src_->name(), ": zip: ZIP64 locator");
  if (loc.sig != kZip64LocatorSig) return absl::OkStatus();
  zip64_ = true;
  if (loc.record_disk != 0 || loc.disks > 1) {
    return Error("multi-disk ZIP64 archives are not supported");
  }
  if (!base::RangeInside(loc.record_offset, kZip64EocdSize, locator_pos)) {
    return Error(absl::StrCat("ZIP64 end of central directory offset ", loc.record_offset,
                              " lies outside the file"));
  }
  uint8_t rec_bytes[kZip64EocdSize];
  RETURN_IF_ERROR(src_->ReadAt(loc.record_offset, absl::MakeSpan(rec_bytes)));
  ASSIGN_OR_RETURN(const Zip64Eocd rec, ReadZip64Eocd(LeCursor(rec_bytes)), src_->name(),
                   ": zip: ZIP64 end of central directory");
  if (rec.sig != kZip64EocdSig) {
    return Error(absl::StrCat("bad ZIP64 end of central directory signature at offset ",
                              loc.record_offset));
  }
  if (rec.disk != 0 || rec.cd_disk != 0) {
    return Error("multi-disk ZIP64 archives are not supported");
  }
  *dir = Directory{rec.entries_disk, rec.entries_total, rec.cd_size, rec.cd_offset,
                   loc.record_offset};
  return absl::OkStatus();
}

absl::Status ZipReader::CheckDirectory(const Directory& dir, const ZipLimits& limits) const {
  if (dir.entries_disk != dir.entries) return Error("multi-disk archives are not supported");
  if (dir.entries > limits.max_entries) {
    return Error(absl::StrCat("central directory claims ", dir.entries, " entries (limit ",
                              limits.max_entries, ")"));
  }
  if (!base::RangeInside(dir.offset, dir.size, dir.limit)) {
    return Error(absl::StrCat("central directory [", dir.offset, ", +", dir.size,
                              ") lies outside the file (it must end by offset ", dir.limit, ")"));
  }
  if (dir.size > limits.max_central_directory_bytes) {
    return Error(absl::StrCat("central directory of ", dir.size, " bytes exceeds the limit of ",
                              limits.max_central_directory_bytes));
  }
  if (dir.entries > dir.size / kCentralSize) {
    return Error(absl::StrCat("central directory of ", dir.size, " bytes cannot hold ",
                              dir.entries, " entries"));
  }
  return absl::OkStatus();
}

absl::Status ZipReader::ReadCentralDirectory(const Directory& dir, const ZipLimits& limits) {
  std::vector<uint8_t> bytes(dir.size);
  RETURN_IF_ERROR(src_->ReadAt(dir.offset, absl::MakeSpan(bytes)));
  LeCursor cd(bytes);
  entries_.reserve(dir.entries);
  for (uint64_t i = 0; i < dir.entries; ++i) {
    const uint64_t at = dir.offset + cd.position();
    if (cd.remaining() < kCentralSize) {
      return Error(absl::StrCat("central directory entry ", i, " is truncated"));
    }
    ASSIGN_OR_RETURN(const CentralHeader h, ReadCentralHeader(cd), src_->name(),
                     ": zip: central directory entry ", i);
    if (h.sig != kCentralSig) {
      return Error(absl::StrCat("bad central directory signature for entry ", i, " at offset ",
                                at));
    }
    if (h.name_len > limits.max_name_bytes) {
      return Error(absl::StrCat("entry ", i, ": name of ", h.name_len,
                                " bytes exceeds the limit of ", limits.max_name_bytes));
    }
    if (cd.remaining() < uint64_t{h.name_len} + h.extra_len + h.comment_len) {
      return Error(absl::StrCat("central directory entry ", i, " runs past the directory"));
    }
    ZipEntry e;
    ASSIGN_OR_RETURN(const auto name, cd.Take(h.name_len, "name"));
    ASSIGN_OR_RETURN(const auto extra, cd.Take(h.extra_len, "extra field"));
    RETURN_IF_ERROR(cd.Skip(h.comment_len, "comment"));
    e.name.assign(reinterpret_cast<const char*>(name.data()), name.size());
    e.flags = h.flags;
    e.method = h.method;
    e.crc32 = h.crc32;
    e.compressed_size = h.compressed_size;
    e.uncompressed_size = h.uncompressed_size;
    e.local_header_offset = h.local_offset;
    if (h.uncompressed_size == kSaturated32 || h.compressed_size == kSaturated32 ||
        h.local_offset == kSaturated32 || h.disk == kSaturated16) {
      RETURN_IF_ERROR(ApplyZip64Extra(extra, h, &e), src_->name(), ": zip: entry '", e.name, "'");
    } else if (h.disk != 0) {
      return Error(absl::StrCat("entry '", e.name,
                                "' starts on another disk (multi-disk archives are not supported)"));
    }
    if (!by_name_.emplace(e.name, entries_.size()).second) {
      return Error(absl::StrCat("duplicate entry name '", e.name, "'"));
    }
    entries_.push_back(std::move(e));
  }
  if (!cd.done()) {
    return Error(absl::StrCat("central directory has ", cd.remaining(),
                              " unexpected trailing bytes"));
  }
  return absl::OkStatus();
}

absl::Status ZipReader::LocateData(uint64_t data_end, ZipEntry* e,
                                   std::vector<uint8_t>* buffer) const {
  // The data starts after the LOCAL name and extra field (torch pads the
  // local extra field to align tensor data; the central one does not say so).
  const uint64_t need = kLocalSize + e->name.size();
  if (!base::RangeInside(e->local_header_offset, need, data_end)) {
    return Error(absl::StrCat("entry '", e->name, "': local header at offset ",
                              e->local_header_offset,
                              " lies outside the data area (which ends at offset ", data_end,
                              ")"));
  }
  buffer->resize(need);
  RETURN_IF_ERROR(src_->ReadAt(e->local_header_offset, absl::MakeSpan(*buffer)));
  LeCursor c(*buffer);
  ASSIGN_OR_RETURN(const LocalHeader h, ReadLocalHeader(c), src_->name(), ": zip: entry '",
                   e->name, "': local header");
  if (h.sig != kLocalSig) {
    return Error(absl::StrCat("entry '", e->name, "': bad local header signature at offset ",
                              e->local_header_offset));
  }
  const absl::Span<const uint8_t> name = c.rest();
  if (h.name_len != e->name.size() ||
      std::memcmp(name.data(), e->name.data(), e->name.size()) != 0) {
    return Error(absl::StrCat("entry '", e->name,
                              "': local header name does not match the central directory"));
  }
  e->data_offset = e->local_header_offset + kLocalSize + h.name_len + h.extra_len;
  if (!base::RangeInside(e->data_offset, e->compressed_size, data_end)) {
    return Error(absl::StrCat("entry '", e->name, "': data [", e->data_offset, ", +",
                              e->compressed_size,
                              ") lies outside the data area (which ends at offset ", data_end,
                              ")"));
  }
  return absl::OkStatus();
}
const ZipEntry* ZipReader::Find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

absl::StatusOr<ZipRange> ZipReader::StoredRange(const std::string& name) const {
  const ZipEntry* e = Find(name);
  if (e == nullptr) {
    return absl::NotFoundError(absl::StrCat(src_->name(), ": zip: no entry '", name, "'"));
  }
  if (e->flags & 1) return Error(absl::StrCat("entry '", name, "' is encrypted"));
  if (e->method != 0) {
    return Error(absl::StrCat("entry '", name, "' is compressed (method ", e->method,
                              "); only STORED entries can be read"));
  }
  if (e->compressed_size != e->uncompressed_size) {
    return Error(absl::StrCat("entry '", name, "' is STORED but its compressed size (",
                              e->compressed_size, ") differs from its size (",
                              e->uncompressed_size, ")"));
  }
  return ZipRange{e->data_offset, e->uncompressed_size};
}

absl::StatusOr<std::vector<uint8_t>> ZipReader::ReadSmall(const std::string& name,
                                                          uint64_t limit, bool verify_crc) const {
  ASSIGN_OR_RETURN(const ZipRange range, StoredRange(name));
  if (range.size > limit) {
    return Error(absl::StrCat("entry '", name, "' has ", range.size,
                              " bytes, more than the limit of ", limit));
  }
  std::vector<uint8_t> out(range.size);
  RETURN_IF_ERROR(src_->ReadAt(range.offset, absl::MakeSpan(out)));
  if (verify_crc) {
    // zlib's crc32 takes uInt lengths; feed it in bounded pieces.
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t done = 0; done < out.size();) {
      const size_t n = std::min<size_t>(out.size() - done, 1u << 30);
      crc = crc32(crc, out.data() + done, static_cast<uInt>(n));
      done += n;
    }
    if (static_cast<uint32_t>(crc) != Find(name)->crc32) {
      return Error(absl::StrCat("entry '", name, "': CRC-32 mismatch"));
    }
  }
  return out;
}

}  // namespace neobert::format
