// config.json of the exported folder (reference §6), byte-exact.
//
// Python's json.dumps(indent=2) layout: keys in the fixed order below, two
// spaces per level, ", " never appears (items end with "," + newline), ": "
// between key and value, floats as Python's repr (1e-05, 0.02, 0.0), no
// trailing newline. Order:
//
//   architectures, model_type, auto_map, hidden_size, num_hidden_layers,
//   num_attention_heads, intermediate_size, vocab_size, max_length,
//   max_position_embeddings, embedding_init_range, decoder_init_range,
//   norm_eps, rms_norm, rope, hidden_act, dropout, flash_attention,
//   decoder_bias, [tie_word_embeddings], pad_token_id, torch_dtype, dtype,
//   transformers_version
//
// Beyond §6: `decoder_bias` (our model.py builds a biased decoder when
// true), `tie_word_embeddings: false` only for a decoder whose values differ
// from the embedding (P7: HF ties by default and would replace it on load),
// `dtype` (transformers 5 reads it instead of `torch_dtype`; both
// are written), auto_map module `model` (our files are model.py + rotary.py),
// transformers_version = the version our modeling code targets. Float
// fields are always JSON floats (a YAML `0` becomes 0.0, where Python would
// have copied the int); readers accept both.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "core/format/dtype.h"
#include "core/neobert/checkpoint_config.h"

namespace neobert::core {

inline constexpr absl::string_view kTargetTransformersVersion = "4.48.0";
inline constexpr absl::string_view kAutoMapModule = "model";

struct HfConfigFields {
  format::DType dtype = format::DType::kFloat32;  // torch_dtype / dtype
  bool decoder_bias = false;
  // false → "tie_word_embeddings": false is written; true → omitted (§6).
  bool tie_word_embeddings = true;
  std::string auto_map_module = std::string(kAutoMapModule);
  std::string transformers_version = std::string(kTargetTransformersVersion);
};

// The config.json text.
std::string RenderHfConfigJson(const NeoBertConfig& config, const HfConfigFields& fields);

// Python's repr(float): the shortest string that round-trips; scientific
// notation when the decimal exponent is < -4 or >= 16 ("1e-05", "1e+16",
// "1.5e-07"), otherwise positional with at least one fractional digit
// ("0.02", "3.0", "1000000000000000.0"). inf/nan as json.dumps writes them
// ("Infinity", "-Infinity", "NaN").
std::string PythonFloatRepr(double value);

// A JSON string literal as Python's json.dumps writes it (ensure_ascii:
// non-ASCII as \uXXXX, surrogate pairs above the BMP). Invalid UTF-8 bytes
// become U+FFFD.
std::string PythonJsonString(absl::string_view utf8);

}  // namespace neobert::core
