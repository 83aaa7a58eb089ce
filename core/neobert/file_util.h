// Small helpers for the knowledge layer's text files (config.yaml, JSON).
// Reading them goes through the door (core/base/fs_root.h: FsRoot::ReadFile):
// regular files only, beneath the job's root, capped.
#pragma once

#include <exception>
#include <string>

#include "absl/strings/string_view.h"

namespace neobert::core {

// Maximum nesting depth of `[`/`{` in JSON text (strings skipped). Used to
// refuse pathologically nested input before a recursive parser or dumper
// sees it. Does not validate the JSON.
int JsonNestingDepth(absl::string_view text);

// The message of a JSON library exception `e` raised on `text`, without the
// input the library quotes (its parse errors end in "last read: '<token>'",
// which may be a whole line of someone else's file): "line L, column C: <what
// went wrong>" for a parse error, plus a short escaped excerpt of that line
// (base::Excerpt) when `quote` is set; other errors as they are, without the
// library's "[json.exception...]" tag.
std::string JsonErrorText(const std::exception& e, absl::string_view text, bool quote);

}  // namespace neobert::core
