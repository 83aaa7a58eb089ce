// Training state dict → the tensors of the exported HF model (reference §4,
// §5.2–§5.4), as a mapping over byte views (TensorMapping; the export's
// plan, export_plan.h, holds one): nothing is read or copied here.
//
// Steps, in order:
//  (a) Prefix canonicalisation: leading `module.` / `_orig_mod.` are
//      stripped in any order until none remains (38e97d5 semantics, applied
//      by the exporter too, unlike the original — P8). Two raw keys that
//      collapse to one name are an error naming both.
//      `model.decoder.{weight,bias}` (an alias the original created) is read
//      as `decoder.*`; both spellings present must be the same view.
//  (b) Packed legacy `…ffn.w12.weight` (2·I_s, H) is unpacked into
//      `ffn.w1.weight` = rows [0, I_s) and `ffn.w2.weight` = rows [I_s, 2·I_s)
//      as views over the same storage (storage_offset moved by I_s rows).
//      The original refused these (R10).
//  (c) The table of expected tensors (ExpectedTensors) checks presence and
//      exact shape of every tensor for the declared architecture (R7, R9,
//      R11, norms, LayerNorm biases, learned positions (P+1, H)); leftovers
//      are reported. All problems are collected into one INVALID_ARGUMENT.
//  (d) Decoder: `decoder.weight` (V, H) is always its own output tensor.
//      When it is the very same view as `model.encoder.weight` (a tied
//      torch file) `tied_decoder` is set; the writers copy bytes, so the
//      output holds two independent tensors (P2). Byte equality of untied
//      copies is left to the caller. `decoder.bias` (V,) is kept when
//      `keep_decoder_bias` (the HF model then has a biased decoder), else
//      dropped with a warning (logits change by the bias; R13).
//  (e) dtype: every tensor must be floating point. Without `target_dtype`
//      all tensors must share one dtype (mixed → INVALID_ARGUMENT naming
//      the dtypes and an example tensor of each); that dtype is the mapping's.
//      With `target_dtype` mixed inputs are allowed and the mapping's dtype is
//      the target: the writer casts each tensor whose dtype differs.
//      float16 is accepted (the original refused it, R14): the HF model runs
//      in fp16; a warning says activations may overflow.
//  (f) Output order = HF module order (the table order): embeddings,
//      positional embedding, per layer (qkv, wo, ffn, attention_norm,
//      ffn_norm), final norm, decoder.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/format/dtype.h"
#include "core/format/tensor.h"
#include "core/neobert/checkpoint_config.h"
#include "core/neobert/tensor_table.h"

namespace neobert::core {

struct MappingOptions {
  // Strip leading `module.` / `_orig_mod.` from keys. Off: prefixed keys are
  // reported as unexpected (with a hint).
  bool allow_prefix_strip = true;
  // Keep `decoder.bias` when present. Off: drop it (with a warning).
  bool keep_decoder_bias = true;
  // Cast requested by the user (--dtype). Must be a floating-point type.
  std::optional<format::DType> target_dtype;
};

struct TensorMapping {
  // Final names, HF order, views into the input storages.
  std::vector<format::TensorEntry> tensors;
  // Parallel to `tensors`: the raw key each came from; unpacked halves read
  // "<raw w12 key>[rows a:b]".
  std::vector<std::string> source_keys;
  // Human-readable facts ("stripped prefix 'module.' from 23 keys",
  // "unpacked ffn.w12 for 2 layers", "decoder bias kept").
  std::vector<std::string> notes;
  // Things the user should see (decoder bias dropped, float16).
  std::vector<std::string> warnings;
  bool decoder_bias = false;   // decoder.bias is in `tensors`
  bool tied_decoder = false;   // decoder.weight is the same view as model.encoder.weight
  format::DType dtype = format::DType::kFloat32;   // label for config.json; writers cast to it
  std::optional<format::DType> source_dtype;       // the common input dtype; nullopt if mixed
  int64_t prefixed_keys = 0;        // keys that had a wrapper prefix stripped
  int64_t unpacked_w12_layers = 0;  // layers whose packed w12 was split
};

// Builds the mapping. `source` names the weight file in error messages.
absl::StatusOr<TensorMapping> MapCheckpointTensors(
    const std::vector<format::TensorEntry>& tensors, const NeoBertConfig& config,
    const MappingOptions& options = {}, const std::string& source = "weights");

}  // namespace neobert::core
