// Random-access byte sources and a buffered output file.
//
// Readers never slurp a weight file: metadata is read into small buffers and
// tensor bytes are copied in bounded chunks with positioned reads, so memory
// use does not grow with the checkpoint size.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/base/fs_root.h"

namespace neobert::format {

// Read-only bytes addressed by offset. Thread-safe: ReadAt has no shared
// cursor, so one source may serve several readers at once.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Total size in bytes.
  virtual uint64_t size() const = 0;
  // A name for error messages (the file path, or "<memory>").
  virtual const std::string& name() const = 0;
  // Fills `out` with bytes [offset, offset + out.size()). Fails (OUT_OF_RANGE)
  // if that range is not entirely inside the source; never reads short.
  virtual absl::Status ReadAt(uint64_t offset, absl::Span<uint8_t> out) const = 0;
  // The file descriptor behind the source, or -1. Lets writers use
  // copy_file_range for contiguous ranges.
  virtual int fd() const { return -1; }
};

// A file opened read-only through the door (core/base/fs_root.h: regular
// files only, beneath `root`); reads with pread.
class FileSource final : public ByteSource {
 public:
  static absl::StatusOr<std::shared_ptr<FileSource>> Open(const base::FsRoot& root,
                                                          const std::string& path);
  ~FileSource() override;
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  uint64_t size() const override { return size_; }
  const std::string& name() const override { return path_; }
  absl::Status ReadAt(uint64_t offset, absl::Span<uint8_t> out) const override;
  int fd() const override { return fd_; }

 private:
  FileSource(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}
  std::string path_;
  int fd_;
  uint64_t size_;
};

// Bytes owned in memory (casts, unpacked tensors, tests).
class MemorySource final : public ByteSource {
 public:
  explicit MemorySource(std::vector<uint8_t> bytes, std::string name = "<memory>")
      : bytes_(std::move(bytes)), name_(std::move(name)) {}
  uint64_t size() const override { return bytes_.size(); }
  const std::string& name() const override { return name_; }
  absl::Status ReadAt(uint64_t offset, absl::Span<uint8_t> out) const override;
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
  std::string name_;
};

// Reads a whole (small) range into a vector; `limit` guards against hostile
// lengths (fails with INVALID_ARGUMENT when n > limit).
absl::StatusOr<std::vector<uint8_t>> ReadRange(const ByteSource& src, uint64_t offset,
                                               uint64_t n, uint64_t limit);

// Writeback mode (OutputFile::Create's `writeback`): after every this many
// bytes handed to the kernel, the completed range is submitted for writeback
// (sync_file_range WRITE, no wait). Without it the kernel here starts
// background writeback only at ~2.4 GB dirty, so a 1 GB weight file sat in the
// page cache until the final fsync and the disk idled while we wrote. 32 MiB
// keeps the disk busy from the start while staying a few syscalls per second.
inline constexpr uint64_t kWritebackChunk = 32ull << 20;

class Sha256;  // core/format/sha256.h

// A file being written sequentially, with an internal buffer. Not thread-safe.
class OutputFile {
 public:
  // Creates (truncating) `path` with mode 0644, beneath `root`; a symlink in
  // its place is refused (FsRoot::CreateFile). With `writeback`, written
  // bytes are submitted to the disk every kWritebackChunk bytes (see above);
  // durability is unchanged: only Close(sync=true) or the caller's fsync
  // guarantees the bytes are on disk.
  static absl::StatusOr<std::unique_ptr<OutputFile>> Create(const base::FsRoot& root,
                                                            const std::string& path,
                                                            bool writeback = false);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  absl::Status Write(absl::Span<const uint8_t> bytes);
  absl::Status Write(absl::string_view bytes) {
    return Write(absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()),
                                           bytes.size()));
  }
  // Copies [offset, offset+n) of `src` to the current position. Uses
  // copy_file_range when `src` has a descriptor, else bounded chunks.
  absl::Status CopyFrom(const ByteSource& src, uint64_t offset, uint64_t n);
  // Overwrites already-written bytes at `offset` (e.g. to patch a header).
  absl::Status WriteAt(uint64_t offset, absl::Span<const uint8_t> bytes);
  // Hash mode: the SHA-256 of the file is computed from the bytes as they
  // are written, so a caller that needs the digest (the export manifest)
  // never reads the file back. CopyFrom then reads what it copies (pread
  // into a buffer, hash, write) instead of copy_file_range. WriteAt (a
  // patch) makes the digest unavailable. Call before writing anything.
  void EnableHash();
  bool hashing() const { return hash_ != nullptr; }
  // After a successful Close: the lower-case hex SHA-256 of the file, or ""
  // when hash mode was off or the file was patched with WriteAt.
  const std::string& sha256() const { return sha256_; }
  // Bytes written so far (the current end of file).
  uint64_t position() const { return position_; }
  const std::string& path() const { return path_; }
  // Flushes, fsyncs (when `sync`), and closes. Must be called for success;
  // the destructor closes without reporting errors.
  absl::Status Close(bool sync = true);

 private:
  OutputFile(std::string path, int fd, bool writeback);  // in .cc: Sha256 is incomplete here
  absl::Status Flush();
  // write()s all of `bytes` at the kernel end of the file.
  absl::Status WriteAll(const uint8_t* data, size_t n);
  // Called whenever kernel_end_ grows: submits writeback in writeback mode.
  void MaybeWriteback();
  std::string path_;
  int fd_;
  bool writeback_ = false;
  uint64_t position_ = 0;          // kernel_end_ + buffer_.size()
  uint64_t kernel_end_ = 0;        // bytes handed to the kernel (write, copy_file_range)
  uint64_t writeback_submitted_ = 0;  // [0, this) already submitted for writeback
  std::vector<uint8_t> buffer_;
  std::vector<uint8_t> copy_buffer_;  // CopyFrom's pieces when not copied in the kernel
  std::unique_ptr<Sha256> hash_;  // hash mode: every byte in file order
  bool hash_valid_ = false;       // no WriteAt since EnableHash
  std::string sha256_;            // set by Close
};

}  // namespace neobert::format
