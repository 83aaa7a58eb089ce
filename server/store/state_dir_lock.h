// SQLite keeps jobs for one server: the state dir is locked (flock on
// <state-dir>/exportd.lock, which records the holder) for as long as the
// server runs, and refused when it lies on a network file system, where
// neither that lock nor SQLite's own locking can be trusted.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace neobert::server {

// The network / cluster file system a statfs f_type names, or "" for a local one.
std::string NetworkFileSystemName(int64_t statfs_magic);

// FAILED_PRECONDITION (pointing at PostgreSQL) when `dir` is on a network
// file system.
absl::Status CheckLocalFileSystem(const std::string& dir);

class StateDirLock {
 public:
  // Locks `dir` and writes `holder` (e.g. "pid 12 on host h since ...") into
  // the lock file. FAILED_PRECONDITION naming the current holder when another
  // process has it.
  static absl::StatusOr<std::unique_ptr<StateDirLock>> Acquire(const std::string& dir,
                                                               const std::string& holder);
  ~StateDirLock();  // releases (the kernel also does when the process dies)
  StateDirLock(const StateDirLock&) = delete;
  StateDirLock& operator=(const StateDirLock&) = delete;

 private:
  explicit StateDirLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace neobert::server
