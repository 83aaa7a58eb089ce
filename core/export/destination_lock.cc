#include "core/export/destination_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace neobert::core {
namespace fs = std::filesystem;

std::string DestinationLock::LockPathFor(const std::string& destination) {
  fs::path dest(destination);
  return (dest.parent_path() / absl::StrCat(".", dest.filename().string(), ".lock")).string();
}

absl::StatusOr<std::unique_ptr<DestinationLock>> DestinationLock::Acquire(
    const base::FsRoot& root, const std::string& destination, const base::CancelToken& cancel,
    absl::Duration timeout,
    const std::function<void(const std::string&)>& on_wait) {
  fs::path dest(destination);
  if (dest.filename().empty()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid output directory '", destination, "'"));
  }
  if (auto s = root.MakeDirectories(dest.parent_path().string()); !s.ok()) {
    if (absl::IsPermissionDenied(s)) return s;
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create ", dest.parent_path().string(), ": ", s.message()));
  }
  const std::string path = LockPathFor(destination);
  auto opened = root.CreateFile(path, O_RDWR, 0644);
  if (!opened.ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot open lock file ", path, ": ", opened.status().message()));
  }
  const int fd = opened->release();
  const absl::Time deadline = absl::Now() + timeout;
  bool waited = false;
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      int err = errno;
      ::close(fd);
      return absl::InternalError(absl::StrCat("cannot lock ", path, ": ", std::strerror(err)));
    }
    if (!waited && on_wait) on_wait(path);
    waited = true;
    if (auto s = cancel.Check(); !s.ok()) {
      ::close(fd);
      return s;
    }
    if (absl::Now() >= deadline) {
      ::close(fd);
      return absl::DeadlineExceededError(
          absl::StrCat("another exporter still holds ", path, " (writing ", destination, ")"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return std::unique_ptr<DestinationLock>(new DestinationLock(fd, path));
}

DestinationLock::~DestinationLock() {
  ::flock(fd_, LOCK_UN);
  ::close(fd_);
}

}  // namespace neobert::core
