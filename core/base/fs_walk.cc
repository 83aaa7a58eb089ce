#include "core/base/fs_walk.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>
#include <deque>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/base/excerpt.h"
#include "core/base/status_macros.h"

namespace neobert::base::internal {
namespace {

struct Component {
  std::string name;
  int link = -1;  // index of the link whose target it came from; -1: the request
};

struct Link {
  std::string where;   // physical path of the link
  std::string target;  // what it holds
};

std::vector<std::string> Split(absl::string_view p) {
  return absl::StrSplit(p, '/', absl::SkipEmpty());
}

// `path` below `prefix` ("" for prefix itself), or nullopt.
std::optional<std::string> Below(absl::string_view path, absl::string_view prefix) {
  while (prefix.size() > 1 && prefix.back() == '/') prefix.remove_suffix(1);
  if (prefix == "/") return std::string(path.substr(1));
  if (path.size() < prefix.size() || path.substr(0, prefix.size()) != prefix) return std::nullopt;
  if (path.size() == prefix.size()) return std::string();
  if (path[prefix.size()] != '/') return std::nullopt;
  return std::string(path.substr(prefix.size() + 1));
}

class Walker {
 public:
  explicit Walker(const WalkRequest& r) : r_(r) {
    for (const auto& c : Split(r.rel)) todo_.push_back({c, -1});
  }

  absl::StatusOr<Walked> Run() {
    while (!todo_.empty()) {
      Component c = std::move(todo_.front());
      todo_.pop_front();
      if (c.name == ".") continue;
      const bool last = todo_.empty();
      if (!missing_.empty()) {  // lexical tail below a missing component
        if (c.name == "..") {
          missing_.pop_back();
        } else {
          missing_.push_back(c.name);
        }
        continue;
      }
      if (c.name == "..") {
        if (names_.empty()) return Escape(c.link);
        fds_.pop_back();
        names_.pop_back();
        continue;
      }
      if (last && r_.mode == WalkMode::kOpen) {
        UniqueFd fd(::openat(Top(), c.name.c_str(), r_.flags | O_NOFOLLOW | O_CLOEXEC,
                             r_.create_mode));
        struct stat st {};
        // O_PATH | O_NOFOLLOW opens a link itself rather than failing.
        if (fd.valid() && (r_.flags & O_PATH) && r_.follow_final &&
            ::fstat(fd.get(), &st) == 0 && S_ISLNK(st.st_mode)) {
          RETURN_IF_ERROR(Expand(fd.get(), c.name));
          continue;
        }
        if (fd.valid()) return Walked{std::move(fd), Here(c.name), via_symlink_};
        const int e = errno;
        // A symlink in the last place: O_NOFOLLOW gives ELOOP (ENOTDIR with
        // O_DIRECTORY on some kernels); anything else is the answer.
        if ((e == ELOOP || e == ENOTDIR) &&
            ::fstatat(Top(), c.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISLNK(st.st_mode)) {
          if (!r_.follow_final) {
            return absl::InvalidArgumentError(
                absl::StrCat(Here(c.name), ": is a symbolic link (not followed here)"));
          }
          UniqueFd link(::openat(Top(), c.name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
          if (!link.valid()) return ErrnoStatus(errno, r_.display);
          RETURN_IF_ERROR(Expand(link.get(), c.name));
          continue;
        }
        return ErrnoStatus(e, r_.display);
      }
      UniqueFd fd(::openat(Top(), c.name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
      if (!fd.valid()) {
        const int e = errno;
        if (e == ENOENT && r_.mode == WalkMode::kResolveAllowMissing) {
          missing_.push_back(c.name);
          continue;
        }
        return ErrnoStatus(e, r_.display);
      }
      struct stat st {};
      if (::fstat(fd.get(), &st) != 0) return ErrnoStatus(errno, r_.display);
      if (S_ISLNK(st.st_mode) && (!last || r_.follow_final)) {
        RETURN_IF_ERROR(Expand(fd.get(), c.name));
        continue;
      }
      if (last) return Walked{std::move(fd), Here(c.name), via_symlink_};
      if (!S_ISDIR(st.st_mode)) {
        return absl::NotFoundError(
            absl::StrCat(r_.display, ": ", Here(c.name), " is not a directory"));
      }
      fds_.push_back(std::move(fd));
      names_.push_back(c.name);
    }
    // Ended on the root, on a directory left by "." or "..", or in a
    // missing tail.
    if (!missing_.empty()) {
      return Walked{UniqueFd(), absl::StrCat(Here(""), absl::StrJoin(missing_, "/")), via_symlink_};
    }
    const int flags = r_.mode == WalkMode::kOpen ? r_.flags : O_PATH;
    UniqueFd fd(::openat(Top(), ".", flags | O_CLOEXEC, r_.create_mode));
    if (!fd.valid()) return ErrnoStatus(errno, r_.display);
    std::string here = Here("");
    if (here.size() > 1) here.pop_back();  // no trailing '/'
    return Walked{std::move(fd), std::move(here), via_symlink_};
  }

 private:
  int Top() const { return fds_.empty() ? r_.root_fd : fds_.back().get(); }

  // The physical path of `name` in the current directory.
  std::string Here(absl::string_view name) const {
    std::string p = r_.root_path;
    if (p.empty() || p.back() != '/') p += '/';
    for (const auto& n : names_) absl::StrAppend(&p, n, "/");
    absl::StrAppend(&p, name);
    return p;
  }

  absl::Status Escape(int link) const {
    if (link < 0) {
      return absl::PermissionDeniedError(
          absl::StrCat(r_.display, ": '..' leads outside ", r_.root_path));
    }
    return absl::PermissionDeniedError(
        absl::StrCat(links_[link].where, ": symbolic link to '", Excerpt(links_[link].target, 200),
                     "' leads outside ", r_.root_path));
  }

  // Replaces the link `name` (open as `link_fd`) by its target's components.
  absl::Status Expand(int link_fd, const std::string& name) {
    if (static_cast<int>(links_.size()) >= kMaxSymlinks) {
      return absl::InvalidArgumentError(
          absl::StrCat(r_.display, ": too many levels of symbolic links"));
    }
    char buf[PATH_MAX];
    const ssize_t n = ::readlinkat(link_fd, "", buf, sizeof(buf));
    if (n < 0) return ErrnoStatus(errno, Here(name));
    if (static_cast<size_t>(n) >= sizeof(buf) || n == 0) {
      return absl::InvalidArgumentError(absl::StrCat(Here(name), ": unusable symbolic link"));
    }
    via_symlink_ = true;
    const int index = static_cast<int>(links_.size());
    links_.push_back({Here(name), std::string(buf, static_cast<size_t>(n))});
    const std::string& target = links_.back().target;
    std::vector<std::string> parts;
    if (target[0] == '/') {
      std::optional<std::string> below = Below(target, r_.root_path);
      for (size_t i = 0; !below && i < r_.root_aliases.size(); ++i) {
        below = Below(target, r_.root_aliases[i]);
      }
      if (!below) return Escape(index);
      parts = Split(*below);
      fds_.clear();
      names_.clear();
    } else {
      parts = Split(target);
    }
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) todo_.push_front({*it, index});
    return absl::OkStatus();
  }

  const WalkRequest& r_;
  std::deque<Component> todo_;
  std::vector<UniqueFd> fds_;        // directories entered below the root
  std::vector<std::string> names_;   // their names, parallel to fds_
  std::vector<std::string> missing_;
  std::vector<Link> links_;
  bool via_symlink_ = false;
};

}  // namespace

absl::StatusOr<Walked> Walk(const WalkRequest& request) { return Walker(request).Run(); }

absl::Status ErrnoStatus(int e, absl::string_view display) {
  std::string why = std::strerror(e);
  if (!why.empty()) why[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(why[0])));
  std::string msg = absl::StrCat(display, ": ", why);
  switch (e) {
    case ENOENT:
    case ENOTDIR: return absl::NotFoundError(msg);
    case EACCES:
    case EPERM: return absl::PermissionDeniedError(msg);
    case ENOSPC:
    case EDQUOT: return absl::ResourceExhaustedError(msg);
    case EEXIST:
    case ENOTEMPTY: return absl::AlreadyExistsError(msg);
    case ELOOP:
    case EISDIR:
    case ENXIO:
    case ENAMETOOLONG:
    case EINVAL: return absl::InvalidArgumentError(msg);
    default: return absl::InternalError(msg);
  }
}

}  // namespace neobert::base::internal
