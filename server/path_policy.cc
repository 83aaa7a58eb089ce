#include "server/path_policy.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace neobert::server {
namespace fs = std::filesystem;

namespace {

absl::StatusOr<std::string> CanonicalRoot(const std::string& root) {
  if (root.empty() || !fs::path(root).is_absolute()) {
    return absl::InvalidArgumentError(absl::StrCat("root '", root, "' must be an absolute path"));
  }
  std::error_code ec;
  fs::path p = fs::canonical(root, ec);
  if (ec) return absl::NotFoundError(absl::StrCat("root '", root, "': ", ec.message()));
  if (!fs::is_directory(p, ec)) {
    return absl::InvalidArgumentError(absl::StrCat("root '", root, "' is not a directory"));
  }
  return p.string();
}

absl::Status CheckRequestPath(const std::string& path, const char* what) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  if (!fs::path(path).is_absolute()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " '", path, "' must be absolute (the server has its own cwd)"));
  }
  if (path.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(what, " contains a NUL byte"));
  }
  return absl::OkStatus();
}

}  // namespace

bool IsWithin(const std::string& path, const std::string& root) {
  if (root == "/") return !path.empty() && path[0] == '/';
  if (path.size() < root.size() || path.compare(0, root.size(), root) != 0) return false;
  return path.size() == root.size() || path[root.size()] == '/';
}

absl::StatusOr<PathPolicy> PathPolicy::Create(const std::vector<std::string>& input_roots,
                                              const std::vector<std::string>& output_roots) {
  PathPolicy p;
  for (const auto& r : input_roots) {
    auto c = CanonicalRoot(r);
    if (!c.ok()) return absl::Status(c.status().code(), absl::StrCat("input ", c.status().message()));
    p.input_roots_.push_back(*c);
  }
  for (const auto& r : output_roots) {
    auto c = CanonicalRoot(r);
    if (!c.ok()) return absl::Status(c.status().code(), absl::StrCat("output ", c.status().message()));
    p.output_roots_.push_back(*c);
  }
  return p;
}

absl::StatusOr<std::string> PathPolicy::ResolveInput(const std::string& path) const {
  if (auto s = CheckRequestPath(path, "input path"); !s.ok()) return s;
  std::error_code ec;
  fs::path c = fs::canonical(path, ec);
  if (ec) return absl::NotFoundError(absl::StrCat("input path '", path, "': ", ec.message()));
  const std::string resolved = c.string();
  for (const auto& root : input_roots_) {
    if (IsWithin(resolved, root)) return resolved;
  }
  return absl::PermissionDeniedError(absl::StrCat("input path '", path, "' (resolved to '",
                                                  resolved, "') is outside the allowed input roots"));
}

absl::StatusOr<std::string> PathPolicy::ResolveOutput(const std::string& path) const {
  if (auto s = CheckRequestPath(path, "output path"); !s.ok()) return s;
  std::error_code ec;
  // weakly_canonical resolves symlinks in the existing prefix and "." / ".."
  // lexically in the rest, so a not-yet-created destination is judged by
  // where it would really land.
  fs::path c = fs::weakly_canonical(path, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("output path '", path, "': ", ec.message()));
  std::string resolved = c.string();
  while (resolved.size() > 1 && resolved.back() == '/') resolved.pop_back();
  for (const auto& root : output_roots_) {
    if (resolved != root && IsWithin(resolved, root)) return resolved;
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "output path '", path, "' (resolved to '", resolved,
      "') is not below an allowed output root"));
}

}  // namespace neobert::server
