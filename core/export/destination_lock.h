// One writer per export destination, across processes and replicas.
//
// Two exporters (two server replicas sharing an output root, or a server and
// an operator's CLI) may be asked for the same destination at once. Each
// takes an exclusive flock(2) on the hidden file `<parent>/.<name>.lock`
// before it looks at the destination for the last time and holds it until
// the export is published (or abandoned). The second one waits, then finds
// the first one's manifest and reports the export as already done, instead
// of exporting the same checkpoint twice or failing at the final rename.
// The kernel drops the lock when its holder dies, so a SIGKILLed exporter
// never blocks the destination. The lock file itself is empty and is left in
// place (deleting it would race with a waiter that already opened it).
// On NFSv4 Linux implements flock with byte-range locks, which the server
// arbitrates, so the rule holds across machines too.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/base/fs_root.h"
#include "core/base/progress.h"

namespace neobert::core {

class DestinationLock {
 public:
  // Blocks until the lock for `destination` is held, polling so that
  // `cancel` is honoured (CANCELLED) and `timeout` (DEADLINE_EXCEEDED) too.
  // `on_wait` runs once if another holder makes us wait. Creates the
  // destination's parent folders and the lock file beneath `root`
  // (core/base/fs_root.h; a symlink in the lock file's place is refused).
  static absl::StatusOr<std::unique_ptr<DestinationLock>> Acquire(
      const base::FsRoot& root, const std::string& destination, const base::CancelToken& cancel,
      absl::Duration timeout = absl::InfiniteDuration(),
      const std::function<void(const std::string& lock_path)>& on_wait = nullptr);
  ~DestinationLock();  // releases
  DestinationLock(const DestinationLock&) = delete;
  DestinationLock& operator=(const DestinationLock&) = delete;

  const std::string& path() const { return path_; }
  // The lock file for `destination` (no I/O).
  static std::string LockPathFor(const std::string& destination);

 private:
  DestinationLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

}  // namespace neobert::core
