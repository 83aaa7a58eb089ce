#include "core/format/zip_reader.h"

#include <cstdint>
#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace neobert::format {
namespace {

constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEocdSig = 0x06054b50;
constexpr uint32_t kZip64EocdSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint64_t kEocdSize = 22;
constexpr uint64_t kZip64LocatorSize = 20;
constexpr uint64_t kZip64EocdSize = 56;  // fixed part
constexpr uint64_t kCentralSize = 46;
constexpr uint64_t kLocalSize = 30;
constexpr uint64_t kMaxComment = 0xFFFF;
constexpr uint16_t kZip64ExtraId = 0x0001;

uint16_t Le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t Le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
uint64_t Le64(const uint8_t* p) {
  return static_cast<uint64_t>(Le32(p)) | (static_cast<uint64_t>(Le32(p + 4)) << 32);
}

// True when [offset, offset + n) lies inside [0, limit).
bool Inside(uint64_t offset, uint64_t n, uint64_t limit) {
  return offset <= limit && n <= limit - offset;
}

// Resolves the saturated 32-bit fields of a central header from its ZIP64
// extra field. The extra field lists only the saturated values, in this order.
bool ApplyZip64Extra(const uint8_t* extra, size_t len, bool need_usize, bool need_csize,
                     bool need_offset, bool need_disk, ZipEntry* e, std::string* why) {
  size_t pos = 0;
  while (pos + 4 <= len) {
    const uint16_t id = Le16(extra + pos);
    const uint16_t size = Le16(extra + pos + 2);
    pos += 4;
    if (size > len - pos) {
      *why = "extra field runs past its declared length";
      return false;
    }
    if (id == kZip64ExtraId) {
      const uint8_t* p = extra + pos;
      size_t left = size;
      auto take = [&](uint64_t* out) {
        if (left < 8) return false;
        *out = Le64(p);
        p += 8;
        left -= 8;
        return true;
      };
      uint64_t disk = 0;
      if ((need_usize && !take(&e->uncompressed_size)) ||
          (need_csize && !take(&e->compressed_size)) ||
          (need_offset && !take(&e->local_header_offset))) {
        *why = "ZIP64 extra field is too short";
        return false;
      }
      if (need_disk) {
        if (left < 4) {
          *why = "ZIP64 extra field is too short";
          return false;
        }
        disk = Le32(p);
      }
      if (disk != 0) {
        *why = "entry starts on another disk (multi-disk archives are not supported)";
        return false;
      }
      return true;
    }
    pos += size;
  }
  *why = "32-bit size/offset fields are saturated but there is no ZIP64 extra field";
  return false;
}

}  // namespace

absl::Status ZipReader::Error(absl::string_view msg) const {
  return absl::InvalidArgumentError(absl::StrCat(src_->name(), ": zip: ", msg));
}

absl::StatusOr<std::unique_ptr<ZipReader>> ZipReader::Open(std::shared_ptr<const ByteSource> src,
                                                           const ZipLimits& limits) {
  if (!src) return absl::InvalidArgumentError("zip: no source");
  std::unique_ptr<ZipReader> r(new ZipReader(std::move(src)));
  if (auto s = r->Parse(limits); !s.ok()) return s;
  return r;
}

absl::Status ZipReader::Parse(const ZipLimits& limits) {
  const uint64_t size = src_->size();
  if (size < kEocdSize) {
    return Error(absl::StrCat("no end of central directory record (file is only ", size,
                              " bytes; not a zip file)"));
  }
  // --- End of central directory: the last signature whose comment length
  // reaches exactly to the end of the file.
  const uint64_t tail_len = std::min<uint64_t>(size, kEocdSize + kMaxComment);
  const uint64_t tail_start = size - tail_len;
  std::vector<uint8_t> tail(tail_len);
  if (auto s = src_->ReadAt(tail_start, absl::MakeSpan(tail)); !s.ok()) return s;
  uint64_t eocd_rel = UINT64_MAX;
  for (uint64_t i = tail_len - kEocdSize + 1; i-- > 0;) {
    if (Le32(&tail[i]) == kEocdSig && i + kEocdSize + Le16(&tail[i + 20]) == tail_len) {
      eocd_rel = i;
      break;
    }
  }
  if (eocd_rel == UINT64_MAX) {
    return Error("no end of central directory record in the last 64 KiB (not a zip file?)");
  }
  const uint8_t* eocd = &tail[eocd_rel];
  const uint64_t eocd_pos = tail_start + eocd_rel;
  if (Le16(eocd + 4) != 0 || Le16(eocd + 6) != 0) {
    return Error("multi-disk archives are not supported");
  }
  uint64_t entries_disk = Le16(eocd + 8);
  uint64_t entries_total = Le16(eocd + 10);
  uint64_t cd_size = Le32(eocd + 12);
  uint64_t cd_offset = Le32(eocd + 16);
  uint64_t cd_limit = eocd_pos;  // the central directory ends before this

  // --- ZIP64 locator directly before the EOCD, pointing at the ZIP64 record.
  if (eocd_pos >= kZip64LocatorSize) {
    uint8_t loc[kZip64LocatorSize];
    if (auto s = src_->ReadAt(eocd_pos - kZip64LocatorSize, absl::MakeSpan(loc)); !s.ok()) {
      return s;
    }
    if (Le32(loc) == kZip64LocatorSig) {
      zip64_ = true;
      const uint64_t rec_pos = Le64(loc + 8);
      if (Le32(loc + 4) != 0 || Le32(loc + 16) > 1) {
        return Error("multi-disk ZIP64 archives are not supported");
      }
      const uint64_t locator_pos = eocd_pos - kZip64LocatorSize;
      if (!Inside(rec_pos, kZip64EocdSize, locator_pos)) {
        return Error(absl::StrCat("ZIP64 end of central directory offset ", rec_pos,
                                  " lies outside the file"));
      }
      uint8_t rec[kZip64EocdSize];
      if (auto s = src_->ReadAt(rec_pos, absl::MakeSpan(rec)); !s.ok()) return s;
      if (Le32(rec) != kZip64EocdSig) {
        return Error(absl::StrCat("bad ZIP64 end of central directory signature at offset ",
                                  rec_pos));
      }
      if (Le32(rec + 16) != 0 || Le32(rec + 20) != 0) {
        return Error("multi-disk ZIP64 archives are not supported");
      }
      entries_disk = Le64(rec + 24);
      entries_total = Le64(rec + 32);
      cd_size = Le64(rec + 40);
      cd_offset = Le64(rec + 48);
      cd_limit = rec_pos;
    }
  }
  if (entries_disk != entries_total) return Error("multi-disk archives are not supported");
  if (entries_total > limits.max_entries) {
    return Error(absl::StrCat("central directory claims ", entries_total,
                              " entries (limit ", limits.max_entries, ")"));
  }
  if (!Inside(cd_offset, cd_size, cd_limit)) {
    return Error(absl::StrCat("central directory [", cd_offset, ", +", cd_size,
                              ") lies outside the file (it must end by offset ", cd_limit, ")"));
  }
  if (cd_size > limits.max_central_directory_bytes) {
    return Error(absl::StrCat("central directory of ", cd_size, " bytes exceeds the limit of ",
                              limits.max_central_directory_bytes));
  }
  if (entries_total > cd_size / kCentralSize) {
    return Error(absl::StrCat("central directory of ", cd_size, " bytes cannot hold ",
                              entries_total, " entries"));
  }

  // --- Central directory.
  std::vector<uint8_t> cd(cd_size);
  if (auto s = src_->ReadAt(cd_offset, absl::MakeSpan(cd)); !s.ok()) return s;
  entries_.reserve(entries_total);
  uint64_t pos = 0;
  for (uint64_t i = 0; i < entries_total; ++i) {
    if (cd_size - pos < kCentralSize) {
      return Error(absl::StrCat("central directory entry ", i, " is truncated"));
    }
    const uint8_t* h = &cd[pos];
    if (Le32(h) != kCentralSig) {
      return Error(absl::StrCat("bad central directory signature for entry ", i, " at offset ",
                                cd_offset + pos));
    }
    const uint64_t name_len = Le16(h + 28);
    const uint64_t extra_len = Le16(h + 30);
    const uint64_t comment_len = Le16(h + 32);
    if (name_len > limits.max_name_bytes) {
      return Error(absl::StrCat("entry ", i, ": name of ", name_len,
                                " bytes exceeds the limit of ", limits.max_name_bytes));
    }
    if (cd_size - pos - kCentralSize < name_len + extra_len + comment_len) {
      return Error(absl::StrCat("central directory entry ", i, " runs past the directory"));
    }
    ZipEntry e;
    e.name.assign(reinterpret_cast<const char*>(h + kCentralSize), name_len);
    e.flags = Le16(h + 8);
    e.method = Le16(h + 10);
    e.crc32 = Le32(h + 16);
    e.compressed_size = Le32(h + 20);
    e.uncompressed_size = Le32(h + 24);
    e.local_header_offset = Le32(h + 42);
    const uint16_t disk = Le16(h + 34);
    const bool need_usize = e.uncompressed_size == 0xFFFFFFFFu;
    const bool need_csize = e.compressed_size == 0xFFFFFFFFu;
    const bool need_offset = e.local_header_offset == 0xFFFFFFFFu;
    const bool need_disk = disk == 0xFFFF;
    if (need_usize || need_csize || need_offset || need_disk) {
      std::string why;
      if (!ApplyZip64Extra(h + kCentralSize + name_len, extra_len, need_usize, need_csize,
                           need_offset, need_disk, &e, &why)) {
        return Error(absl::StrCat("entry '", e.name, "': ", why));
      }
    } else if (disk != 0) {
      return Error(absl::StrCat("entry '", e.name,
                                "' starts on another disk (multi-disk archives are not supported)"));
    }
    pos += kCentralSize + name_len + extra_len + comment_len;
    if (!by_name_.emplace(e.name, entries_.size()).second) {
      return Error(absl::StrCat("duplicate entry name '", e.name, "'"));
    }
    entries_.push_back(std::move(e));
  }
  if (pos != cd_size) {
    return Error(absl::StrCat("central directory has ", cd_size - pos,
                              " unexpected trailing bytes"));
  }

  // --- Local headers: the data starts after the LOCAL name and extra field.
  std::vector<uint8_t> local;
  for (ZipEntry& e : entries_) {
    const uint64_t need = kLocalSize + e.name.size();
    if (!Inside(e.local_header_offset, need, cd_offset)) {
      return Error(absl::StrCat("entry '", e.name, "': local header at offset ",
                                e.local_header_offset,
                                " lies outside the data area (which ends at offset ", cd_offset,
                                ")"));
    }
    local.resize(need);
    if (auto s = src_->ReadAt(e.local_header_offset, absl::MakeSpan(local)); !s.ok()) return s;
    if (Le32(local.data()) != kLocalSig) {
      return Error(absl::StrCat("entry '", e.name, "': bad local header signature at offset ",
                                e.local_header_offset));
    }
    const uint64_t lname = Le16(&local[26]);
    const uint64_t lextra = Le16(&local[28]);
    if (lname != e.name.size() ||
        std::memcmp(&local[kLocalSize], e.name.data(), e.name.size()) != 0) {
      return Error(absl::StrCat("entry '", e.name,
                                "': local header name does not match the central directory"));
    }
    e.data_offset = e.local_header_offset + kLocalSize + lname + lextra;
    if (!Inside(e.data_offset, e.compressed_size, cd_offset)) {
      return Error(absl::StrCat("entry '", e.name, "': data [", e.data_offset, ", +",
                                e.compressed_size,
                                ") lies outside the data area (which ends at offset ", cd_offset,
                                ")"));
    }
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
  auto range = StoredRange(name);
  if (!range.ok()) return range.status();
  if (range->size > limit) {
    return Error(absl::StrCat("entry '", name, "' has ", range->size,
                              " bytes, more than the limit of ", limit));
  }
  std::vector<uint8_t> out(range->size);
  if (auto s = src_->ReadAt(range->offset, absl::MakeSpan(out)); !s.ok()) return s;
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
