// A small command-line parser for the neobert-export subcommands:
// positionals plus --flag, --flag=value and --flag value. Unknown flags are a
// usage error (exit code 2), never silently ignored.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/base/fs_root.h"

namespace neobert::cli {

// Exit codes shared by every subcommand, by class of failure (the same
// numbers in --help, the README and the --json result's "exit_code"):
enum ExitCode : int {
  kExitOk = 0,
  kExitFailed = 1,            // invalid input (bad checkpoint, missing file, existing
                              // destination, unknown job) or any other failure
  kExitUsage = 2,             // usage error (unknown flag, missing argument)
  kExitUnreachable = 3,       // server unreachable, draining, its queue full, or a
                              // deadline passed: try again later
  kExitValidationFailed = 4,  // a validation report with a failing check
  kExitDenied = 5,            // path outside the server's roots, or not authenticated
  kExitCancelled = 6,         // the job was cancelled or interrupted (server stopped)
};

struct FlagSpec {
  std::set<std::string> boolean;  // flags without a value, e.g. "json"
  std::set<std::string> valued;   // flags taking a value, e.g. "output"
  std::map<char, std::string> short_names;  // e.g. {'o', "output"}
};

struct ParsedArgs {
  std::vector<std::string> positional;
  std::set<std::string> bools;
  std::map<std::string, std::string> values;

  bool Has(const std::string& flag) const { return bools.count(flag) > 0; }
  std::optional<std::string> Value(const std::string& flag) const;
};

// Fails with INVALID_ARGUMENT (a usage error) on unknown or malformed flags.
absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args, const FlagSpec& spec);

// The door every file of a local command goes through (core/base/fs_root.h):
// the whole file system with links followed (the user owns them), or, with
// the valued flag --confine DIR, DIR opened as a root: every input and
// output must lie beneath it and no link may lead out of it. Either way only
// regular files are read. An unusable DIR is an error naming it.
absl::StatusOr<base::FsRoot> CommandRoot(const ParsedArgs& parsed);

}  // namespace neobert::cli
