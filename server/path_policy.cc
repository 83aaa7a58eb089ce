#include "server/path_policy.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/status_macros.h"

namespace neobert::server {

namespace {

absl::Status CheckRequestPath(const std::string& path, const char* what) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  if (path[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " '", path, "' must be absolute (the server has its own cwd)"));
  }
  if (path.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(what, " contains a NUL byte"));
  }
  return absl::OkStatus();
}

std::string RootList(const std::vector<base::FsRoot>& roots) {
  std::vector<std::string> paths;
  for (const auto& r : roots) paths.push_back(r.path());
  return absl::StrJoin(paths, ", ");
}

absl::StatusOr<std::vector<base::FsRoot>> OpenRoots(const std::vector<std::string>& dirs,
                                                    const char* what) {
  std::vector<base::FsRoot> roots;
  for (const auto& d : dirs) {
    auto r = base::FsRoot::Open(d);
    if (!r.ok()) {
      return absl::Status(r.status().code(), absl::StrCat(what, " ", r.status().message()));
    }
    roots.push_back(*std::move(r));
  }
  return roots;
}

// Tries each root that holds `path` lexically (nested roots: the first that
// resolves it wins); the first failure otherwise.
template <typename Fn>
absl::StatusOr<ResolvedPath> Resolve(const std::vector<base::FsRoot>& roots,
                                     const std::string& path, const char* what, Fn resolve) {
  absl::Status first;
  for (const auto& root : roots) {
    if (!root.Contains(path)) continue;
    auto r = resolve(root);
    if (r.ok()) return ResolvedPath{root, *std::move(r)};
    if (first.ok()) first = r.status();
  }
  if (!first.ok()) return first;
  return absl::PermissionDeniedError(absl::StrCat(what, " '", path, "' is outside the allowed ",
                                                  what[0] == 'i' ? "input" : "output",
                                                  " roots (", RootList(roots), ")"));
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
  ASSIGN_OR_RETURN(auto in, OpenRoots(input_roots, "input"));
  ASSIGN_OR_RETURN(auto out, OpenRoots(output_roots, "output"));
  p.input_roots_ = std::move(in);
  p.output_roots_ = std::move(out);
  return p;
}

absl::StatusOr<ResolvedPath> PathPolicy::ResolveInput(const std::string& path) const {
  RETURN_IF_ERROR(CheckRequestPath(path, "input path"));
  return Resolve(input_roots_, path, "input path", [&](const base::FsRoot& root) {
    return root.RealPath(path);
  });
}

absl::StatusOr<ResolvedPath> PathPolicy::ResolveOutput(const std::string& path) const {
  RETURN_IF_ERROR(CheckRequestPath(path, "output path"));
  return Resolve(output_roots_, path, "output path",
                 [&](const base::FsRoot& root) -> absl::StatusOr<std::string> {
                   auto r = root.RealPathAllowMissing(path);
                   if (r.ok() && *r == root.path()) {
                     return absl::PermissionDeniedError(absl::StrCat(
                         "output path '", path, "' is the output root ", root.path(),
                         " itself; name a folder below it"));
                   }
                   return r;
                 });
}

}  // namespace neobert::server
