// The portable half of FsRoot (fs_root.h): resolving a path beneath a root
// directory descriptor in user space, for kernels without openat2 and to
// explain what openat2 refused (it says only EXDEV, not which link escaped).
//
// The walk keeps a stack of O_PATH descriptors, one per directory entered
// from the root. Each component is opened relative to the top of the stack
// with O_NOFOLLOW; a symbolic link is read (readlinkat on the link's own
// descriptor) and its target's components are resolved in its place: a
// relative target from the link's directory, an absolute one only when it
// names a place below the root (then from the root). ".." pops the stack
// instead of asking the kernel for the parent, so it can never climb above
// the root, and a directory moved elsewhere after it was entered cannot
// lead the walk outside either: the walk only ever descends from the root's
// own descriptor. At most kMaxSymlinks links are followed.
//
// Internal to core/base; use FsRoot.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/base/unique_fd.h"

namespace neobert::base::internal {

inline constexpr int kMaxSymlinks = 40;

enum class WalkMode : int {
  kOpen,                 // open the final component with `flags`
  kResolve,              // the final object as an O_PATH descriptor
  kResolveAllowMissing,  // as kResolve; a missing tail is kept lexically
};

struct WalkRequest {
  int root_fd = -1;
  // The root's canonical path, and other absolute paths that name it (the
  // path it was opened by): absolute link targets below one of them are
  // followed from the root.
  std::string root_path;
  std::vector<std::string> root_aliases;
  std::string rel;      // below the root; may hold "." and ".."
  std::string display;  // the caller's path, for messages
  WalkMode mode = WalkMode::kOpen;
  int flags = 0;        // kOpen: open(2) flags (O_NOFOLLOW and O_CLOEXEC are added)
  mode_t create_mode = 0;
  bool follow_final = true;  // follow a symlink in the last place
};

struct Walked {
  UniqueFd fd;            // invalid only for a missing tail (kResolveAllowMissing)
  std::string real_path;  // root_path + the physical components (+ missing tail)
  bool via_symlink = false;
};

absl::StatusOr<Walked> Walk(const WalkRequest& request);

// errno `e` from an operation on `display` as a status: ENOENT/ENOTDIR →
// NOT_FOUND, EACCES/EPERM → PERMISSION_DENIED, ENOSPC/EDQUOT →
// RESOURCE_EXHAUSTED, EEXIST → ALREADY_EXISTS, ELOOP/EISDIR/ENXIO/
// ENAMETOOLONG/EINVAL → INVALID_ARGUMENT, else INTERNAL.
absl::Status ErrnoStatus(int e, absl::string_view display);

}  // namespace neobert::base::internal
