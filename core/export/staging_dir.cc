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
#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/base/status_macros.h"
#include "core/format/byte_source.h"

namespace neobert::core {
namespace fs = std::filesystem;
namespace {

std::atomic<int> g_counter{0};

// A staging folder holds the export's files (no deep trees).
constexpr size_t kMaxStagingEntries = 100000;

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

// Calls `fn(path, is_directory)` for every regular file and folder below
// `dir` (links are not followed), folders after their contents.
absl::Status ForEachBelow(const base::FsRoot& root, const std::string& dir,
                          const std::function<absl::Status(const std::string&, bool)>& fn) {
  ASSIGN_OR_RETURN(const auto entries, root.ListDirectory(dir, kMaxStagingEntries));
  for (const auto& e : entries) {
    const std::string path = absl::StrCat(dir, "/", e.name);
    if (e.type == S_IFDIR) {
      RETURN_IF_ERROR(ForEachBelow(root, path, fn));
      RETURN_IF_ERROR(fn(path, true));
    } else if (e.type == S_IFREG) {
      RETURN_IF_ERROR(fn(path, false));
    }
  }
  return absl::OkStatus();
}

absl::Status FsyncPath(const base::FsRoot& root, const std::string& path, bool directory) {
  if (directory) {
    ASSIGN_OR_RETURN(const base::UniqueFd fd, root.OpenDirectory(path));
    if (::fsync(fd.get()) != 0) return Errno("cannot fsync", path);
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(const base::ReadableFile f, root.OpenRegular(path));
  if (::fsync(f.fd.get()) != 0) return Errno("cannot fsync", path);
  return absl::OkStatus();
}

}  // namespace

void StagingDir::RemoveStale(const base::FsRoot& root, const std::string& destination) {
  fs::path dest(destination);
  const std::string prefix = StagingPrefix(dest);
  const std::string host = HostName();
  auto entries = root.ListDirectory(dest.parent_path().string(), kMaxStagingEntries);
  if (!entries.ok()) return;
  for (const auto& e : *entries) {
    const std::string& name = e.name;
    if (!absl::StartsWith(name, prefix)) continue;
    // <prefix><host>-<pid>-<n>: only remove ours, and only if that pid is gone.
    std::vector<std::string> parts = absl::StrSplit(name.substr(prefix.size()), '-');
    int pid = 0;
    if (parts.size() != 3 || parts[0] != host || !absl::SimpleAtoi(parts[1], &pid)) continue;
    if (pid > 0 && (::kill(pid, 0) == 0 || errno != ESRCH)) continue;
    (void)root.RemoveAll((dest.parent_path() / name).string());
  }
}

absl::StatusOr<std::unique_ptr<StagingDir>> StagingDir::Create(const Options& options) {
  const base::FsRoot& root = options.root;
  auto resolved = root.RealPathAllowMissing(options.destination);
  if (!resolved.ok() && !absl::IsPermissionDenied(resolved.status())) {
    return absl::InvalidArgumentError(absl::StrCat("invalid output directory '",
                                                   options.destination,
                                                   "': ", resolved.status().message()));
  }
  if (!resolved.ok()) return resolved.status();
  fs::path dest(*resolved);
  if (dest.filename().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid output directory '", options.destination, "'"));
  }
  ASSIGN_OR_RETURN(const auto exists, root.StatIfExists(dest.string()));
  if (exists.has_value() && !options.overwrite) {
    return absl::AlreadyExistsError(absl::StrCat(
        "output directory ", dest.string(), " already exists (pass --overwrite to replace it)"));
  }
  if (auto s = root.MakeDirectories(dest.parent_path().string()); !s.ok()) {
    if (absl::IsPermissionDenied(s)) return s;
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create ", dest.parent_path().string(), ": ", s.message()));
  }
  RemoveStale(root, dest.string());
  std::string staging = (dest.parent_path() / absl::StrCat(StagingPrefix(dest), HostName(), "-",
                                                           ::getpid(), "-", g_counter++))
                            .string();
  if (auto s = root.MakeDirectory(staging, 0755); !s.ok()) {
    // A link leading out stays PERMISSION_DENIED; anything else (a name the
    // file system refuses, an I/O error) is this server's trouble, not the
    // checkpoint's: INTERNAL, as the error reasons promise.
    if (absl::IsPermissionDenied(s)) return s;
    return absl::InternalError(absl::StrCat("cannot create staging folder ", s.message()));
  }
  return std::unique_ptr<StagingDir>(
      new StagingDir(root, dest.string(), staging, options.overwrite, options.sync));
}

StagingDir::~StagingDir() {
  if (committed_) return;
  (void)root_.RemoveAll(staging_);
}

std::string StagingDir::File(const std::string& name) const {
  return (fs::path(staging_) / name).string();
}

void StagingDir::StartWriteback() const {
  if (!sync_) return;
  (void)ForEachBelow(root_, staging_, [&](const std::string& path, bool directory) {
    if (directory) return absl::OkStatus();
    auto f = root_.OpenRegular(path);
    if (f.ok()) ::sync_file_range(f->fd.get(), 0, 0, SYNC_FILE_RANGE_WRITE);
    return absl::OkStatus();
  });
}

absl::Status StagingDir::Commit() {
  if (committed_) return absl::FailedPreconditionError("staging directory already committed");
  if (sync_) {
    RETURN_IF_ERROR(ForEachBelow(root_, staging_, [&](const std::string& path, bool directory) {
      return FsyncPath(root_, path, directory);
    }));
    RETURN_IF_ERROR(FsyncPath(root_, staging_, true));
  }

  ASSIGN_OR_RETURN(const auto present, root_.StatIfExists(destination_));
  const bool exists = present.has_value();
  if (exists && !overwrite_) {
    return absl::AlreadyExistsError(
        absl::StrCat("output directory ", destination_, " appeared while exporting"));
  }
  if (exists) {
    if (auto s = root_.Rename(staging_, destination_, RENAME_EXCHANGE); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("cannot swap in ", s.message()));
    }
    committed_ = true;
    (void)root_.RemoveAll(staging_);  // now holds the previous export
  } else {
    if (auto s = root_.Rename(staging_, destination_, RENAME_NOREPLACE); !s.ok()) {
      if (absl::IsAlreadyExists(s)) {
        return absl::AlreadyExistsError(
            absl::StrCat("output directory ", destination_, " appeared while exporting"));
      }
      return absl::Status(s.code(), absl::StrCat("cannot rename into ", s.message()));
    }
    committed_ = true;
  }
  if (!sync_) return absl::OkStatus();
  return FsyncPath(root_, fs::path(destination_).parent_path().string(), true);
}

absl::Status StagingDir::CommitFile(const std::string& name) {
  if (committed_) return absl::FailedPreconditionError("staging directory already committed");
  const std::string staged = File(name);
  if (sync_) RETURN_IF_ERROR(FsyncPath(root_, staged, false));
  RETURN_IF_ERROR(root_.Rename(staged, destination_, overwrite_ ? 0 : RENAME_NOREPLACE),
                  "cannot rename into place");
  committed_ = true;
  (void)root_.RemoveAll(staging_);  // empty now
  if (!sync_) return absl::OkStatus();
  return FsyncPath(root_, fs::path(destination_).parent_path().string(), true);
}

absl::Status WriteTextFile(const base::FsRoot& root, const std::string& path,
                           const std::string& content) {
  ASSIGN_OR_RETURN(auto f, format::OutputFile::Create(root, path));
  RETURN_IF_ERROR(f->Write(absl::string_view(content)));
  return f->Close(/*sync=*/false);  // StagingDir::Commit fsyncs everything
}

}  // namespace neobert::core
