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

namespace neobert::cli {

// Exit codes shared by every subcommand.
enum ExitCode : int {
  kExitOk = 0,
  kExitFailed = 1,       // bad input or a failed check
  kExitUsage = 2,        // usage error
  kExitUnreachable = 3,  // server unreachable
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

}  // namespace neobert::cli
