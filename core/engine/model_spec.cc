// ModelSpec: validation, construction from config.yaml / config.json, and
// the tensor-set check of Create (torch-free, so it compiles in seconds).
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/excerpt.h"
#include "core/base/json.h"
#include "core/base/status_macros.h"
#include "core/engine/engine.h"
#include "core/engine/internal.h"
#include "core/neobert/checkpoint_config.h"
#include "core/neobert/tensor_table.h"

namespace neobert::engine {
namespace {

constexpr uint64_t kMaxHfConfigBytes = 1 << 20;

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("(", absl::StrJoin(shape, ", "), ")");
}

// The knowledge layer's config, filled with just what its tensor table reads.
core::NeoBertConfig AsConfig(const ModelSpec& spec) {
  core::NeoBertConfig c;
  c.hidden_size = spec.hidden_size;
  c.num_hidden_layers = spec.num_hidden_layers;
  c.num_attention_heads = spec.num_attention_heads;
  c.intermediate_size = spec.intermediate_size;
  c.max_position_embeddings = spec.max_position_embeddings;
  c.vocab_size = spec.vocab_size;
  c.rope = spec.rope;
  c.rms_norm = spec.rms_norm;
  c.hidden_act = spec.hidden_act;
  c.norm_eps = spec.norm_eps;
  c.pad_token_id = spec.pad_token_id.value_or(0);
  return c;
}

// JSON integer, or a float with an integral value (Python's config accepts
// 768.0); bools are not integers.
std::optional<int64_t> JsonInt(const nlohmann::json& v) {
  if (v.is_number_unsigned()) {
    if (v.get<uint64_t>() > uint64_t{INT64_MAX}) return std::nullopt;
    return static_cast<int64_t>(v.get<uint64_t>());
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < 9.0e15) {
      return static_cast<int64_t>(d);
    }
  }
  return std::nullopt;
}

}  // namespace

int64_t ModelSpec::ffn_width() const {
  return hidden_act == "swiglu" ? core::SwiGluWidth(intermediate_size) : intermediate_size;
}

absl::Status ValidateModelSpec(const ModelSpec& s) {
  auto range = [](const char* field, int64_t v, int64_t lo, int64_t hi) -> absl::Status {
    if (v < lo || v > hi) {
      return absl::InvalidArgumentError(absl::StrCat("model spec: ", field, " = ", v,
                                                     " is outside [", lo, ", ", hi, "]"));
    }
    return absl::OkStatus();
  };
  absl::Status st;
  st.Update(range("hidden_size", s.hidden_size, 1, core::kMaxHiddenSize));
  st.Update(range("num_hidden_layers", s.num_hidden_layers, 0, core::kMaxLayers));
  st.Update(range("num_attention_heads", s.num_attention_heads, 1, core::kMaxHiddenSize));
  st.Update(range("intermediate_size", s.intermediate_size, 1, core::kMaxIntermediateSize));
  st.Update(range("vocab_size", s.vocab_size, 1, core::kMaxVocabSize));
  st.Update(range("max_position_embeddings", s.max_position_embeddings, 1, core::kMaxPositions));
  if (!st.ok()) return st;
  if (s.hidden_size % s.num_attention_heads != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("model spec: hidden_size ", s.hidden_size,
                     " is not divisible by num_attention_heads ", s.num_attention_heads));
  }
  if (s.rope && s.head_dim() % 2 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("model spec: head dim ", s.head_dim(), " must be even with rope"));
  }
  if (s.hidden_act != "swiglu" && s.hidden_act != "gelu") {
    return absl::InvalidArgumentError(absl::StrCat(
        "model spec: hidden_act '", base::Excerpt(s.hidden_act), "' is not one of swiglu, gelu"));
  }
  if (s.ffn_width() <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model spec: intermediate_size ", s.intermediate_size, " is too small for swiglu"));
  }
  if (!std::isfinite(s.norm_eps) || s.norm_eps <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("model spec: norm_eps must be finite and positive, got ", s.norm_eps));
  }
  if (s.pad_token_id.has_value() && (*s.pad_token_id < 0 || *s.pad_token_id >= s.vocab_size)) {
    return absl::InvalidArgumentError(absl::StrCat("model spec: pad_token_id ", *s.pad_token_id,
                                                   " is outside [0, ", s.vocab_size, ")"));
  }
  return absl::OkStatus();
}

ModelSpec ModelSpecFromConfig(const core::NeoBertConfig& c, bool decoder_bias) {
  ModelSpec s;
  s.hidden_size = c.hidden_size;
  s.num_hidden_layers = c.num_hidden_layers;
  s.num_attention_heads = c.num_attention_heads;
  s.intermediate_size = c.intermediate_size;
  s.vocab_size = c.vocab_size;
  s.max_position_embeddings = c.max_position_embeddings;
  s.rope = c.rope;
  s.rms_norm = c.rms_norm;
  s.hidden_act = c.hidden_act;
  s.norm_eps = c.norm_eps;
  s.pad_token_id = c.pad_token_id;
  s.decoder_bias = decoder_bias;
  return s;
}

absl::StatusOr<ModelSpec> ModelSpecFromHfConfigJson(absl::string_view text,
                                                    absl::string_view source) {
  // Callers that read the file through a symlink strip the excerpt
  // (base::WithoutContent); the others may show it.
  ASSIGN_OR_RETURN(const nlohmann::json j,
                   base::ParseJsonObject(text, source, {.max_bytes = kMaxHfConfigBytes},
                                         /*quote=*/true));
  auto find = [&](const char* key) -> const nlohmann::json* {
    auto it = j.find(key);
    return it == j.end() ? nullptr : &*it;
  };
  std::vector<std::string> missing;
  auto get_int = [&](const char* key, int64_t* out) -> absl::Status {
    const nlohmann::json* v = find(key);
    if (v == nullptr || v->is_null()) {
      missing.push_back(key);
      return absl::OkStatus();
    }
    std::optional<int64_t> n = JsonInt(*v);
    if (!n) return absl::InvalidArgumentError(absl::StrCat(source, ": ", key, " must be an integer"));
    *out = *n;
    return absl::OkStatus();
  };
  auto get_bool = [&](const char* key, bool* out) -> absl::Status {
    const nlohmann::json* v = find(key);
    if (v == nullptr || v->is_null()) return absl::OkStatus();  // keep the default
    if (!v->is_boolean()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": ", key, " must be a boolean"));
    }
    *out = v->get<bool>();
    return absl::OkStatus();
  };

  ModelSpec s;
  absl::Status st;
  st.Update(get_int("hidden_size", &s.hidden_size));
  st.Update(get_int("num_hidden_layers", &s.num_hidden_layers));
  st.Update(get_int("num_attention_heads", &s.num_attention_heads));
  st.Update(get_int("intermediate_size", &s.intermediate_size));
  st.Update(get_int("vocab_size", &s.vocab_size));
  // Our model.py reads max_length and mirrors it into max_position_embeddings.
  const nlohmann::json* ml = find("max_length");
  st.Update(get_int(ml != nullptr && !ml->is_null() ? "max_length" : "max_position_embeddings",
                    &s.max_position_embeddings));
  st.Update(get_bool("rope", &s.rope));
  st.Update(get_bool("rms_norm", &s.rms_norm));
  st.Update(get_bool("decoder_bias", &s.decoder_bias));
  if (!st.ok()) return st;

  if (const nlohmann::json* v = find("norm_eps"); v == nullptr || v->is_null()) {
    missing.push_back("norm_eps");
  } else if (!v->is_number() || v->is_boolean()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": norm_eps must be a number"));
  } else {
    s.norm_eps = v->get<double>();
  }
  if (!missing.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": missing required field(s): ", absl::StrJoin(missing, ", ")));
  }
  if (const nlohmann::json* v = find("hidden_act"); v != nullptr && !v->is_null()) {
    if (!v->is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": hidden_act must be a string"));
    }
    std::string act = v->get<std::string>();
    for (char& ch : act) ch = (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
    s.hidden_act = act;
  }
  if (const nlohmann::json* v = find("pad_token_id"); v != nullptr) {
    if (v->is_null()) {
      s.pad_token_id = std::nullopt;
    } else {
      std::optional<int64_t> n = JsonInt(*v);
      if (!n) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": pad_token_id must be an integer or null"));
      }
      s.pad_token_id = *n;
    }
  }
  if (absl::Status v = ValidateModelSpec(s); !v.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", v.message()));
  }
  return s;
}

absl::StatusOr<std::map<std::string, const format::TensorEntry*>> CheckTensorSet(
    const ModelSpec& spec, const std::vector<format::TensorEntry>& tensors) {
  std::map<std::string, const format::TensorEntry*> by_name;
  std::vector<std::string> problems;
  for (const format::TensorEntry& t : tensors) {
    if (!by_name.emplace(t.name, &t).second) {
      problems.push_back(absl::StrCat(t.name, ": appears more than once"));
    }
  }
  std::set<std::string> expected;
  for (const core::ExpectedTensor& e : core::ExpectedTensors(AsConfig(spec))) {
    if (e.role == core::TensorRole::kDecoderBias && !spec.decoder_bias) continue;
    expected.insert(e.name);
    auto it = by_name.find(e.name);
    if (it == by_name.end()) {
      problems.push_back(absl::StrCat(e.name, ": missing (expected shape ", e.shape_formula, " = ",
                                      ShapeString(e.shape), ")"));
      continue;
    }
    const format::TensorEntry& t = *it->second;
    if (t.shape != e.shape) {
      problems.push_back(absl::StrCat(e.name, ": shape ", ShapeString(t.shape), ", expected ",
                                      e.shape_formula, " = ", ShapeString(e.shape)));
      continue;  // its bounds would only repeat the shape problem
    }
    if (!format::IsFloatingPoint(t.dtype)) {
      problems.push_back(absl::StrCat(e.name, ": dtype ", format::TorchName(t.dtype),
                                      " is not floating point"));
    }
    if (absl::Status b = format::ValidateTensorBounds(t); !b.ok()) {
      problems.push_back(std::string(b.message()));
    }
  }
  const std::string decoder_bias = core::TensorName(core::TensorRole::kDecoderBias);
  for (const auto& [name, t] : by_name) {
    if (expected.count(name) == 0) {
      problems.push_back(absl::StrCat(
          name, name == decoder_bias ? ": unexpected (the spec says decoder_bias: false)"
                                     : ": unexpected tensor for this architecture"));
    }
  }
  if (!problems.empty()) {
    constexpr size_t kShown = 20;
    const size_t total = problems.size();
    if (total > kShown) problems.resize(kShown);
    return absl::InvalidArgumentError(
        absl::StrCat("engine weights do not match the model spec (", total, " problem(s)): ",
                     absl::StrJoin(problems, "; "), total > kShown ? "; ..." : ""));
  }
  return by_name;
}

}  // namespace neobert::engine
