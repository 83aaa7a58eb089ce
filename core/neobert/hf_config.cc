#include "core/neobert/hf_config.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace neobert::core {
namespace {

// Decodes one UTF-8 sequence at `s[i]`; returns the code point (U+FFFD for a
// malformed or overlong sequence) and advances `i`.
uint32_t NextCodePoint(absl::string_view s, size_t& i) {
  const auto b0 = static_cast<uint8_t>(s[i]);
  int len = b0 < 0x80 ? 1 : (b0 >> 5) == 0x6 ? 2 : (b0 >> 4) == 0xE ? 3 : (b0 >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || i + len > s.size()) {
    ++i;
    return 0xFFFD;
  }
  uint32_t cp = len == 1 ? b0 : len == 2 ? (b0 & 0x1F) : len == 3 ? (b0 & 0x0F) : (b0 & 0x07);
  for (int k = 1; k < len; ++k) {
    const auto b = static_cast<uint8_t>(s[i + k]);
    if ((b >> 6) != 0x2) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  i += len;
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0xFFFD;
  return cp;
}

void AppendU16(std::string& out, uint32_t unit) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "\\u%04x", unit);
  out += buf;
}

// One `"key": value` member line.
struct Member {
  std::string key;
  std::string value;  // already-rendered JSON (may span lines)
};

std::string Indent(int level) { return std::string(2 * level, ' '); }

std::string RenderObject(const std::vector<Member>& members, int level) {
  std::string out = "{\n";
  for (size_t k = 0; k < members.size(); ++k) {
    absl::StrAppend(&out, Indent(level + 1), PythonJsonString(members[k].key), ": ",
                    members[k].value, k + 1 < members.size() ? ",\n" : "\n");
  }
  absl::StrAppend(&out, Indent(level), "}");
  return out;
}

std::string Bool(bool b) { return b ? "true" : "false"; }

}  // namespace

std::string PythonFloatRepr(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  // Shortest round-trip digits, as d.ddde±XX.
  auto res = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  std::string sign;
  size_t pos = 0;
  if (sci[0] == '-') {
    sign = "-";
    pos = 1;
  }
  const size_t e_pos = sci.find('e');
  std::string digits;
  for (size_t k = pos; k < e_pos; ++k) {
    if (sci[k] != '.') digits += sci[k];
  }
  const int exp10 = std::atoi(sci.c_str() + e_pos + 1);

  std::string out = sign;
  if (exp10 < -4 || exp10 >= 16) {
    out += digits[0];
    if (digits.size() > 1) absl::StrAppend(&out, ".", digits.substr(1));
    const int mag = std::abs(exp10);
    absl::StrAppend(&out, exp10 < 0 ? "e-" : "e+", mag < 10 ? "0" : "", mag);
  } else if (exp10 >= 0) {
    const size_t int_len = static_cast<size_t>(exp10) + 1;
    if (digits.size() <= int_len) {
      absl::StrAppend(&out, digits, std::string(int_len - digits.size(), '0'), ".0");
    } else {
      absl::StrAppend(&out, digits.substr(0, int_len), ".", digits.substr(int_len));
    }
  } else {
    absl::StrAppend(&out, "0.", std::string(static_cast<size_t>(-exp10 - 1), '0'), digits);
  }
  return out;
}

std::string PythonJsonString(absl::string_view utf8) {
  std::string out = "\"";
  for (size_t i = 0; i < utf8.size();) {
    const char c = utf8[i];
    switch (c) {
      case '"': out += "\\\""; ++i; continue;
      case '\\': out += "\\\\"; ++i; continue;
      case '\n': out += "\\n"; ++i; continue;
      case '\r': out += "\\r"; ++i; continue;
      case '\t': out += "\\t"; ++i; continue;
      case '\b': out += "\\b"; ++i; continue;
      case '\f': out += "\\f"; ++i; continue;
      default: break;
    }
    const uint32_t cp = NextCodePoint(utf8, i);
    if (cp >= 0x20 && cp <= 0x7E) {
      out += static_cast<char>(cp);
    } else if (cp < 0x10000) {
      AppendU16(out, cp);
    } else {
      const uint32_t v = cp - 0x10000;
      AppendU16(out, 0xD800 + (v >> 10));
      AppendU16(out, 0xDC00 + (v & 0x3FF));
    }
  }
  out += "\"";
  return out;
}

std::string RenderHfConfigJson(const NeoBertConfig& c, const HfConfigFields& f) {
  const std::string& mod = f.auto_map_module;
  const std::string auto_map = RenderObject(
      {
          {"AutoConfig", PythonJsonString(mod + ".NeoBERTConfig")},
          {"AutoModel", PythonJsonString(mod + ".NeoBERT")},
          {"AutoModelForMaskedLM", PythonJsonString(mod + ".NeoBERTLMHead")},
          {"AutoModelForSequenceClassification",
           PythonJsonString(mod + ".NeoBERTForSequenceClassification")},
      },
      1);
  const std::string dtype = PythonJsonString(format::TorchName(f.dtype));
  std::vector<Member> members = {
      {"architectures", "[\n    \"NeoBERTLMHead\"\n  ]"},
      {"model_type", "\"neobert\""},
      {"auto_map", auto_map},
      {"hidden_size", absl::StrCat(c.hidden_size)},
      {"num_hidden_layers", absl::StrCat(c.num_hidden_layers)},
      {"num_attention_heads", absl::StrCat(c.num_attention_heads)},
      {"intermediate_size", absl::StrCat(c.intermediate_size)},
      {"vocab_size", absl::StrCat(c.vocab_size)},
      {"max_length", absl::StrCat(c.max_position_embeddings)},
      {"max_position_embeddings", absl::StrCat(c.max_position_embeddings)},
      {"embedding_init_range", PythonFloatRepr(c.embedding_init_range)},
      {"decoder_init_range", PythonFloatRepr(c.decoder_init_range)},
      {"norm_eps", PythonFloatRepr(c.norm_eps)},
      {"rms_norm", Bool(c.rms_norm)},
      {"rope", Bool(c.rope)},
      {"hidden_act", PythonJsonString(c.hidden_act)},
      {"dropout", PythonFloatRepr(c.dropout)},
      {"flash_attention", Bool(c.flash_attention)},
      {"decoder_bias", Bool(f.decoder_bias)},
  };
  if (!f.tie_word_embeddings) members.push_back({"tie_word_embeddings", Bool(false)});
  members.insert(members.end(),
                 {{"pad_token_id", absl::StrCat(c.pad_token_id)},
                  {"torch_dtype", dtype},
                  {"dtype", dtype},
                  {"transformers_version", PythonJsonString(f.transformers_version)}});
  return RenderObject(members, 0);
}

}  // namespace neobert::core
