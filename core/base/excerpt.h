// Short, escaped excerpts of file contents for error messages.
//
// Error text travels far (job events, logs, CLI output), so it never carries
// more of an input file than a few dozen characters of the line that failed
// to parse, with control bytes and non-ASCII escaped. Callers decide whether
// even that is allowed: a file reached through a symbolic link may not belong
// to the checkpoint being read, and then nothing of it is quoted.
#pragma once

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace neobert::base {

// The most characters of file content an error message may quote.
inline constexpr size_t kMaxExcerptChars = 40;

// `text` with every byte outside printable ASCII (and '\\', '\'', '"')
// escaped C-style, cut to `max_chars` characters of the result; "..." marks a
// cut. Never splits an escape sequence.
std::string Excerpt(absl::string_view text, size_t max_chars = kMaxExcerptChars);

// Line `line` (0-based) of `text`, without its line ending; "" past the end.
absl::string_view LineOf(absl::string_view text, size_t line);

// The line holding byte `offset` of `text` and its 0-based number.
struct LineAt {
  size_t line = 0;
  size_t column = 0;  // 0-based byte column
  absl::string_view text;
};
LineAt LineAtOffset(absl::string_view text, size_t offset);

// For a file reached through a symbolic link (FsRoot's via_symlink): `s`
// with its code but a message naming only `path` and saying why nothing
// more is shown. OK passes through.
absl::Status WithoutContent(const absl::Status& s, absl::string_view path);

}  // namespace neobert::base
