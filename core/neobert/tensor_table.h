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

// What each row of the table is for. Code that needs a particular tensor
// (the engine's weights, the decoder checks) names its role and asks
// TensorName for the spelling, so tensor names live in this table only.
enum class TensorRole {
  kEmbedding,            // model.encoder.weight
  kPositionalEmbedding,  // model.positional_embedding.weight
  kQkv,                  // per layer: fused q/k/v projection
  kWo,                   // per layer: attention output projection
  kFfnW1,                // per layer, SwiGLU: gate
  kFfnW2,                // per layer, SwiGLU: up
  kFfnW3,                // per layer, SwiGLU: down
  kFfn0,                 // per layer, GELU: in
  kFfn2,                 // per layer, GELU: out
  kAttentionNorm,        // per layer
  kAttentionNormBias,    // per layer, LayerNorm only
  kFfnNorm,              // per layer
  kFfnNormBias,          // per layer, LayerNorm only
  kFinalNorm,            // model.layer_norm.weight
  kFinalNormBias,        // LayerNorm only
  kDecoder,              // decoder.weight
  kDecoderBias,          // decoder.bias (optional)
};

// True for the roles that exist once per layer.
bool IsPerLayer(TensorRole role);

// The tensor name of `role`; `layer` is used by per-layer roles only.
std::string TensorName(TensorRole role, int64_t layer = 0);

// One row of the table, resolved for a config.
struct ExpectedTensor {
  std::string name;
  TensorRole role = TensorRole::kEmbedding;
  int64_t layer = -1;  // the layer of a per-layer row, else -1
  std::vector<int64_t> shape;
  std::string shape_formula;  // e.g. "(vocab_size, hidden_size)" for messages
  bool optional = false;      // decoder.bias only
};

// The rows that apply to `config`, in output order, layers expanded.
// Default variant (rms_norm, swiglu, rope): 7L + 3 required rows plus the
// optional decoder.bias. Sizes are bounded by the config caps, so no
// formula overflows.
std::vector<ExpectedTensor> ExpectedTensors(const NeoBertConfig& config);

}  // namespace neobert::core
