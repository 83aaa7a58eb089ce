// The expected tensors of a NeoBERT checkpoint (reference §4.2), as a table.
//
// Each row is a name pattern (`{i}` = layer index), a shape formula over
// the config sizes and a condition saying when the tensor exists. The table
// order is the HF module order, which is also the order we write tensors in:
//
//   model.encoder.weight                          (V, H)    always
//   model.positional_embedding.weight             (P+1, H)  rope: false
//   model.transformer_encoder.{i}.qkv.weight      (3H, H)   always
//   model.transformer_encoder.{i}.wo.weight       (H, H)    always
//   model.transformer_encoder.{i}.ffn.w1.weight   (I_s, H)  swiglu
//   model.transformer_encoder.{i}.ffn.w2.weight   (I_s, H)  swiglu
//   model.transformer_encoder.{i}.ffn.w3.weight   (H, I_s)  swiglu
//   model.transformer_encoder.{i}.ffn.0.weight    (I, H)    gelu
//   model.transformer_encoder.{i}.ffn.2.weight    (H, I)    gelu
//   model.transformer_encoder.{i}.attention_norm.weight/.bias  (H,)  bias: rms_norm false
//   model.transformer_encoder.{i}.ffn_norm.weight/.bias        (H,)  bias: rms_norm false
//   model.layer_norm.weight/.bias                 (H,)      bias: rms_norm false
//   decoder.weight                                (V, H)    always
//   decoder.bias                                  (V,)      optional
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/neobert/checkpoint_config.h"

namespace neobert::core {

// One row of the table, resolved for a config.
struct ExpectedTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::string shape_formula;  // e.g. "(vocab_size, hidden_size)" for messages
  bool optional = false;      // decoder.bias only
};

// The rows that apply to `config`, in output order, layers expanded.
// Default variant (rms_norm, swiglu, rope): 7L + 3 required rows plus the
// optional decoder.bias. Sizes are bounded by the config caps, so no
// formula overflows.
std::vector<ExpectedTensor> ExpectedTensors(const NeoBertConfig& config);

// The layer prefix "model.transformer_encoder.{i}." for layer i.
std::string LayerPrefix(int64_t layer);

}  // namespace neobert::core
