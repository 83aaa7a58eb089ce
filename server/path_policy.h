// Which paths a request may name, and the door each is reached through.
//
// The roots are opened once, at start-up (base::FsRoot::Open): from then on
// every input (a checkpoint, an export folder to validate) is resolved
// beneath one of the input roots' descriptors and every output beneath one
// of the output roots', by the kernel (openat2 RESOLVE_BENEATH) or by the
// portable O_NOFOLLOW walk (core/base/fs_root.h). A request names a path
// lexically inside a root (as configured, or its canonical path); symlinks
// in it are followed only while they stay beneath that root, and one that
// leaves is PERMISSION_DENIED naming the link.
//
// The job carries the root along (ResolvedPath::root), and every file the
// job later opens, lists, creates or renames goes through that root again.
// So a directory swapped for a symlink between submission and the job's
// reads (or during them) cannot make the server read or write outside the
// roots: the lookup that would cross the link fails at the moment of the
// open, and the descriptor that is checked is the one that is read.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/base/fs_root.h"

namespace neobert::server {

// A request path resolved beneath a root.
struct ResolvedPath {
  base::FsRoot root;  // the root it lies beneath: the job's door
  std::string path;   // canonical (symlinks beneath the root resolved), absolute
};

class PathPolicy {
 public:
  // Opens every root (each must be an existing directory). INVALID_ARGUMENT
  // or NOT_FOUND naming the bad root otherwise. No roots → every path denied.
  static absl::StatusOr<PathPolicy> Create(const std::vector<std::string>& input_roots,
                                           const std::vector<std::string>& output_roots);

  // An existing input. INVALID_ARGUMENT for a relative or empty path,
  // NOT_FOUND when it does not exist, PERMISSION_DENIED when it lies outside
  // every input root or a link on the way leaves the root.
  absl::StatusOr<ResolvedPath> ResolveInput(const std::string& path) const;
  // A destination (it need not exist yet; its existing prefix is resolved
  // beneath the root). PERMISSION_DENIED when outside every output root, when
  // a link on the way leaves it, or when it is a root itself (an export
  // replaces its destination wholesale).
  absl::StatusOr<ResolvedPath> ResolveOutput(const std::string& path) const;

  const std::vector<base::FsRoot>& input_roots() const { return input_roots_; }
  const std::vector<base::FsRoot>& output_roots() const { return output_roots_; }

 private:
  std::vector<base::FsRoot> input_roots_;
  std::vector<base::FsRoot> output_roots_;
};

// True when `path` is `root` or below it (both canonical, absolute).
bool IsWithin(const std::string& path, const std::string& root);

}  // namespace neobert::server
