#include "core/neobert/tokenizer_info.h"

#include <cstdint>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/base/excerpt.h"
#include "core/base/json.h"
#include "core/base/status_macros.h"

namespace neobert::core {
namespace {

// JSON integers only; a float such as 30522.0 or a bool is not an id.
std::optional<int64_t> AsInt(const nlohmann::json& v) {
  if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t{INT64_MAX}) return std::nullopt;
  if (v.is_number_integer()) return v.get<int64_t>();
  return std::nullopt;
}

// A short, escaped rendering of a JSON value for messages.
std::string Show(const nlohmann::json& v, bool quote) {
  if (!quote) return "a value not shown";
  return base::Excerpt(v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace

absl::StatusOr<std::vector<std::string>> CheckTokenizerInfo(
    const std::optional<std::string>& json_text, const NeoBertConfig& config,
    const std::string& source, bool quote) {
  std::vector<std::string> warnings;
  if (!json_text.has_value()) {  // R4
    warnings.push_back(absl::StrCat(source, " not found; skipping tokenizer/vocab checks"));
    return warnings;
  }
  ASSIGN_OR_RETURN(const nlohmann::json j,
                   base::ParseJsonObject(*json_text, source,
                                         {.max_bytes = kMaxTokenizerInfoBytes}, quote));

  if (auto it = j.find("vocab_size"); it != j.end() && !it->is_null()) {  // R5
    std::optional<int64_t> v = AsInt(*it);
    if (!v.has_value()) {
      warnings.push_back(absl::StrCat(source, ": vocab_size is not an integer (", Show(*it, quote),
                                      "); not compared with config.yaml"));
    } else if (*v != config.vocab_size) {
      warnings.push_back(absl::StrCat(source, ": vocab_size ", *v,
                                      " differs from config.yaml model.vocab_size ",
                                      config.vocab_size));
    }
  }
  if (auto it = j.find("pad_token_id"); it != j.end() && !it->is_null()) {  // R6
    std::optional<int64_t> v = AsInt(*it);
    if (!v.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": pad_token_id must be an integer, got ", Show(*it, quote)));
    }
    if (*v != config.pad_token_id) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": pad_token_id ", *v, " does not match config.yaml model.pad_token_id ",
          config.pad_token_id));
    }
  }
  return warnings;
}

absl::StatusOr<std::vector<std::string>> CheckTokenizerInfoFile(const base::FsRoot& root,
                                                                const std::string& path,
                                                                const NeoBertConfig& config) {
  bool via_symlink = false;
  auto text = root.ReadFile(path, kMaxTokenizerInfoBytes, &via_symlink);
  if (absl::IsNotFound(text.status())) return CheckTokenizerInfo(std::nullopt, config, path);
  if (!text.ok()) return text.status();
  auto warnings = CheckTokenizerInfo(*text, config, path, /*quote=*/!via_symlink);
  if (via_symlink && !warnings.ok()) return base::WithoutContent(warnings.status(), path);
  return warnings;
}

}  // namespace neobert::core
