#include "core/export/staging_dir.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/format/byte_source.h"

namespace neobert::core {
namespace fs = std::filesystem;
namespace {

std::atomic<int> g_counter{0};

std::string HostName() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "host";
  std::string h(buf);
  for (char& c : h) {
    if (c == '/' || c == '-') c = '_';
  }
  return h;
}

std::string StagingPrefix(const fs::path& dest) {
  return absl::StrCat(".", dest.filename().string(), ".partial-");
}

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

absl::Status FsyncPath(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", path);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Errno("cannot fsync", path);
  return absl::OkStatus();
}

}  // namespace

void StagingDir::RemoveStale(const std::string& destination) {
  fs::path dest(destination);
  std::error_code ec;
  const std::string prefix = StagingPrefix(dest);
  const std::string host = HostName();
  for (const auto& e : fs::directory_iterator(dest.parent_path(), ec)) {
    std::string name = e.path().filename().string();
    if (!absl::StartsWith(name, prefix)) continue;
    // <prefix><host>-<pid>-<n>: only remove ours, and only if that pid is gone.
    std::vector<std::string> parts = absl::StrSplit(name.substr(prefix.size()), '-');
    int pid = 0;
    if (parts.size() != 3 || parts[0] != host || !absl::SimpleAtoi(parts[1], &pid)) continue;
    if (pid > 0 && (::kill(pid, 0) == 0 || errno != ESRCH)) continue;
    fs::remove_all(e.path(), ec);
  }
}

absl::StatusOr<std::unique_ptr<StagingDir>> StagingDir::Create(const Options& options) {
  std::error_code ec;
  fs::path dest = fs::weakly_canonical(fs::absolute(options.destination, ec), ec);
  if (ec || dest.filename().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid output directory '", options.destination, "'"));
  }
  if (fs::exists(dest, ec) && !options.overwrite) {
    return absl::AlreadyExistsError(absl::StrCat(
        "output directory ", dest.string(), " already exists (pass --overwrite to replace it)"));
  }
  fs::create_directories(dest.parent_path(), ec);
  if (ec) {
    return absl::PermissionDeniedError(absl::StrCat("cannot create ", dest.parent_path().string(),
                                                    ": ", ec.message()));
  }
  RemoveStale(dest.string());
  std::string staging = (dest.parent_path() / absl::StrCat(StagingPrefix(dest), HostName(), "-",
                                                           ::getpid(), "-", g_counter++))
                            .string();
  if (::mkdir(staging.c_str(), 0755) != 0) return Errno("cannot create", staging);
  return std::unique_ptr<StagingDir>(new StagingDir(dest.string(), staging, options.overwrite, options.sync));
}

StagingDir::~StagingDir() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(staging_, ec);
}

std::string StagingDir::File(const std::string& name) const {
  return (fs::path(staging_) / name).string();
}

void StagingDir::StartWriteback() const {
  if (!sync_) return;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(staging_, ec)) {
    if (!e.is_regular_file()) continue;
    int fd = ::open(e.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ::sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    ::close(fd);
  }
}

absl::Status StagingDir::Commit() {
  if (committed_) return absl::FailedPreconditionError("staging directory already committed");
  std::error_code ec;
  if (sync_) {
    for (const auto& e : fs::recursive_directory_iterator(staging_, ec)) {
      if (e.is_regular_file()) {
        if (auto s = FsyncPath(e.path().string(), false); !s.ok()) return s;
      } else if (e.is_directory()) {
        if (auto s = FsyncPath(e.path().string(), true); !s.ok()) return s;
      }
    }
    if (ec) return absl::InternalError(absl::StrCat("cannot list ", staging_, ": ", ec.message()));
    if (auto s = FsyncPath(staging_, true); !s.ok()) return s;
  }

  const bool exists = fs::exists(destination_, ec);
  if (exists && !overwrite_) {
    return absl::AlreadyExistsError(
        absl::StrCat("output directory ", destination_, " appeared while exporting"));
  }
  if (exists) {
    if (::renameat2(AT_FDCWD, staging_.c_str(), AT_FDCWD, destination_.c_str(),
                    RENAME_EXCHANGE) != 0) {
      return Errno("cannot swap in", destination_);
    }
    committed_ = true;
    fs::remove_all(staging_, ec);  // now holds the previous export
  } else {
    if (::renameat2(AT_FDCWD, staging_.c_str(), AT_FDCWD, destination_.c_str(),
                    RENAME_NOREPLACE) != 0) {
      if (errno == EEXIST) {
        return absl::AlreadyExistsError(
            absl::StrCat("output directory ", destination_, " appeared while exporting"));
      }
      return Errno("cannot rename into", destination_);
    }
    committed_ = true;
  }
  if (!sync_) return absl::OkStatus();
  return FsyncPath(fs::path(destination_).parent_path().string(), true);
}

absl::Status WriteTextFile(const std::string& path, const std::string& content) {
  auto f = format::OutputFile::Create(path);
  if (!f.ok()) return f.status();
  if (auto s = (*f)->Write(absl::string_view(content)); !s.ok()) return s;
  return (*f)->Close(/*sync=*/false);  // StagingDir::Commit fsyncs everything
}

}  // namespace neobert::core
