// Atomic publication of an output directory.
//
// Files are written into a hidden sibling `.<name>.partial-<pid>-<n>` of the
// destination, fsynced, and the directory is renamed into place. Until
// Commit() succeeds the destination is untouched; a failed, cancelled or
// killed export leaves no destination (a SIGKILL can leave the hidden staging
// directory, which the next export to that destination removes).
// With `overwrite`, an existing destination is swapped out atomically
// (renameat2 RENAME_EXCHANGE) and then deleted: readers see either the old
// folder or the new one, never a mix.
//
// Every directory is created, listed, renamed and removed through the door
// beneath Options::root (core/base/fs_root.h: mkdirat / renameat2 / unlinkat
// relative to directories opened beneath it), so a parent swapped for a
// symlink cannot make the export land, or a removal reach, outside it.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/base/fs_root.h"

namespace neobert::core {

class StagingDir {
 public:
  struct Options {
    std::string destination;  // the final directory path
    base::FsRoot root{};        // where it may be (default: the whole file system)
    bool overwrite = false;   // replace an existing destination
    bool sync = true;         // fsync on Commit (off only in benchmarks/tests)
  };
  // Creates the staging directory (and the destination's parents). Fails with
  // ALREADY_EXISTS if the destination exists and !overwrite.
  static absl::StatusOr<std::unique_ptr<StagingDir>> Create(const Options& options);
  // Removes the staging directory unless committed.
  ~StagingDir();
  StagingDir(const StagingDir&) = delete;
  StagingDir& operator=(const StagingDir&) = delete;

  // Where to write files now.
  const std::string& path() const { return staging_; }
  const std::string& destination() const { return destination_; }
  // Full path of `name` inside the staging directory.
  std::string File(const std::string& name) const;

  // With sync: asks the kernel to start writing every file back now
  // (sync_file_range, no wait), so the disk works while the caller hashes;
  // Commit's fsync then waits only for what is left. A hint: never fails.
  void StartWriteback() const;

  // fsyncs every file and the directory (unless !sync), then renames it into
  // place (and the parent directory is fsynced). After success the object
  // owns nothing.
  absl::Status Commit();

  // For a destination that is one file (`convert`): fsyncs the staged file
  // `name` (unless !sync) and renames it to the destination (replacing an
  // existing file only with overwrite), then removes the staging directory.
  // After success the object owns nothing.
  absl::Status CommitFile(const std::string& name);

  // Removes leftovers of earlier killed exports to `destination`.
  static void RemoveStale(const base::FsRoot& root, const std::string& destination);

  const base::FsRoot& root() const { return root_; }

 private:
  StagingDir(base::FsRoot root, std::string destination, std::string staging, bool overwrite,
             bool sync)
      : root_(std::move(root)), destination_(std::move(destination)),
        staging_(std::move(staging)), overwrite_(overwrite), sync_(sync) {}
  base::FsRoot root_;
  std::string destination_;
  std::string staging_;
  bool overwrite_;
  bool sync_;
  bool committed_ = false;
};

// Writes `content` to `path` beneath `root` (used for small text files).
absl::Status WriteTextFile(const base::FsRoot& root, const std::string& path,
                           const std::string& content);

}  // namespace neobert::core
