#include "core/format/byte_source.h"

#include <cstdint>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/format/sha256.h"

namespace neobert::format {
namespace {

constexpr size_t kBufferSize = 4 << 20;  // output buffer
// CopyFrom's read-hash-write piece: small enough to stay in cache between
// the read, the hash and the write.
constexpr size_t kCopyPiece = 1 << 20;
// Writeback ranges end on this boundary (a multiple of any page size).
constexpr uint64_t kWritebackAlign = 64 << 10;

absl::Status ErrnoStatus(absl::string_view what, const std::string& path) {
  int e = errno;
  std::string msg = absl::StrCat(what, " ", path, ": ", std::strerror(e));
  if (e == ENOENT) return absl::NotFoundError(msg);
  if (e == EACCES || e == EPERM) return absl::PermissionDeniedError(msg);
  if (e == ENOSPC) return absl::ResourceExhaustedError(msg);
  return absl::InternalError(msg);
}

bool RangeInside(uint64_t offset, uint64_t n, uint64_t size) {
  return offset <= size && n <= size - offset;
}

}  // namespace

absl::StatusOr<std::shared_ptr<FileSource>> FileSource::Open(const base::FsRoot& root,
                                                             const std::string& path) {
  ASSIGN_OR_RETURN(auto f, root.OpenRegular(path));
  ::posix_fadvise(f.fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  const auto size = static_cast<uint64_t>(f.st.st_size);
  return std::shared_ptr<FileSource>(new FileSource(path, f.fd.release(), size));
}

FileSource::~FileSource() { ::close(fd_); }

absl::Status FileSource::ReadAt(uint64_t offset, absl::Span<uint8_t> out) const {
  if (!RangeInside(offset, out.size(), size_)) {
    return absl::OutOfRangeError(absl::StrCat(path_, ": read of ", out.size(), " bytes at offset ",
                                              offset, " is past the end of the file (", size_,
                                              " bytes)"));
  }
  size_t done = 0;
  while (done < out.size()) {
    ssize_t r = ::pread(fd_, out.data() + done, out.size() - done,
                        static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("cannot read", path_);
    }
    if (r == 0) {
      return absl::OutOfRangeError(absl::StrCat(path_, ": file shrank while reading"));
    }
    done += static_cast<size_t>(r);
  }
  return absl::OkStatus();
}

absl::Status MemorySource::ReadAt(uint64_t offset, absl::Span<uint8_t> out) const {
  if (!RangeInside(offset, out.size(), bytes_.size())) {
    return absl::OutOfRangeError(absl::StrCat(name_, ": read of ", out.size(), " bytes at offset ",
                                              offset, " is past the end (", bytes_.size(),
                                              " bytes)"));
  }
  if (!out.empty()) std::memcpy(out.data(), bytes_.data() + offset, out.size());
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint8_t>> ReadRange(const ByteSource& src, uint64_t offset, uint64_t n,
                                               uint64_t limit) {
  if (n > limit) {
    return absl::InvalidArgumentError(absl::StrCat(src.name(), ": record of ", n,
                                                   " bytes exceeds the limit of ", limit));
  }
  if (!RangeInside(offset, n, src.size())) {
    return absl::InvalidArgumentError(absl::StrCat(src.name(), ": range [", offset, ", +", n,
                                                   ") is outside the file (", src.size(),
                                                   " bytes)"));
  }
  std::vector<uint8_t> out(n);
  RETURN_IF_ERROR(src.ReadAt(offset, absl::MakeSpan(out)));
  return out;
}

absl::StatusOr<std::unique_ptr<OutputFile>> OutputFile::Create(const base::FsRoot& root,
                                                              const std::string& path,
                                                              bool writeback) {
  ASSIGN_OR_RETURN(auto fd, root.CreateFile(path, O_WRONLY | O_TRUNC, 0644));
  auto f = std::unique_ptr<OutputFile>(new OutputFile(path, fd.release(), writeback));
  f->buffer_.reserve(kBufferSize);
  return f;
}

OutputFile::OutputFile(std::string path, int fd, bool writeback)
    : path_(std::move(path)), fd_(fd), writeback_(writeback) {}

OutputFile::~OutputFile() {
  if (fd_ >= 0) ::close(fd_);
}

void OutputFile::EnableHash() {
  if (position_ != 0) return;  // too late: bytes went unhashed
  hash_ = std::make_unique<Sha256>();
  hash_valid_ = true;
}

void OutputFile::MaybeWriteback() {
  if (!writeback_ || kernel_end_ - writeback_submitted_ < kWritebackChunk) return;
  // Stop at a page-aligned end: a partial last page would be written now and
  // dirtied again by the next write.
  const uint64_t end = kernel_end_ - kernel_end_ % kWritebackAlign;
  if (end <= writeback_submitted_) return;
  // Advisory: an error here (a filesystem without support) only loses the
  // head start; real I/O errors are reported by the fsync that follows.
  if (::sync_file_range(fd_, static_cast<off_t>(writeback_submitted_),
                        static_cast<off_t>(end - writeback_submitted_),
                        SYNC_FILE_RANGE_WRITE) != 0) {
    writeback_ = false;
    return;
  }
  writeback_submitted_ = end;
}

absl::Status OutputFile::WriteAll(const uint8_t* data, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t w = ::write(fd_, data + done, n - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("cannot write", path_);
    }
    done += static_cast<size_t>(w);
    kernel_end_ += static_cast<uint64_t>(w);
    MaybeWriteback();
  }
  return absl::OkStatus();
}

absl::Status OutputFile::Flush() {
  RETURN_IF_ERROR(WriteAll(buffer_.data(), buffer_.size()));
  buffer_.clear();
  return absl::OkStatus();
}

absl::Status OutputFile::Write(absl::Span<const uint8_t> bytes) {
  if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat(path_, ": already closed"));
  if (buffer_.size() + bytes.size() > kBufferSize) {
    RETURN_IF_ERROR(Flush());
  }
  if (hash_) hash_->Update(bytes);
  if (bytes.size() >= kBufferSize) {
    // Large writes bypass the buffer.
    RETURN_IF_ERROR(WriteAll(bytes.data(), bytes.size()));
  } else {
    buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
  }
  position_ += bytes.size();
  return absl::OkStatus();
}

absl::Status OutputFile::CopyFrom(const ByteSource& src, uint64_t offset, uint64_t n) {
  if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat(path_, ": already closed"));
  if (!RangeInside(offset, n, src.size())) {
    return absl::OutOfRangeError(absl::StrCat(src.name(), ": copy range [", offset, ", +", n,
                                              ") is outside the source"));
  }
  // In hash mode the bytes must pass through here anyway: the chunked path
  // below reads, hashes (in Write) and writes them, one copy each way, as
  // cheap as pread plus copy_file_range would be.
  if (src.fd() >= 0 && !hash_) {
    RETURN_IF_ERROR(Flush());
    loff_t in_off = static_cast<loff_t>(offset);
    uint64_t left = n;
    bool fallback = false;
    while (left > 0) {
      // In writeback mode, copy in writeback-sized calls so that a large
      // range is submitted as it goes rather than after the whole copy.
      const uint64_t want = writeback_ ? std::min<uint64_t>(left, kWritebackChunk) : left;
      ssize_t c = ::copy_file_range(src.fd(), &in_off, fd_, nullptr, want, 0);
      if (c < 0) {
        if (errno == EINTR) continue;
        if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
          fallback = true;
          break;
        }
        return ErrnoStatus("cannot copy into", path_);
      }
      if (c == 0) return absl::OutOfRangeError(absl::StrCat(src.name(), ": source shrank"));
      left -= static_cast<uint64_t>(c);
      position_ += static_cast<uint64_t>(c);
      kernel_end_ += static_cast<uint64_t>(c);
      MaybeWriteback();
    }
    if (!fallback) return absl::OkStatus();
    offset = static_cast<uint64_t>(in_off);
    n = left;
  }
  // Read, hash and write cache-sized pieces straight to the kernel (not
  // through buffer_: one copy fewer), reusing one buffer across calls.
  RETURN_IF_ERROR(Flush());
  if (n > 0 && copy_buffer_.size() < kCopyPiece) copy_buffer_.resize(kCopyPiece);
  while (n > 0) {
    const size_t len = static_cast<size_t>(std::min<uint64_t>(n, kCopyPiece));
    auto piece = absl::MakeSpan(copy_buffer_.data(), len);
    RETURN_IF_ERROR(src.ReadAt(offset, piece));
    if (hash_) hash_->Update(piece);
    RETURN_IF_ERROR(WriteAll(piece.data(), len));
    position_ += len;
    offset += len;
    n -= len;
  }
  return absl::OkStatus();
}

absl::Status OutputFile::WriteAt(uint64_t offset, absl::Span<const uint8_t> bytes) {
  if (offset + bytes.size() > position_) {
    return absl::OutOfRangeError(absl::StrCat(path_, ": patch past the written end"));
  }
  RETURN_IF_ERROR(Flush());
  hash_valid_ = false;  // the running hash saw the bytes before the patch
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t w = ::pwrite(fd_, bytes.data() + done, bytes.size() - done,
                         static_cast<off_t>(offset + done));
    if (w < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("cannot write", path_);
    }
    done += static_cast<size_t>(w);
  }
  return absl::OkStatus();
}

absl::Status OutputFile::Close(bool sync) {
  if (fd_ < 0) return absl::OkStatus();
  absl::Status s = Flush();
  if (s.ok() && sync && ::fsync(fd_) != 0) s = ErrnoStatus("cannot fsync", path_);
  if (::close(fd_) != 0 && s.ok()) s = ErrnoStatus("cannot close", path_);
  fd_ = -1;
  if (s.ok() && hash_ && hash_valid_) sha256_ = hash_->HexDigest();
  hash_.reset();
  return s;
}

}  // namespace neobert::format
