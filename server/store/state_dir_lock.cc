#include "server/store/state_dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace neobert::server {

std::string NetworkFileSystemName(int64_t magic) {
  switch (static_cast<uint32_t>(magic)) {
    case 0x6969: return "NFS";
    case 0x517B: return "SMB";
    case 0xFF534D42: return "CIFS";
    case 0xFE534D42: return "SMB2";
    case 0x65735546: return "FUSE";
    case 0x00C36400: return "Ceph";
    case 0x0BD00BD0: return "Lustre";
    case 0x47504653: return "GPFS";
    case 0x5346414F: return "AFS";
    case 0x6B414653: return "kAFS";
    case 0x01021997: return "9P";
    case 0x7461636F: return "OCFS2";
    case 0x564C: return "NCP";
    case 0x013111A8: return "IBRIX";
    case 0x19830326: return "BeeGFS";
    default: return "";
  }
}

absl::Status CheckLocalFileSystem(const std::string& dir) {
  struct statfs st {};
  if (::statfs(dir.c_str(), &st) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("state dir '", dir, "': statfs: ", std::strerror(errno)));
  }
  const std::string fs = NetworkFileSystemName(static_cast<int64_t>(st.f_type));
  if (fs.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "state dir '", dir, "' is on a network file system (", fs,
      "): the SQLite job store needs a local disk (its locks are not reliable over the network); "
      "use a local --state-dir, or share jobs between servers with --job-store postgresql://..."));
}

absl::StatusOr<std::unique_ptr<StateDirLock>> StateDirLock::Acquire(const std::string& dir,
                                                                    const std::string& holder) {
  const std::string path = dir + "/exportd.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::FailedPreconditionError(absl::StrCat("lock file '", path, "': ", std::strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char buf[512] = {};
    ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
    ::close(fd);
    if (err != EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat("lock file '", path, "': ", std::strerror(err)));
    }
    std::string who = n > 0 ? std::string(absl::StripAsciiWhitespace(std::string(buf, n))) : "";
    return absl::FailedPreconditionError(absl::StrCat(
        "state dir '", dir, "' is in use by another neobert-exportd (",
        who.empty() ? "holder unknown" : who, "): the SQLite job store serves one server; stop "
        "that one, give this one another --state-dir, or run several replicas on one "
        "--job-store postgresql://..."));
  }
  std::string text = holder + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) < 0) {
    // The lock holds without the note; a second server then reports the
    // holder as unknown.
  }
  return std::unique_ptr<StateDirLock>(new StateDirLock(fd));
}

StateDirLock::~StateDirLock() { ::close(fd_); }

}  // namespace neobert::server
