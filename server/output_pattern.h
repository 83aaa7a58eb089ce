// --default-output-dir: where an export goes when its request names no
// output_dir, and where watch mode puts a step when --watch-output is not
// given. In a cluster the checkpoint volume is mounted read-only, so the
// trainer-side default (<run>/hf/<run>_<step>, next to the checkpoints) lies
// outside every output root; a pattern under the output root replaces it.
//
// A pattern is an absolute path with placeholders, each replaced by a folder
// name taken from the checkpoint's canonical path
// <...>/<run>/<checkpoints folder>/<step>:
//   {run}   the run folder's name (the checkpoint's grandparent)
//   {step}  the checkpoint folder's name
// e.g. /exports/{run}/{run}_{step}. Any other {name} is an error, so a typo
// is caught at start-up rather than on the first request.
//
// Thread-safety: free functions, no state.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/path_policy.h"

namespace neobert::server {

// INVALID_ARGUMENT (naming `flag`) unless `pattern` is absolute, contains
// {step} (every checkpoint needs a destination of its own) and only known
// placeholders; PERMISSION_DENIED when its fixed folders (up to the first
// placeholder) lie outside every output root of `policy`.
absl::Status CheckOutputPattern(absl::string_view pattern, const PathPolicy& policy,
                                absl::string_view flag);

// The pattern with {run} and {step} replaced. The pattern must have passed
// CheckOutputPattern.
std::string ExpandOutputPattern(absl::string_view pattern, absl::string_view run,
                                absl::string_view step);

// ExpandOutputPattern with the names read from `canonical_checkpoint` (an
// absolute, symlink-free path). INVALID_ARGUMENT when it has no run folder
// (e.g. /checkpoints/100: the grandparent is the file system root).
absl::StatusOr<std::string> OutputForCheckpoint(absl::string_view pattern,
                                                const std::string& canonical_checkpoint);

}  // namespace neobert::server
