// Streaming STORED-only ZIP writer; the layout is described in zip_writer.h.
#include "core/format/zip_writer.h"

#include <cstdint>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/format/crc32.h"
#include "core/format/zip_layout.h"

namespace neobert::format {
namespace {

using namespace zip;  // NOLINT: the record constants shared with the reader

constexpr uint16_t kPaddingExtraId = 0x4246;  // "FB", torch.save's alignment padding
constexpr uint16_t kVersion20 = 20;  // stored entries
constexpr uint16_t kVersion45 = 45;  // ZIP64
constexpr uint16_t kFlagUtf8 = 0x0800;
// 1980-01-01 00:00 in MS-DOS format: fixed so that equal inputs give equal files.
constexpr uint16_t kDosTime = 0;
constexpr uint16_t kDosDate = (1 << 5) | 1;
constexpr size_t kCrcOffsetInLocal = 14;

// Little-endian record builder.
class Bytes {
 public:
  Bytes& u16(uint16_t v) { return Le(v, 2); }
  Bytes& u32(uint32_t v) { return Le(v, 4); }
  Bytes& u64(uint64_t v) { return Le(v, 8); }
  Bytes& str(absl::string_view s) {
    b_.insert(b_.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& fill(size_t n, uint8_t c) {
    b_.insert(b_.end(), n, c);
    return *this;
  }
  Bytes& append(const Bytes& o) {
    b_.insert(b_.end(), o.b_.begin(), o.b_.end());
    return *this;
  }
  size_t size() const { return b_.size(); }
  absl::Span<const uint8_t> span() const { return b_; }

 private:
  Bytes& Le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b_.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  std::vector<uint8_t> b_;
};

// CopyData piece size: small enough to stay in cache between the read, the
// CRC and the kernel's copy, large enough to keep syscalls cheap.
constexpr size_t kCopyPiece = 1 << 20;

uint16_t Flags(const std::string& name) {
  bool ascii = std::all_of(name.begin(), name.end(),
                           [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  return ascii ? 0 : kFlagUtf8;
}

uint32_t Clamp32(uint64_t v, bool force) {
  return force || v >= kSaturated32 ? kSaturated32 : static_cast<uint32_t>(v);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ZipWriter>> ZipWriter::Create(const std::string& path,
                                                             const ZipWriterOptions& options) {
  const uint64_t a = options.alignment;
  if (a == 0 || a > 4096 || (a & (a - 1)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": zip alignment ", a, " is not a power of two in [1, 4096]"));
  }
  ASSIGN_OR_RETURN(auto out, OutputFile::Create(options.root, path, options.writeback));
  if (options.hash) out->EnableHash();
  return std::unique_ptr<ZipWriter>(new ZipWriter(path, std::move(out), options));
}

ZipWriter::~ZipWriter() {
  if (!finished_) {
    out_.reset();
    (void)options_.root.RemoveAll(path_);
  }
}

uint64_t ZipWriter::position() const { return out_ ? out_->position() : 0; }

std::string ZipWriter::sha256() const { return finished_ && out_ ? out_->sha256() : ""; }

absl::Status ZipWriter::CheckSourceRange(const ByteSource& src, uint64_t offset, uint64_t n) {
  if (offset <= src.size() && n <= src.size() - offset) return absl::OkStatus();
  return Poison(absl::OutOfRangeError(absl::StrCat(src.name(), ": range [", offset, ", +", n,
                                                   ") is outside the source (", src.size(),
                                                   " bytes)")));
}

absl::Status ZipWriter::Poison(absl::Status s) {
  if (error_.ok()) error_ = s;
  return s;
}

absl::Status ZipWriter::Ready() const {
  if (finished_) return absl::FailedPreconditionError(absl::StrCat(path_, ": zip already finished"));
  if (!error_.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(path_, ": zip writer failed earlier: ", error_.message()));
  }
  return absl::OkStatus();
}

absl::Status ZipWriter::AddEntry(const std::string& name, absl::string_view data) {
  return AddEntry(name, absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()),
                                                  data.size()));
}

absl::Status ZipWriter::AddEntry(const std::string& name, absl::Span<const uint8_t> data) {
  // The CRC is known up front, so the header is right when written and never
  // patched (which would cost the running SHA-256 of hash mode).
  RETURN_IF_ERROR(BeginEntry(name, data.size(), Crc32(0, data)));
  RETURN_IF_ERROR(WriteData(data));
  return EndEntry();
}

absl::Status ZipWriter::BeginEntry(const std::string& name, uint64_t size, uint32_t header_crc) {
  RETURN_IF_ERROR(Ready());
  if (in_entry_) {
    return Poison(absl::FailedPreconditionError(
        absl::StrCat(path_, ": entry '", name, "' begun inside entry '", entries_.back().name, "'")));
  }
  if (name.empty() || name.size() > UINT16_MAX) {
    return Poison(absl::InvalidArgumentError(
        absl::StrCat(path_, ": zip entry name of ", name.size(), " bytes is not allowed")));
  }
  if (!names_.insert(name).second) {
    return Poison(absl::InvalidArgumentError(
        absl::StrCat(path_, ": duplicate zip entry '", name, "'")));
  }
  Entry e;
  e.name = name;
  e.header_offset = out_->position();
  e.size = size;
  e.zip64_local = options_.force_zip64 || size >= kSaturated32;

  Bytes extra;
  if (e.zip64_local) extra.u16(kZip64ExtraId).u16(16).u64(size).u64(size);
  const uint64_t a = options_.alignment;
  const uint64_t unpadded = e.header_offset + kLocalSize + name.size() + extra.size() + 4;
  const uint64_t pad = (a - unpadded % a) % a;
  extra.u16(kPaddingExtraId).u16(static_cast<uint16_t>(pad)).fill(pad, 'Z');

  const bool zip64 = e.zip64_local || e.header_offset >= kSaturated32;
  Bytes h;
  h.u32(kLocalSig)
      .u16(zip64 ? kVersion45 : kVersion20)
      .u16(Flags(name))
      .u16(0)  // STORED
      .u16(kDosTime)
      .u16(kDosDate)
      .u32(header_crc)  // CRC-32: known (CopyEntry), or 0 and patched by EndEntry
      .u32(e.zip64_local ? kSaturated32 : static_cast<uint32_t>(size))
      .u32(e.zip64_local ? kSaturated32 : static_cast<uint32_t>(size))
      .u16(static_cast<uint16_t>(name.size()))
      .u16(static_cast<uint16_t>(extra.size()))
      .str(name)
      .append(extra);
  if (auto s = out_->Write(h.span()); !s.ok()) return Poison(s);
  entries_.push_back(std::move(e));
  in_entry_ = true;
  entry_written_ = 0;
  entry_crc_ = 0;
  entry_header_crc_ = header_crc;
  return absl::OkStatus();
}

absl::Status ZipWriter::CopyEntry(const std::string& name, const ByteSource& src, uint64_t offset,
                                  uint64_t n, uint32_t crc) {
  RETURN_IF_ERROR(Ready());
  RETURN_IF_ERROR(CheckSourceRange(src, offset, n));
  RETURN_IF_ERROR(BeginEntry(name, n, crc));
  const uint64_t start = out_->position();
  if (auto s = out_->CopyFrom(src, offset, n); !s.ok()) return Poison(s);
  // The CRC describes exactly n bytes: anything but the whole declared entry
  // would leave a header that lies.
  entry_written_ = out_->position() - start;
  if (entry_written_ != n) {
    return Poison(absl::InternalError(absl::StrCat(path_, ": entry '", name, "' declared ", n,
                                                   " bytes but ", entry_written_,
                                                   " were copied")));
  }
  entry_crc_ = crc;
  return EndEntry();
}

absl::Status ZipWriter::WriteData(absl::Span<const uint8_t> data) {
  RETURN_IF_ERROR(Ready());
  if (!in_entry_) {
    return Poison(absl::FailedPreconditionError(absl::StrCat(path_, ": data outside an entry")));
  }
  const Entry& e = entries_.back();
  if (data.size() > e.size - entry_written_) {
    return Poison(absl::InvalidArgumentError(absl::StrCat(
        path_, ": entry '", e.name, "' declared ", e.size, " bytes but more were written")));
  }
  entry_crc_ = Crc32(entry_crc_, data);
  entry_written_ += data.size();
  if (auto s = out_->Write(data); !s.ok()) return Poison(s);
  return absl::OkStatus();
}

absl::Status ZipWriter::CopyData(const ByteSource& src, uint64_t offset, uint64_t n) {
  RETURN_IF_ERROR(Ready());
  if (!in_entry_) {
    return Poison(absl::FailedPreconditionError(absl::StrCat(path_, ": data outside an entry")));
  }
  const Entry& e = entries_.back();
  if (n > e.size - entry_written_) {
    return Poison(absl::InvalidArgumentError(absl::StrCat(
        path_, ": entry '", e.name, "' declared ", e.size, " bytes but more were written")));
  }
  if (n == 0) return absl::OkStatus();
  RETURN_IF_ERROR(CheckSourceRange(src, offset, n));
  if (copy_buffer_.size() < std::min<uint64_t>(n, kCopyPiece)) {
    copy_buffer_.resize(std::min<uint64_t>(n, kCopyPiece));
  }
  while (n > 0) {
    const size_t len = static_cast<size_t>(std::min<uint64_t>(n, copy_buffer_.size()));
    auto piece = absl::MakeSpan(copy_buffer_.data(), len);
    if (auto s = src.ReadAt(offset, piece); !s.ok()) return Poison(s);
    entry_crc_ = Crc32(entry_crc_, piece);
    // A hashing output would read the piece again for a kernel copy: write
    // the bytes already here instead.
    absl::Status s = src.fd() >= 0 && !out_->hashing() ? out_->CopyFrom(src, offset, len)
                                                      : out_->Write(piece);
    if (!s.ok()) return Poison(s);
    entry_written_ += len;
    offset += len;
    n -= len;
  }
  return absl::OkStatus();
}

absl::Status ZipWriter::EndEntry() {
  RETURN_IF_ERROR(Ready());
  if (!in_entry_) {
    return Poison(absl::FailedPreconditionError(absl::StrCat(path_, ": no entry to end")));
  }
  Entry& e = entries_.back();
  if (entry_written_ != e.size) {
    return Poison(absl::InvalidArgumentError(absl::StrCat(
        path_, ": entry '", e.name, "' declared ", e.size, " bytes but ", entry_written_,
        " were written")));
  }
  e.crc = entry_crc_;
  in_entry_ = false;
  if (e.crc == entry_header_crc_) return absl::OkStatus();  // the header is already right
  Bytes crc;
  crc.u32(e.crc);
  if (auto s = out_->WriteAt(e.header_offset + kCrcOffsetInLocal, crc.span()); !s.ok()) {
    return Poison(s);
  }
  return absl::OkStatus();
}

absl::Status ZipWriter::WriteCentralDirectory() {
  const bool force = options_.force_zip64;
  const uint64_t cd_offset = out_->position();
  for (const Entry& e : entries_) {
    const uint32_t size32 = Clamp32(e.size, force);
    const uint32_t offset32 = Clamp32(e.header_offset, force);
    Bytes extra;
    if (size32 == kSaturated32) extra.u64(e.size).u64(e.size);
    if (offset32 == kSaturated32) extra.u64(e.header_offset);
    Bytes zip64;
    if (extra.size() > 0) zip64.u16(kZip64ExtraId).u16(static_cast<uint16_t>(extra.size())).append(extra);
    const uint16_t version = (zip64.size() > 0 || e.zip64_local) ? kVersion45 : kVersion20;
    Bytes c;
    c.u32(kCentralSig)
        .u16(version)  // made by: MS-DOS attributes, spec version
        .u16(version)
        .u16(Flags(e.name))
        .u16(0)  // STORED
        .u16(kDosTime)
        .u16(kDosDate)
        .u32(e.crc)
        .u32(size32)
        .u32(size32)
        .u16(static_cast<uint16_t>(e.name.size()))
        .u16(static_cast<uint16_t>(zip64.size()))
        .u16(0)  // comment length
        .u16(0)  // disk number
        .u16(0)  // internal attributes
        .u32(0)  // external attributes
        .u32(offset32)
        .str(e.name)
        .append(zip64);
    RETURN_IF_ERROR(out_->Write(c.span()));
  }
  const uint64_t cd_size = out_->position() - cd_offset;
  const uint64_t count = entries_.size();
  const bool zip64_end =
      force || count >= kSaturated16 || cd_size >= kSaturated32 || cd_offset >= kSaturated32;
  Bytes end;
  if (zip64_end) {
    const uint64_t record_offset = out_->position();
    end.u32(kZip64EocdSig)
        .u64(44)  // size of the rest of this record
        .u16(kVersion45)
        .u16(kVersion45)
        .u32(0)  // this disk
        .u32(0)  // disk holding the central directory
        .u64(count)
        .u64(count)
        .u64(cd_size)
        .u64(cd_offset);
    end.u32(kZip64LocatorSig).u32(0).u64(record_offset).u32(1);
  }
  const uint16_t count16 =
      (force || count >= kSaturated16) ? kSaturated16 : static_cast<uint16_t>(count);
  end.u32(kEocdSig)
      .u16(0)
      .u16(0)
      .u16(count16)
      .u16(count16)
      .u32(Clamp32(cd_size, force))
      .u32(Clamp32(cd_offset, force))
      .u16(0);  // comment length
  return out_->Write(end.span());
}

absl::Status ZipWriter::Finish() {
  RETURN_IF_ERROR(Ready());
  if (in_entry_) {
    return Poison(absl::FailedPreconditionError(
        absl::StrCat(path_, ": Finish inside entry '", entries_.back().name, "'")));
  }
  if (auto s = WriteCentralDirectory(); !s.ok()) return Poison(s);
  if (auto s = out_->Close(options_.sync); !s.ok()) return Poison(s);
  finished_ = true;
  return absl::OkStatus();
}

}  // namespace neobert::format
