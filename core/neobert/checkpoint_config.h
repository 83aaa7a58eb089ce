// config.yaml of a NeoBERT training checkpoint → the facts the exporter needs.
//
// The trainer dumps its whole config as block-style YAML (reference §3.1);
// only the `model` section and `dataset.name`/`dataset.path` matter here.
// Parsing follows the original exporter (R3, R8, R12, aliases of §3.3) and
// adds the checks the original left to a failing forward pass: H % A == 0,
// even head dim with RoPE, positive sizes, sane upper bounds.
//
// Differences from the Python exporter, on purpose:
//  * a required field set to null counts as missing (Python wrote `null`
//    into config.json);
//  * `norm_eps: 1e-5` (no dot) is read as a number; PyYAML would have read
//    it as a string and written a string into config.json;
//  * integers must be integers and booleans booleans (no truthiness).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "core/base/fs_root.h"
#include <yaml-cpp/yaml.h>

namespace neobert::core {

// Upper bounds on architecture sizes. Far above any NeoBERT; they exist so
// that shape arithmetic on hostile configs cannot overflow and so that
// nothing sized from the config can ask for absurd memory.
inline constexpr int64_t kMaxHiddenSize = 65536;
inline constexpr int64_t kMaxLayers = 1024;
inline constexpr int64_t kMaxIntermediateSize = 1 << 20;
inline constexpr int64_t kMaxPositions = 1 << 24;
inline constexpr int64_t kMaxVocabSize = 10'000'000;
// config.yaml larger than this is refused before parsing.
inline constexpr uint64_t kMaxConfigYamlBytes = 4 << 20;

struct NeoBertConfig {
  int64_t hidden_size = 0;              // H
  int64_t num_hidden_layers = 0;        // L
  int64_t num_attention_heads = 0;      // A
  int64_t intermediate_size = 0;        // I (un-reduced, as written to config.json)
  int64_t max_position_embeddings = 0;  // P
  int64_t vocab_size = 0;               // V
  bool rope = true;
  bool rms_norm = true;
  std::string hidden_act;               // lower-cased: "swiglu" | "gelu"
  double norm_eps = 0;
  double dropout = 0.0;                 // model.dropout → model.dropout_prob → 0.0
  double embedding_init_range = 0.02;
  double decoder_init_range = 0.02;
  std::string attn_backend = "sdpa";    // as written (missing → "sdpa")
  bool flash_attention = false;         // attn_backend != "sdpa"
  bool ngpt = false;                    // always false in a parsed config (R12)
  int64_t pad_token_id = 0;
  std::string dataset_name;             // dataset.name, else last component of dataset.path
  YAML::Node raw;                       // the whole parsed document (for the model card)

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  bool swiglu() const { return hidden_act == "swiglu"; }
  // Width of the FFN hidden layer as stored in the weights: SwiGluWidth(I)
  // for swiglu, I for gelu.
  int64_t ffn_width() const;
};

// Reduced SwiGLU width (reference §4.1): 8 * ceil(floor(2I/3) / 8), in
// integer arithmetic. 3072 → 2048, 4096 → 2736, 1024 → 688. Requires
// 0 <= I <= kMaxIntermediateSize (callers validate first).
int64_t SwiGluWidth(int64_t intermediate_size);

// Parses config.yaml text. `source` names the file in error messages.
// Errors are INVALID_ARGUMENT and name the file and the field:
//  - not YAML / no `model` mapping / `model` empty;
//  - R3: every missing required field, listed in one message;
//  - wrong type or out-of-range value of a field;
//  - R8: hidden_act not swiglu/gelu; R12: ngpt true;
//  - hidden_size % num_attention_heads != 0; odd head dim with rope.
absl::StatusOr<NeoBertConfig> ParseCheckpointConfig(const std::string& yaml_text,
                                                    const std::string& source = "config.yaml");

// Reads (at most kMaxConfigYamlBytes) and parses the file at `path`.
// Reads it through the door beneath `root` (core/base/fs_root.h). A missing
// file is NOT_FOUND (R1). A config.yaml reached through a symbolic link gets
// errors that quote nothing of it (base::WithoutContent).
absl::StatusOr<NeoBertConfig> LoadCheckpointConfig(const base::FsRoot& root,
                                                   const std::string& path);

}  // namespace neobert::core
