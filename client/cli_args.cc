#include "client/cli_args.h"

#include <unistd.h>

#include <climits>

#include "absl/strings/str_cat.h"

namespace neobert::cli {

absl::StatusOr<base::FsRoot> CommandRoot(const ParsedArgs& parsed) {
  auto dir = parsed.Value("confine");
  if (!dir) return base::FsRoot::Unconfined();
  std::string path = *dir;
  if (path.empty() || path[0] != '/') {
    char cwd[PATH_MAX];
    if (::getcwd(cwd, sizeof(cwd)) == nullptr) return absl::InternalError("getcwd failed");
    path = absl::StrCat(cwd, "/", path);
  }
  auto root = base::FsRoot::Open(path);
  if (!root.ok()) {
    return absl::Status(root.status().code(),
                        absl::StrCat("--confine: ", root.status().message()));
  }
  return root;
}

std::optional<std::string> ParsedArgs::Value(const std::string& flag) const {
  auto it = values.find(flag);
  if (it == values.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args, const FlagSpec& spec) {
  ParsedArgs out;
  bool only_positional = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (only_positional || a.size() < 2 || a[0] != '-') {
      out.positional.push_back(a);
      continue;
    }
    if (a == "--") {
      only_positional = true;
      continue;
    }
    std::string name;
    std::optional<std::string> inline_value;
    if (a[1] == '-') {
      name = a.substr(2);
      if (auto eq = name.find('='); eq != std::string::npos) {
        inline_value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
    } else {
      auto it = a.size() == 2 ? spec.short_names.find(a[1]) : spec.short_names.end();
      if (it == spec.short_names.end()) {
        return absl::InvalidArgumentError(absl::StrCat("unknown option '", a, "'"));
      }
      name = it->second;
    }
    if (spec.boolean.count(name)) {
      if (inline_value) {
        return absl::InvalidArgumentError(absl::StrCat("option --", name, " takes no value"));
      }
      out.bools.insert(name);
    } else if (spec.valued.count(name)) {
      if (inline_value) {
        out.values[name] = *inline_value;
      } else if (i + 1 < args.size()) {
        out.values[name] = args[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("option --", name, " needs a value"));
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown option '--", name, "'"));
    }
  }
  return out;
}

}  // namespace neobert::cli
