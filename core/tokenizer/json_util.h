// Reading tokenizer.json values with errors that name the file and the field.
//
// `where` is always "<origin>: <json path>", e.g.
// "tok/tokenizer.json: normalizer.normalizers[2].lowercase". Missing optional
// fields take the reference library's defaults; a present field of the wrong
// JSON type is INVALID_ARGUMENT (the reference refuses such a file too).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace neobert::tokenizer::json_util {

using Json = nlohmann::json;

// "<where>.<key>" / "<where>[<i>]".
std::string Field(const std::string& where, absl::string_view key);
std::string Index(const std::string& where, size_t i);

// A short, escaped rendering of a value for messages (base::Excerpt).
std::string Show(const Json& v);

absl::Status Invalid(const std::string& where, absl::string_view what);
absl::Status Unsupported(const std::string& where, absl::string_view what);

// The member `key` of object `obj`, or nullptr when absent or JSON null.
const Json* Find(const Json& obj, absl::string_view key);

absl::StatusOr<bool> GetBool(const Json& obj, absl::string_view key, const std::string& where,
                             std::optional<bool> dflt);
absl::StatusOr<std::string> GetString(const Json& obj, absl::string_view key,
                                      const std::string& where,
                                      std::optional<std::string> dflt);
// Non-negative integer no larger than `max`.
absl::StatusOr<uint64_t> GetUint(const Json& obj, absl::string_view key, const std::string& where,
                                 std::optional<uint64_t> dflt, uint64_t max);
// A JSON string holding exactly one code point (serde `char`).
absl::StatusOr<char32_t> GetChar(const Json& obj, absl::string_view key, const std::string& where,
                                 std::optional<char32_t> dflt);
// The required string member "type".
absl::StatusOr<std::string> GetType(const Json& obj, const std::string& where);

absl::Status ExpectObject(const Json& v, const std::string& where);
absl::Status ExpectArray(const Json& v, const std::string& where);

// Valid UTF-8 to code points (JSON text from nlohmann is UTF-8 already, but a
// \ud800 escape can still produce invalid bytes).
absl::StatusOr<std::u32string> DecodeField(const std::string& s, const std::string& where);

}  // namespace neobert::tokenizer::json_util
