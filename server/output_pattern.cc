#include "server/output_pattern.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/base/status_macros.h"

namespace neobert::server {
namespace fs = std::filesystem;

namespace {

constexpr absl::string_view kPlaceholders[] = {"{run}", "{step}"};

}  // namespace

absl::Status CheckOutputPattern(absl::string_view pattern, const PathPolicy& policy,
                                absl::string_view flag) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " ", pattern, ": ", why));
  };
  if (pattern.empty() || pattern.front() != '/') return bad("must be an absolute path");
  // Every '{' must open a known placeholder; '}' never stands alone.
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '}') return bad("'}' without '{'");
    if (pattern[i] != '{') continue;
    bool known = false;
    for (absl::string_view p : kPlaceholders) {
      if (pattern.substr(i, p.size()) == p) {
        known = true;
        i += p.size() - 1;
        break;
      }
    }
    if (!known) return bad("unknown placeholder (use {run} and {step})");
  }
  if (pattern.find("{step}") == absl::string_view::npos) {
    return bad("must contain {step}, so that each checkpoint gets a folder of its own "
               "(e.g. /exports/{run}/{run}_{step})");
  }
  // The fixed folders before the first placeholder must lie in an output root
  // (the same check a request's output_dir gets).
  const std::string prefix(pattern.substr(0, pattern.rfind('/', pattern.find('{')) + 1));
  RETURN_IF_ERROR(policy.ResolveOutput(prefix + "probe"), "--", flag, " ", pattern);
  return absl::OkStatus();
}

std::string ExpandOutputPattern(absl::string_view pattern, absl::string_view run,
                                absl::string_view step) {
  return absl::StrReplaceAll(pattern, {{"{run}", run}, {"{step}", step}});
}

absl::StatusOr<std::string> OutputForCheckpoint(absl::string_view pattern,
                                                const std::string& canonical_checkpoint) {
  const fs::path ckpt(canonical_checkpoint);
  const fs::path run = ckpt.parent_path().parent_path();
  if (ckpt.parent_path() == ckpt.root_path() || run.filename().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        canonical_checkpoint,
        ": no <run>/<folder>/<step> structure to fill the default output pattern ", pattern,
        "; give an output directory"));
  }
  return ExpandOutputPattern(pattern, run.filename().string(), ckpt.filename().string());
}

}  // namespace neobert::server
