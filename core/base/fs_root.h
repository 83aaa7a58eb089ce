// The one door through which neobert-export reaches files.
//
// Every input file the exporter, the validator, the server and the CLI read,
// every directory they list, and every directory or file they create, rename
// or remove is reached through an FsRoot. Two kinds exist:
//
//  * a confined root (FsRoot::Open(dir)): the directory is opened once and
//    every path is resolved beneath that descriptor, never outside it.
//    Symbolic links are followed only while they stay beneath the root
//    (trainers' `latest` links keep working, relative or absolute); a link
//    or a ".." that would leave it is PERMISSION_DENIED naming the link, and
//    nothing behind it is opened or even stat()ed. Resolution uses
//    openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) where the kernel has it
//    (checked at run time), else a component-wise walk that opens each
//    component with O_NOFOLLOW and reads links itself (fs_walk.h). Because
//    the lookup is done by the kernel relative to the root's descriptor at
//    the moment of the open, swapping a directory for a symlink while a job
//    runs cannot make a read land outside the root;
//  * the unconfined root (FsRoot() / FsRoot::Unconfined()): the whole file
//    system, paths as given, symlinks followed. The CLI uses it unless
//    `--confine DIR` is given: the user owns those links.
//
// Both kinds read only regular files: a file is looked at with O_PATH first
// (a FIFO, socket or device is never opened), then opened O_NONBLOCK |
// O_NOCTTY, fstat()ed again on that very descriptor, refused unless regular
// (INVALID_ARGUMENT naming the file and its type, e.g. "is a FIFO"), and only
// then switched back to blocking reads. The descriptor that was checked is
// the descriptor that is read.
//
// Paths: absolute, or relative to the process's working directory. In a
// confined root they must lie lexically at or below the root (its canonical
// path or the path it was opened by); anything else is PERMISSION_DENIED.
// Error messages name the path as the caller wrote it.
//
// Thread-safety: an FsRoot is immutable; copies share the root descriptor
// and may be used from any number of threads.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/base/unique_fd.h"

namespace neobert::base {

namespace internal {  // fs_walk.h
enum class WalkMode : int;
struct Walked;
}  // namespace internal

// "regular file", "directory", "FIFO", "socket", "character device",
// "block device", "symbolic link" or "special file".
const char* FileTypeName(mode_t mode);

// A regular file opened for reading (blocking reads, O_CLOEXEC).
struct ReadableFile {
  UniqueFd fd;
  struct stat st {};  // fstat of fd
  // A symbolic link was followed on the way (tracked in confined roots
  // only): the file may lie outside the folder its path names, so callers
  // must not quote its contents in errors (excerpt.h).
  bool via_symlink = false;
};

// One entry of a listed directory. `type` is the S_IFMT part of the entry's
// own lstat() (a symlink is S_IFLNK; 0 when it vanished while listing).
struct DirEntry {
  std::string name;
  mode_t type = 0;
};

class FsRoot {
 public:
  // The unconfined root: the whole file system (see above).
  FsRoot() = default;
  static FsRoot Unconfined() { return FsRoot(); }
  // Opens the directory `dir` as a confined root. Symlinks in `dir` itself
  // are followed (the operator chose it). NOT_FOUND / INVALID_ARGUMENT
  // (not an absolute path, not a directory) naming it otherwise.
  static absl::StatusOr<FsRoot> Open(const std::string& dir);

  bool confined() const { return state_ != nullptr; }
  // The canonical path of a confined root; "/" for the unconfined one.
  const std::string& path() const;
  // True when `path` (absolute, or relative to the working directory) lies
  // lexically at or below the root. Always true when unconfined. No I/O
  // beyond getcwd for a relative path.
  bool Contains(absl::string_view path) const;

  // --- Reading ---
  // The regular file at `path` (see the header comment). NOT_FOUND,
  // PERMISSION_DENIED (outside the root, or EACCES), INVALID_ARGUMENT (not a
  // regular file: the message names its type).
  absl::StatusOr<ReadableFile> OpenRegular(const std::string& path) const;
  // The whole of the regular file at `path`, which must not exceed
  // `max_bytes` (INVALID_ARGUMENT otherwise, also when it grows past it while
  // being read). `via_symlink` as in ReadableFile.
  absl::StatusOr<std::string> ReadFile(const std::string& path, uint64_t max_bytes,
                                       bool* via_symlink = nullptr) const;
  // The directory at `path`, opened O_RDONLY | O_DIRECTORY (usable for
  // listing, fsync and as the base of *at calls).
  absl::StatusOr<UniqueFd> OpenDirectory(const std::string& path) const;
  // What `path` resolves to (symlinks followed beneath the root; with
  // !follow_final a link in the last place is described itself, as lstat
  // would), or nullopt when nothing is there (a missing component, a
  // dangling link). Errors: a link or ".." leaving the root
  // (PERMISSION_DENIED naming it), a symlink loop, EACCES.
  absl::StatusOr<std::optional<struct stat>> StatIfExists(const std::string& path,
                                                         bool follow_final = true) const;
  // The entries of the directory at `path` except "." and "..", sorted by
  // name; INVALID_ARGUMENT when there are more than `max_entries`.
  absl::StatusOr<std::vector<DirEntry>> ListDirectory(const std::string& path,
                                                      size_t max_entries) const;
  // The canonical absolute path `path` resolves to (it must exist).
  absl::StatusOr<std::string> RealPath(const std::string& path) const;
  // Like RealPath, but the path need not exist: the existing prefix is
  // resolved, the rest appended with "." and ".." applied lexically.
  absl::StatusOr<std::string> RealPathAllowMissing(const std::string& path) const;

  // --- Writing (directories and files the exporter creates) ---
  // mkdir -p beneath the root; existing directories (reached through links
  // that stay beneath it too) are fine.
  absl::Status MakeDirectories(const std::string& path, mode_t mode = 0755) const;
  // One mkdirat in the parent directory; ALREADY_EXISTS if something is there.
  absl::Status MakeDirectory(const std::string& path, mode_t mode = 0755) const;
  // openat(parent, name, O_CREAT | O_NOFOLLOW | O_CLOEXEC | `flags`, mode):
  // `flags` picks the access mode (O_WRONLY, O_RDWR) and e.g. O_TRUNC or
  // O_EXCL. A symlink in the last place is refused (INVALID_ARGUMENT).
  absl::StatusOr<UniqueFd> CreateFile(const std::string& path, int flags, mode_t mode) const;
  // renameat2(parent(from), name(from), parent(to), name(to), flags), e.g.
  // RENAME_NOREPLACE or RENAME_EXCHANGE. Errors name `to`.
  absl::Status Rename(const std::string& from, const std::string& to, unsigned int flags) const;
  // Removes `path` and, if it is a directory, everything below it, without
  // following any symlink (a link is removed, not its target). A missing
  // path is OK.
  absl::Status RemoveAll(const std::string& path) const;

 private:
  struct State;
  struct Resolved {
    UniqueFd fd;
    bool via_symlink = false;
  };
  // Opens `path` with `flags` (O_CLOEXEC added; O_NOFOLLOW too unless
  // `follow_final`). `track_links` asks confined roots to tell whether a
  // symlink was followed.
  absl::StatusOr<Resolved> Resolve(const std::string& path, int flags, mode_t mode,
                                   bool follow_final, bool track_links = false) const;
  // The portable walk (fs_walk.h) of `path` beneath a confined root.
  absl::StatusOr<internal::Walked> WalkBeneath(const std::string& path, internal::WalkMode mode,
                                               int flags = 0, mode_t create_mode = 0,
                                               bool follow_final = true) const;
  // `path` made absolute, with "//", "/./" and a trailing "/" removed.
  static std::string Normalize(absl::string_view path);
  // The part of `path` below a confined root ("." for the root itself);
  // PERMISSION_DENIED when outside it lexically.
  absl::StatusOr<std::string> Relative(const std::string& path) const;
  // The parent directory of `path`, opened, and its last component.
  absl::StatusOr<std::pair<UniqueFd, std::string>> OpenParent(const std::string& path) const;

  std::shared_ptr<const State> state_;
};

// For tests: make every confined resolution use the portable walk instead of
// openat2, as on a kernel without it (also set by the environment variable
// NEOBERT_FS_NO_OPENAT2=1 at start-up). Returns the previous setting.
bool ForcePortableWalkForTesting(bool force);

}  // namespace neobert::base
