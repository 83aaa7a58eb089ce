#include "core/tokenizer/decoders.h"

#include <array>
#include <cstdint>
#include <vector>

#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "core/tokenizer/normalizers.h"
#include "core/tokenizer/unicode.h"

namespace neobert::tokenizer {
namespace {

using Json = nlohmann::json;

constexpr absl::string_view kMetaspace = "\xE2\x96\x81";  // U+2581
// The GPT-2 alphabet's characters run up to U+0143 (256 + the 68 bytes
// that are not printable).
constexpr char32_t kByteAlphabetEnd = 256 + 68;

// ByteLevelChar inverted: character -> byte, -1 for characters outside the
// alphabet.
const std::array<int16_t, kByteAlphabetEnd>& ByteOfChar() {
  static const std::array<int16_t, kByteAlphabetEnd> table = [] {
    std::array<int16_t, kByteAlphabetEnd> t;
    t.fill(-1);
    for (int b = 0; b < 256; ++b) t[ByteLevelChar(static_cast<uint8_t>(b))] = static_cast<int16_t>(b);
    return t;
  }();
  return table;
}

std::string ByteLevelToBytes(absl::string_view token) {
  std::u32string chars;
  size_t bad = 0;
  if (!unicode::DecodeUtf8(token, &chars, nullptr, &bad)) return std::string(token);
  std::string out;
  for (char32_t c : chars) {
    const int byte = c < kByteAlphabetEnd ? ByteOfChar()[c] : -1;
    if (byte >= 0) {
      out.push_back(static_cast<char>(byte));
    } else {
      unicode::AppendUtf8(c, &out);
    }
  }
  return out;
}

}  // namespace

TokenDecoder TokenDecoder::FromJson(const Json* section) {
  if (section == nullptr || !section->is_object()) return TokenDecoder();
  // Depth-first, a Sequence's members last to first; the first kind met
  // decides (a decoder's shape is bounded by the tokenizer.json nesting cap).
  std::vector<const Json*> stack = {section};
  while (!stack.empty()) {
    const Json& d = *stack.back();
    stack.pop_back();
    if (!d.is_object()) continue;
    const auto type = d.find("type");
    if (type == d.end() || !type->is_string()) continue;
    const std::string& name = type->get_ref<const std::string&>();
    if (name == "ByteLevel") return TokenDecoder(Kind::kByteLevel);
    if (name == "WordPiece") return TokenDecoder(Kind::kWordPiece);
    if (name == "Metaspace") return TokenDecoder(Kind::kMetaspace);
    const auto members = d.find("decoders");
    if (name == "Sequence" && members != d.end() && members->is_array()) {
      for (const Json& m : *members) stack.push_back(&m);
    }
  }
  return TokenDecoder();
}

std::string TokenDecoder::Decode(absl::string_view token) const {
  switch (kind_) {
    case Kind::kWordPiece:
      absl::ConsumePrefix(&token, "##");
      return std::string(token);
    case Kind::kMetaspace:
      return absl::StrReplaceAll(token, {{kMetaspace, " "}});
    case Kind::kByteLevel:
      return ByteLevelToBytes(token);
    case Kind::kPlain:
      break;
  }
  return std::string(token);
}

}  // namespace neobert::tokenizer
