// Bounded JSON reads: the one way core parses a JSON file or text.
//
// Every JSON input is someone else's file, so it is capped before it is
// parsed: its size (`JsonLimits::max_bytes`) and the nesting depth of its
// `[` / `{` (`max_depth`, checked by a linear scan so that neither the
// parser nor a later dump ever recurses deeper). Errors are INVALID_ARGUMENT
// and begin with the origin the caller names (usually the file's path):
//
//   "<origin>: too large (N bytes, at most M)"
//   "<origin>: nested too deeply (more than D levels)"
//   "<origin>: not valid JSON (line L, column C: <what went wrong>[ (in '<excerpt>')])"
//   "<origin>: top level must be an object"
//
// The excerpt (a short escaped piece of the failing line, excerpt.h) is shown
// only when the caller allows quoting; ReadJsonObject allows it unless the
// file was reached through a symbolic link. Thread-safe (no state).
#pragma once

#include <cstdint>
#include <exception>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/base/fs_root.h"

namespace neobert::base {

struct JsonLimits {
  uint64_t max_bytes = 1 << 20;  // larger text is refused unparsed
  int max_depth = 64;            // deeper `[` / `{` nesting is refused unparsed
};

// Parses `text`; any JSON value.
absl::StatusOr<nlohmann::json> ParseJson(absl::string_view text, absl::string_view origin,
                                         const JsonLimits& limits, bool quote);

// ParseJson, and the top level must be an object.
absl::StatusOr<nlohmann::json> ParseJsonObject(absl::string_view text, absl::string_view origin,
                                               const JsonLimits& limits, bool quote);

// A JSON object file read through the door (FsRoot::ReadFile, capped at
// limits.max_bytes); errors name `path`. `via_symlink` as in FsRoot.
absl::StatusOr<nlohmann::json> ReadJsonObject(const FsRoot& root, const std::string& path,
                                              const JsonLimits& limits,
                                              bool* via_symlink = nullptr);

// Maximum nesting depth of `[` / `{` in `text` (strings skipped). Does not
// validate the JSON.
int JsonNestingDepth(absl::string_view text);

// The message of a JSON library exception `e` raised on `text` (a parse
// error, or a type error from `at()` / `get<T>()`), without the input the
// library quotes: "line L, column C: <what went wrong>" for a parse error,
// plus the excerpt of that line when `quote`; other errors as they are,
// without the library's "[json.exception...]" tag.
std::string JsonErrorText(const std::exception& e, absl::string_view text, bool quote);

}  // namespace neobert::base
