#include "core/tokenizer/json_util.h"

#include "absl/strings/str_cat.h"
#include "core/base/excerpt.h"
#include "core/base/status_macros.h"
#include "core/tokenizer/unicode.h"
#include <cstdint>

namespace neobert::tokenizer::json_util {

std::string Field(const std::string& where, absl::string_view key) {
  return absl::StrCat(where, where.empty() || where.back() == ' ' ? "" : ".", key);
}

std::string Index(const std::string& where, size_t i) { return absl::StrCat(where, "[", i, "]"); }

std::string Show(const Json& v) {
  return base::Excerpt(v.dump(-1, ' ', false, Json::error_handler_t::replace));
}

absl::Status Invalid(const std::string& where, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", what));
}

absl::Status Unsupported(const std::string& where, absl::string_view what) {
  return absl::UnimplementedError(absl::StrCat(where, ": ", what));
}

const Json* Find(const Json& obj, absl::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(std::string(key));
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::StatusOr<bool> GetBool(const Json& obj, absl::string_view key, const std::string& where,
                             std::optional<bool> dflt) {
  const Json* v = Find(obj, key);
  if (v == nullptr) {
    if (dflt.has_value()) return *dflt;
    return Invalid(Field(where, key), "missing (expected true/false)");
  }
  if (!v->is_boolean()) return Invalid(Field(where, key), absl::StrCat("expected true/false, got ", Show(*v)));
  return v->get<bool>();
}

absl::StatusOr<std::string> GetString(const Json& obj, absl::string_view key,
                                      const std::string& where,
                                      std::optional<std::string> dflt) {
  const Json* v = Find(obj, key);
  if (v == nullptr) {
    if (dflt.has_value()) return *dflt;
    return Invalid(Field(where, key), "missing (expected a string)");
  }
  if (!v->is_string()) return Invalid(Field(where, key), absl::StrCat("expected a string, got ", Show(*v)));
  return v->get<std::string>();
}

absl::StatusOr<uint64_t> GetUint(const Json& obj, absl::string_view key, const std::string& where,
                                 std::optional<uint64_t> dflt, uint64_t max) {
  const Json* v = Find(obj, key);
  if (v == nullptr) {
    if (dflt.has_value()) return *dflt;
    return Invalid(Field(where, key), "missing (expected a non-negative integer)");
  }
  if (!v->is_number_unsigned() && !(v->is_number_integer() && v->get<int64_t>() >= 0)) {
    return Invalid(Field(where, key), absl::StrCat("expected a non-negative integer, got ", Show(*v)));
  }
  uint64_t n = v->get<uint64_t>();
  if (n > max) return Invalid(Field(where, key), absl::StrCat(n, " exceeds the limit ", max));
  return n;
}

absl::StatusOr<char32_t> GetChar(const Json& obj, absl::string_view key, const std::string& where,
                                 std::optional<char32_t> dflt) {
  const Json* v = Find(obj, key);
  if (v == nullptr) {
    if (dflt.has_value()) return *dflt;
    return Invalid(Field(where, key), "missing (expected a one-character string)");
  }
  if (v->is_string()) {
    ASSIGN_OR_RETURN(std::u32string s, DecodeField(v->get<std::string>(), Field(where, key)));
    if (s.size() == 1) return (s)[0];
  }
  return Invalid(Field(where, key), absl::StrCat("expected a one-character string, got ", Show(*v)));
}

absl::StatusOr<std::string> GetType(const Json& obj, const std::string& where) {
  if (!obj.is_object()) return Invalid(where, absl::StrCat("expected an object, got ", Show(obj)));
  return GetString(obj, "type", where, std::nullopt);
}

absl::Status ExpectObject(const Json& v, const std::string& where) {
  if (!v.is_object()) return Invalid(where, absl::StrCat("expected an object, got ", Show(v)));
  return absl::OkStatus();
}

absl::Status ExpectArray(const Json& v, const std::string& where) {
  if (!v.is_array()) return Invalid(where, absl::StrCat("expected an array, got ", Show(v)));
  return absl::OkStatus();
}

absl::StatusOr<std::u32string> DecodeField(const std::string& s, const std::string& where) {
  std::u32string out;
  size_t bad = 0;
  if (!unicode::DecodeUtf8(s, &out, nullptr, &bad)) {
    return Invalid(where, absl::StrCat("invalid UTF-8 at byte ", bad));
  }
  return out;
}

}  // namespace neobert::tokenizer::json_util
