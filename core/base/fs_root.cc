#include "core/base/fs_root.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/base/fs_walk.h"
#include "core/base/status_macros.h"

namespace neobert::base {

struct FsRoot::State {
  UniqueFd fd;
  std::string path;                  // canonical
  std::vector<std::string> aliases;  // the path it was opened by, when different
};

namespace {

using internal::ErrnoStatus;

// openat2 availability: unknown until the first call, then remembered.
enum Openat2 : int { kUnknown, kAvailable, kMissing };
std::atomic<int> g_openat2{kUnknown};
std::atomic<bool> g_force_walk{::getenv("NEOBERT_FS_NO_OPENAT2") != nullptr};

constexpr int kMaxRetries = 8;    // openat2 EAGAIN: a rename raced the lookup
constexpr int kMaxRemoveDepth = 256;

int Openat2(int dirfd, const char* path, int flags, mode_t mode, uint64_t resolve) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags);
  how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
  how.resolve = resolve;
  return static_cast<int>(::syscall(SYS_openat2, dirfd, path, &how, sizeof(how)));
}

const std::string& SlashPath() {
  static const std::string* slash = new std::string("/");
  return *slash;
}

std::string CurrentDir() {
  char buf[PATH_MAX];
  return ::getcwd(buf, sizeof(buf)) != nullptr ? std::string(buf) : std::string("/");
}

absl::Status NotRegular(const std::string& path, mode_t mode) {
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": is a ", FileTypeName(mode), ", not a regular file"));
}

// Lists the open directory `fd` (the descriptor stays open and usable).
absl::StatusOr<std::vector<DirEntry>> ListFd(int fd, const std::string& display,
                                             size_t max_entries) {
  UniqueFd dup(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!dup.valid()) return ErrnoStatus(errno, display);
  DIR* dir = ::fdopendir(dup.get());
  if (dir == nullptr) return ErrnoStatus(errno, display);
  dup.release();  // owned by `dir` now
  ::rewinddir(dir);
  std::vector<DirEntry> out;
  absl::Status status;
  errno = 0;
  while (const dirent* e = ::readdir(dir)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (out.size() >= max_entries) {
      status = absl::InvalidArgumentError(
          absl::StrCat(display, ": more than ", max_entries, " entries"));
      break;
    }
    mode_t type = 0;
    switch (e->d_type) {
      case DT_REG: type = S_IFREG; break;
      case DT_DIR: type = S_IFDIR; break;
      case DT_LNK: type = S_IFLNK; break;
      case DT_FIFO: type = S_IFIFO; break;
      case DT_SOCK: type = S_IFSOCK; break;
      case DT_CHR: type = S_IFCHR; break;
      case DT_BLK: type = S_IFBLK; break;
      default: {
        struct stat st {};
        if (::fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) type = st.st_mode & S_IFMT;
      }
    }
    out.push_back({name, type});
    errno = 0;
  }
  if (status.ok() && errno != 0) status = ErrnoStatus(errno, display);
  ::closedir(dir);
  if (!status.ok()) return status;
  std::sort(out.begin(), out.end(),
            [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
  return out;
}

// Removes the entry `name` of the directory `dirfd`, recursively, never
// following a symlink.
absl::Status RemoveEntry(int dirfd, const std::string& name, const std::string& display,
                         int depth) {
  if (::unlinkat(dirfd, name.c_str(), 0) == 0 || errno == ENOENT) return absl::OkStatus();
  if (errno != EISDIR && errno != EPERM) return ErrnoStatus(errno, display);
  if (depth > kMaxRemoveDepth) {
    return absl::InvalidArgumentError(absl::StrCat(display, ": nested too deeply to remove"));
  }
  UniqueFd child(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!child.valid()) return errno == ENOENT ? absl::OkStatus() : ErrnoStatus(errno, display);
  ASSIGN_OR_RETURN(auto entries, ListFd(child.get(), display, SIZE_MAX));
  for (const auto& e : entries) {
    RETURN_IF_ERROR(RemoveEntry(child.get(), e.name, absl::StrCat(display, "/", e.name), depth + 1));
  }
  if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, display);
  }
  return absl::OkStatus();
}

}  // namespace

bool ForcePortableWalkForTesting(bool force) { return g_force_walk.exchange(force); }

const char* FileTypeName(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return "regular file";
    case S_IFDIR: return "directory";
    case S_IFIFO: return "FIFO";
    case S_IFSOCK: return "socket";
    case S_IFCHR: return "character device";
    case S_IFBLK: return "block device";
    case S_IFLNK: return "symbolic link";
    default: return "special file";
  }
}

absl::StatusOr<FsRoot> FsRoot::Open(const std::string& dir) {
  if (dir.empty() || dir[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat("root '", dir, "' must be an absolute path"));
  }
  UniqueFd fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) {
    const int e = errno;
    if (e == ENOTDIR) return absl::InvalidArgumentError(absl::StrCat("root '", dir, "' is not a directory"));
    return ErrnoStatus(e, absl::StrCat("root '", dir, "'"));
  }
  // The canonical path of what was opened (not of `dir` again: that could
  // have changed in between).
  char buf[PATH_MAX];
  const std::string proc = absl::StrCat("/proc/self/fd/", fd.get());
  const ssize_t n = ::readlink(proc.c_str(), buf, sizeof(buf) - 1);
  std::string canonical;
  if (n > 0 && buf[0] == '/') {
    canonical.assign(buf, static_cast<size_t>(n));
  } else {
    char* real = ::realpath(dir.c_str(), nullptr);  // no /proc: the best we can do
    if (real == nullptr) return ErrnoStatus(errno, absl::StrCat("root '", dir, "'"));
    canonical = real;
    ::free(real);
  }
  auto state = std::make_shared<State>();
  state->fd = std::move(fd);
  state->path = canonical;
  const std::string as_given = Normalize(dir);
  if (as_given != canonical) state->aliases.push_back(as_given);
  FsRoot root;
  root.state_ = std::move(state);
  return root;
}

const std::string& FsRoot::path() const { return state_ ? state_->path : SlashPath(); }

std::string FsRoot::Normalize(absl::string_view path) {
  std::string abs = !path.empty() && path[0] == '/' ? std::string(path)
                                                     : absl::StrCat(CurrentDir(), "/", path);
  std::vector<absl::string_view> parts;
  for (absl::string_view c : absl::StrSplit(abs, '/', absl::SkipEmpty())) {
    if (c != ".") parts.push_back(c);
  }
  return absl::StrCat("/", absl::StrJoin(parts, "/"));
}

absl::StatusOr<std::string> FsRoot::Relative(const std::string& path) const {
  const std::string abs = Normalize(path);
  auto below = [&](const std::string& prefix) -> std::optional<std::string> {
    if (prefix == "/") return abs == "/" ? std::string(".") : abs.substr(1);
    if (abs == prefix) return std::string(".");
    if (abs.size() > prefix.size() && abs.compare(0, prefix.size(), prefix) == 0 &&
        abs[prefix.size()] == '/') {
      return abs.substr(prefix.size() + 1);
    }
    return std::nullopt;
  };
  if (auto r = below(state_->path)) return *r;
  for (const auto& alias : state_->aliases) {
    if (auto r = below(alias)) return *r;
  }
  return absl::PermissionDeniedError(
      absl::StrCat(path, ": outside ", state_->path, " (the folder this is confined to)"));
}

bool FsRoot::Contains(absl::string_view path) const {
  return !state_ || Relative(std::string(path)).ok();
}

absl::StatusOr<FsRoot::Resolved> FsRoot::Resolve(const std::string& path, int flags, mode_t mode,
                                                 bool follow_final, bool track_links) const {
  const int nofollow = follow_final ? 0 : O_NOFOLLOW;
  if (!state_) {
    UniqueFd fd(::openat(AT_FDCWD, path.c_str(), flags | nofollow | O_CLOEXEC, mode));
    if (!fd.valid()) return ErrnoStatus(errno, path);
    return Resolved{std::move(fd), false};
  }
  ASSIGN_OR_RETURN(auto rel, Relative(path));
  if (!g_force_walk.load(std::memory_order_relaxed) && g_openat2.load() != kMissing) {
    uint64_t resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    if (track_links) resolve |= RESOLVE_NO_SYMLINKS;
    bool via_symlink = false;
    for (int attempt = 0; attempt < kMaxRetries; ++attempt) {
      const int fd = Openat2(state_->fd.get(), rel.c_str(), flags | nofollow | O_CLOEXEC, mode,
                             resolve);
      if (fd >= 0) {
        g_openat2.store(kAvailable);
        return Resolved{UniqueFd(fd), via_symlink};
      }
      const int e = errno;
      if (e == EAGAIN) continue;  // a concurrent rename: look again
      if (e == ELOOP && (resolve & RESOLVE_NO_SYMLINKS)) {
        // A link on the way: fine if it stays beneath the root, but the
        // caller must know the file may lie outside the folder it named.
        resolve &= ~static_cast<uint64_t>(RESOLVE_NO_SYMLINKS);
        via_symlink = true;
        continue;
      }
      if (e == ENOSYS) {
        g_openat2.store(kMissing);  // an old kernel (or a seccomp filter)
        break;
      }
      // EXDEV: a link or ".." leaves the root, or an absolute link that may
      // stay inside it; ELOOP: a loop or a refused last-place link; EPERM: a
      // filter. The walk handles the legal cases and names the culprit.
      if (e == EXDEV || e == ELOOP || e == EPERM) break;
      return ErrnoStatus(e, path);
    }
  }
  ASSIGN_OR_RETURN(auto walked,
                   WalkBeneath(path, internal::WalkMode::kOpen, flags & ~O_NOFOLLOW, mode,
                               follow_final));
  return Resolved{std::move(walked.fd), walked.via_symlink};
}

absl::StatusOr<internal::Walked> FsRoot::WalkBeneath(const std::string& path,
                                                     internal::WalkMode mode, int flags,
                                                     mode_t create_mode, bool follow_final) const {
  ASSIGN_OR_RETURN(auto rel, Relative(path));
  internal::WalkRequest w;
  w.root_fd = state_->fd.get();
  w.root_path = state_->path;
  w.root_aliases = state_->aliases;
  w.rel = rel;
  w.display = path;
  w.mode = mode;
  w.flags = flags;
  w.create_mode = create_mode;
  w.follow_final = follow_final;
  return internal::Walk(w);
}

absl::StatusOr<ReadableFile> FsRoot::OpenRegular(const std::string& path) const {
  // Look first without opening: a FIFO, socket or device is never opened.
  {
    ASSIGN_OR_RETURN(auto probe, Resolve(path, O_PATH, 0, /*follow_final=*/true));
    struct stat st {};
    if (::fstat(probe.fd.get(), &st) != 0) return ErrnoStatus(errno, path);
    if (!S_ISREG(st.st_mode)) return NotRegular(path, st.st_mode);
  }
  // Then open for reading without blocking (the name may have been swapped
  // for a FIFO meanwhile) and judge the descriptor that will be read.
  ASSIGN_OR_RETURN(auto opened,
                   Resolve(path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0, /*follow_final=*/true,
                           /*track_links=*/true));
  ReadableFile f;
  f.fd = std::move(opened.fd);
  f.via_symlink = opened.via_symlink;
  if (::fstat(f.fd.get(), &f.st) != 0) return ErrnoStatus(errno, path);
  if (!S_ISREG(f.st.st_mode)) return NotRegular(path, f.st.st_mode);
  const int fl = ::fcntl(f.fd.get(), F_GETFL);
  if (fl < 0 || ::fcntl(f.fd.get(), F_SETFL, fl & ~O_NONBLOCK) != 0) {
    return ErrnoStatus(errno, path);
  }
  return f;
}

absl::StatusOr<std::string> FsRoot::ReadFile(const std::string& path, uint64_t max_bytes,
                                             bool* via_symlink) const {
  ASSIGN_OR_RETURN(auto f, OpenRegular(path));
  if (via_symlink) *via_symlink = f.via_symlink;
  const uint64_t size = static_cast<uint64_t>(f.st.st_size);
  if (size > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", size, " bytes exceeds the limit of ", max_bytes));
  }
  std::string out(static_cast<size_t>(size), '\0');
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::read(f.fd.get(), out.data() + done, out.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat(path, ": read failed: ", std::strerror(errno)));
    }
    if (n == 0) break;  // shrank while being read
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  // One more byte tells whether it grew past its fstat size.
  char extra;
  ssize_t more;
  do {
    more = ::read(f.fd.get(), &extra, 1);
  } while (more < 0 && errno == EINTR);
  if (more > 0) {
    if (out.size() + 1 > max_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": grew past the limit of ", max_bytes,
                                                     " bytes while being read"));
    }
    return absl::FailedPreconditionError(absl::StrCat(path, ": changed while being read"));
  }
  return out;
}

absl::StatusOr<UniqueFd> FsRoot::OpenDirectory(const std::string& path) const {
  ASSIGN_OR_RETURN(auto r, Resolve(path, O_RDONLY | O_DIRECTORY, 0, /*follow_final=*/true));
  return std::move(r.fd);
}

absl::StatusOr<std::optional<struct stat>> FsRoot::StatIfExists(const std::string& path,
                                                                bool follow_final) const {
  auto r = Resolve(path, O_PATH, 0, follow_final);
  if (!r.ok()) {
    if (absl::IsNotFound(r.status())) return std::optional<struct stat>();
    return r.status();
  }
  struct stat st {};
  if (::fstat(r->fd.get(), &st) != 0) return ErrnoStatus(errno, path);
  return std::optional<struct stat>(st);
}

absl::StatusOr<std::vector<DirEntry>> FsRoot::ListDirectory(const std::string& path,
                                                            size_t max_entries) const {
  ASSIGN_OR_RETURN(auto fd, OpenDirectory(path));
  return ListFd(fd.get(), path, max_entries);
}

absl::StatusOr<std::string> FsRoot::RealPath(const std::string& path) const {
  if (!state_) {
    char* real = ::realpath(path.c_str(), nullptr);
    if (real == nullptr) return ErrnoStatus(errno, path);
    std::string out = real;
    ::free(real);
    return out;
  }
  ASSIGN_OR_RETURN(auto walked, WalkBeneath(path, internal::WalkMode::kResolve));
  return walked.real_path;
}

absl::StatusOr<std::string> FsRoot::RealPathAllowMissing(const std::string& path) const {
  if (!state_) {
    std::error_code ec;
    std::string out = std::filesystem::weakly_canonical(Normalize(path), ec).string();
    if (ec) return absl::InvalidArgumentError(absl::StrCat(path, ": ", ec.message()));
    while (out.size() > 1 && out.back() == '/') out.pop_back();
    return out;
  }
  ASSIGN_OR_RETURN(auto walked, WalkBeneath(path, internal::WalkMode::kResolveAllowMissing));
  return walked.real_path;
}

absl::StatusOr<std::pair<UniqueFd, std::string>> FsRoot::OpenParent(const std::string& path) const {
  const std::string abs = Normalize(path);
  const size_t slash = abs.rfind('/');
  std::string name = abs.substr(slash + 1);
  if (name.empty() || name == "..") {
    return absl::InvalidArgumentError(absl::StrCat(path, ": names no entry of a directory"));
  }
  ASSIGN_OR_RETURN(auto parent,
                   OpenDirectory(slash == 0 ? std::string("/") : abs.substr(0, slash)));
  return std::make_pair(std::move(parent), std::move(name));
}

absl::Status FsRoot::MakeDirectory(const std::string& path, mode_t mode) const {
  ASSIGN_OR_RETURN(auto parent, OpenParent(path));
  if (::mkdirat(parent.first.get(), parent.second.c_str(), mode) != 0) {
    return ErrnoStatus(errno, path);
  }
  return absl::OkStatus();
}

absl::Status FsRoot::MakeDirectories(const std::string& path, mode_t mode) const {
  const std::string abs = Normalize(path);
  std::string prefix;
  for (absl::string_view c : absl::StrSplit(abs, '/', absl::SkipEmpty())) {
    absl::StrAppend(&prefix, "/", c);
    if (c == "..") continue;  // resolved beneath the root by the next lookup
    if (state_ && !Relative(prefix).ok()) continue;  // above the root: not ours to create
    auto st = StatIfExists(prefix);
    if (!st.ok()) return st.status();
    if (!st->has_value()) {
      absl::Status made = MakeDirectory(prefix, mode);
      if (made.ok() || absl::IsAlreadyExists(made)) {
        st = StatIfExists(prefix);  // a concurrent creator is fine
        if (!st.ok()) return st.status();
      } else {
        return made;
      }
    }
    if (!st->has_value() || !S_ISDIR((*st)->st_mode)) {
      return absl::AlreadyExistsError(absl::StrCat(prefix, ": exists and is not a directory"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<UniqueFd> FsRoot::CreateFile(const std::string& path, int flags,
                                            mode_t mode) const {
  ASSIGN_OR_RETURN(auto parent, OpenParent(path));
  UniqueFd fd(::openat(parent.first.get(), parent.second.c_str(),
                       flags | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd.valid()) {
    if (errno == ELOOP) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": is a symbolic link; not written"));
    }
    return ErrnoStatus(errno, path);
  }
  return fd;
}

absl::Status FsRoot::Rename(const std::string& from, const std::string& to,
                            unsigned int flags) const {
  ASSIGN_OR_RETURN(auto a, OpenParent(from));
  ASSIGN_OR_RETURN(auto b, OpenParent(to));
  if (::renameat2(a.first.get(), a.second.c_str(), b.first.get(), b.second.c_str(), flags) !=
      0) {
    return ErrnoStatus(errno, to);
  }
  return absl::OkStatus();
}

absl::Status FsRoot::RemoveAll(const std::string& path) const {
  auto parent = OpenParent(path);
  if (!parent.ok()) return absl::IsNotFound(parent.status()) ? absl::OkStatus() : parent.status();
  return RemoveEntry(parent->first.get(), parent->second, path, 0);
}

}  // namespace neobert::base
