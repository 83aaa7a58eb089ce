#include "core/base/json.h"

#include "absl/strings/str_cat.h"
#include "core/base/excerpt.h"

namespace neobert::base {

int JsonNestingDepth(absl::string_view text) {
  int depth = 0, max_depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '[':
      case '{':
        if (++depth > max_depth) max_depth = depth;
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default: break;
    }
  }
  return max_depth;
}

std::string JsonErrorText(const std::exception& e, absl::string_view text, bool quote) {
  std::string what = e.what();
  if (what.rfind("[json.exception.", 0) == 0) {
    if (const size_t tag_end = what.find("] "); tag_end != std::string::npos) {
      what = what.substr(tag_end + 2);
    }
  }
  const auto* parse = dynamic_cast<const nlohmann::json::parse_error*>(&e);
  if (parse == nullptr) return what;
  // "parse error at line 1, column 5: syntax error while parsing value -
  // invalid literal; last read: '...'; expected ...": keep what went wrong.
  std::string reason = what;
  if (const size_t colon = reason.find(": "); colon != std::string::npos) {
    reason = reason.substr(colon + 2);
  }
  if (const size_t read = reason.find("; last read"); read != std::string::npos) {
    reason.resize(read);
  }
  const size_t offset = parse->byte > 0 ? parse->byte - 1 : 0;
  const LineAt at = LineAtOffset(text, offset);
  std::string out = absl::StrCat("line ", at.line + 1, ", column ", at.column + 1, ": ", reason);
  if (quote) absl::StrAppend(&out, " (in '", Excerpt(at.text), "')");
  return out;
}

absl::StatusOr<nlohmann::json> ParseJson(absl::string_view text, absl::string_view origin,
                                         const JsonLimits& limits, bool quote) {
  if (text.size() > limits.max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": too large (", text.size(),
                                                   " bytes, at most ", limits.max_bytes, ")"));
  }
  if (JsonNestingDepth(text) > limits.max_depth) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": nested too deeply (more than ", limits.max_depth, " levels)"));
  }
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": not valid JSON (", JsonErrorText(e, text, quote), ")"));
  }
}

absl::StatusOr<nlohmann::json> ParseJsonObject(absl::string_view text, absl::string_view origin,
                                               const JsonLimits& limits, bool quote) {
  auto j = ParseJson(text, origin, limits, quote);
  if (j.ok() && !j->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": top level must be an object"));
  }
  return j;
}

absl::StatusOr<nlohmann::json> ReadJsonObject(const FsRoot& root, const std::string& path,
                                              const JsonLimits& limits, bool* via_symlink) {
  bool linked = false;
  auto text = root.ReadFile(path, limits.max_bytes, &linked);
  if (via_symlink != nullptr) *via_symlink = linked;
  if (!text.ok()) return text.status();
  return ParseJsonObject(*text, path, limits, /*quote=*/!linked);
}

}  // namespace neobert::base
