#include "core/base/excerpt.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace neobert::base {

std::string Excerpt(absl::string_view text, size_t max_chars) {
  std::string out;
  bool cut = false;
  for (char c : text) {
    // One character at a time so an escape sequence is never split.
    const std::string piece = absl::CHexEscape(absl::string_view(&c, 1));
    if (out.size() + piece.size() > max_chars) {
      cut = true;
      break;
    }
    out += piece;
  }
  if (cut) out += "...";
  return out;
}

absl::string_view LineOf(absl::string_view text, size_t line) {
  size_t start = 0;
  for (size_t i = 0; i < line; ++i) {
    const size_t nl = text.find('\n', start);
    if (nl == absl::string_view::npos) return "";
    start = nl + 1;
  }
  size_t end = text.find('\n', start);
  if (end == absl::string_view::npos) end = text.size();
  absl::string_view l = text.substr(start, end - start);
  if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
  return l;
}

LineAt LineAtOffset(absl::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  LineAt at;
  size_t start = 0;
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++at.line;
      start = i + 1;
    }
  }
  at.column = offset - start;
  at.text = LineOf(text.substr(start), 0);
  return at;
}

absl::Status WithoutContent(const absl::Status& s, absl::string_view path) {
  if (s.ok()) return s;
  return absl::Status(
      s.code(), absl::StrCat(path, ": not usable (", absl::StatusCodeToString(s.code()),
                             "); it is reached through a symbolic link, so the details, which "
                             "could quote another file, are not shown"));
}

}  // namespace neobert::base
