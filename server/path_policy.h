// Which paths a request may name. Every input (checkpoint or export folder to
// validate) must resolve, symlinks followed, to a place inside one of the
// input roots; every output inside one of the output roots. Resolution is
// done on the real file system so "../" and symlinks cannot escape a root.
//
// Known limit: a path is checked when the job is submitted; someone who can
// write inside a root could still swap a directory for a symlink before the
// job runs. Roots should therefore be writable only by trusted parties.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace neobert::server {

class PathPolicy {
 public:
  // Roots must exist; they are canonicalised once here. INVALID_ARGUMENT or
  // NOT_FOUND naming the bad root otherwise. No roots → every path denied.
  static absl::StatusOr<PathPolicy> Create(const std::vector<std::string>& input_roots,
                                           const std::vector<std::string>& output_roots);

  // The canonical path of an existing input. INVALID_ARGUMENT for a relative
  // or empty path, NOT_FOUND when it does not exist, PERMISSION_DENIED when
  // it lies outside every input root.
  absl::StatusOr<std::string> ResolveInput(const std::string& path) const;
  // The resolved destination (it need not exist yet; its existing prefix is
  // canonicalised). PERMISSION_DENIED when outside every output root or equal
  // to a root itself (an export replaces its destination wholesale).
  absl::StatusOr<std::string> ResolveOutput(const std::string& path) const;

  const std::vector<std::string>& input_roots() const { return input_roots_; }
  const std::vector<std::string>& output_roots() const { return output_roots_; }

 private:
  std::vector<std::string> input_roots_;
  std::vector<std::string> output_roots_;
};

// True when `path` is `root` or below it (both canonical, absolute).
bool IsWithin(const std::string& path, const std::string& root);

}  // namespace neobert::server
