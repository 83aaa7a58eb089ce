#include "core/engine/forward_request.h"

#include <cstdint>
#include <limits>
#include <map>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/base/json.h"
#include "core/base/status_macros.h"

namespace neobert::engine {
namespace {

using Json = nlohmann::json;

// A request is at most three levels deep ([batch of] object → rows → values).
constexpr int kMaxRequestDepth = 8;

absl::Status Bad(const std::string& origin, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(origin, ": ", what));
}

absl::StatusOr<std::vector<std::vector<int64_t>>> IntMatrix(const Json& j, const char* field,
                                                            const std::string& origin) {
  if (!j.is_array()) return Bad(origin, absl::StrCat(field, " must be a 2-D array"));
  std::vector<std::vector<int64_t>> out;
  for (size_t b = 0; b < j.size(); ++b) {
    if (!j[b].is_array()) return Bad(origin, absl::StrCat(field, "[", b, "] must be an array"));
    out.emplace_back();
    for (size_t s = 0; s < j[b].size(); ++s) {
      const Json& v = j[b][s];
      if (!v.is_number_integer()) {
        return Bad(origin, absl::StrCat(field, "[", b, "][", s, "] must be an integer"));
      }
      if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t{std::numeric_limits<int64_t>::max()}) {
        return Bad(origin, absl::StrCat(field, "[", b, "][", s, "] is out of range"));
      }
      out.back().push_back(v.get<int64_t>());
    }
  }
  return out;
}

absl::StatusOr<ForwardInput> FromJson(const Json& j, const std::string& origin) {
  if (!j.is_object()) return Bad(origin, "not a JSON object");
  for (const auto& [key, value] : j.items()) {
    if (key != "input_ids" && key != "attention_mask" && key != "mask_kind" &&
        key != "position_ids") {
      return Bad(origin, absl::StrCat("unknown field '", key,
                                      "' (expected input_ids, attention_mask, mask_kind, "
                                      "position_ids)"));
    }
  }
  ForwardInput in;
  if (!j.contains("input_ids")) return Bad(origin, "no input_ids");
  ASSIGN_OR_RETURN(auto ids, IntMatrix(j["input_ids"], "input_ids", origin));
  in.input_ids = std::move(ids);
  if (j.contains("position_ids") && !j["position_ids"].is_null()) {
    ASSIGN_OR_RETURN(auto pos, IntMatrix(j["position_ids"], "position_ids", origin));
    in.position_ids = std::move(pos);
  }
  if (!j.contains("attention_mask") || j["attention_mask"].is_null()) {
    if (j.contains("mask_kind")) return Bad(origin, "mask_kind given without attention_mask");
    return in;
  }
  const Json& m = j["attention_mask"];
  if (!m.is_array()) return Bad(origin, "attention_mask must be a 2-D array");
  bool any_bool = false, any_float = false;
  std::vector<std::vector<double>> mask;
  for (size_t b = 0; b < m.size(); ++b) {
    if (!m[b].is_array()) return Bad(origin, absl::StrCat("attention_mask[", b, "] must be an array"));
    mask.emplace_back();
    for (size_t s = 0; s < m[b].size(); ++s) {
      const Json& v = m[b][s];
      double x = 0;
      if (v.is_boolean()) {
        any_bool = true;
        x = v.get<bool>() ? 1.0 : 0.0;
      } else if (v.is_number_integer()) {
        x = static_cast<double>(v.get<int64_t>());
      } else if (v.is_number_float()) {
        any_float = true;
        x = v.get<double>();
      } else if (v.is_string() && (v == "-inf" || v == "-Infinity")) {
        any_float = true;
        x = -std::numeric_limits<double>::infinity();
      } else if (v.is_string() && (v == "inf" || v == "Infinity")) {
        any_float = true;
        x = std::numeric_limits<double>::infinity();
      } else {
        return Bad(origin, absl::StrCat("attention_mask[", b, "][", s, "] is not a number or bool"));
      }
      mask.back().push_back(x);
    }
  }
  in.attention_mask = std::move(mask);
  in.mask_kind = any_bool ? ForwardInput::kBool : any_float ? ForwardInput::kFloat : ForwardInput::kInt;
  if (j.contains("mask_kind")) {
    static const std::map<std::string, ForwardInput::MaskKind> kKinds = {
        {"int", ForwardInput::kInt}, {"bool", ForwardInput::kBool}, {"float", ForwardInput::kFloat}};
    auto it = j["mask_kind"].is_string() ? kKinds.find(j["mask_kind"].get<std::string>()) : kKinds.end();
    if (it == kKinds.end()) return Bad(origin, "mask_kind must be \"int\", \"bool\" or \"float\"");
    in.mask_kind = it->second;
  }
  return in;
}

// The request is the user's own file: errors say where, not what it holds.
absl::StatusOr<Json> Parse(const std::string& text, const std::string& origin) {
  return base::ParseJson(text, origin,
                         {.max_bytes = kMaxForwardRequestBytes, .max_depth = kMaxRequestDepth},
                         /*quote=*/false);
}

}  // namespace

absl::StatusOr<ForwardInput> ParseForwardRequest(const std::string& json_text,
                                                 const std::string& origin) {
  ASSIGN_OR_RETURN(auto j, Parse(json_text, origin));
  return FromJson(j, origin);
}

absl::StatusOr<std::vector<ForwardInput>> ParseForwardRequests(const std::string& json_text,
                                                               const std::string& origin,
                                                               bool allow_batch, bool* batch) {
  ASSIGN_OR_RETURN(auto j, Parse(json_text, origin));
  *batch = allow_batch && j.is_array();
  std::vector<ForwardInput> out;
  if (!*batch) {
    ASSIGN_OR_RETURN(auto in, FromJson(j, origin));
    out.push_back(std::move(in));
    return out;
  }
  for (size_t i = 0; i < j.size(); ++i) {
    ASSIGN_OR_RETURN(auto in, FromJson(j[i], absl::StrCat(origin, "[", i, "]")));
    out.push_back(std::move(in));
  }
  return out;
}

}  // namespace neobert::engine
