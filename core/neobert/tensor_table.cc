#include "core/neobert/tensor_table.h"

#include <array>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace neobert::core {
namespace {

// Symbolic dimensions of the shape formulas.
enum class Dim { kVocab, kHidden, kPositionsPlus1, kThreeHidden, kFfn };
// When a row applies.
enum class When { kAlways, kLearnedPositions, kSwiGLU, kGELU, kLayerNorm, kOptional };

struct Row {
  TensorRole role;
  const char* pattern;  // `{i}` marks a per-layer row
  int rank;
  std::array<Dim, 2> dims;
  When when;
};

constexpr Dim V = Dim::kVocab, H = Dim::kHidden, P1 = Dim::kPositionsPlus1,
              H3 = Dim::kThreeHidden, F = Dim::kFfn;
using R = TensorRole;
using W = When;
constexpr Row kTable[] = {
    {R::kEmbedding, "model.encoder.weight", 2, {V, H}, W::kAlways},
    {R::kPositionalEmbedding, "model.positional_embedding.weight", 2, {P1, H},
     W::kLearnedPositions},
    {R::kQkv, "model.transformer_encoder.{i}.qkv.weight", 2, {H3, H}, W::kAlways},
    {R::kWo, "model.transformer_encoder.{i}.wo.weight", 2, {H, H}, W::kAlways},
    {R::kFfnW1, "model.transformer_encoder.{i}.ffn.w1.weight", 2, {F, H}, W::kSwiGLU},
    {R::kFfnW2, "model.transformer_encoder.{i}.ffn.w2.weight", 2, {F, H}, W::kSwiGLU},
    {R::kFfnW3, "model.transformer_encoder.{i}.ffn.w3.weight", 2, {H, F}, W::kSwiGLU},
    {R::kFfn0, "model.transformer_encoder.{i}.ffn.0.weight", 2, {F, H}, W::kGELU},
    {R::kFfn2, "model.transformer_encoder.{i}.ffn.2.weight", 2, {H, F}, W::kGELU},
    {R::kAttentionNorm, "model.transformer_encoder.{i}.attention_norm.weight", 1, {H},
     W::kAlways},
    {R::kAttentionNormBias, "model.transformer_encoder.{i}.attention_norm.bias", 1, {H},
     W::kLayerNorm},
    {R::kFfnNorm, "model.transformer_encoder.{i}.ffn_norm.weight", 1, {H}, W::kAlways},
    {R::kFfnNormBias, "model.transformer_encoder.{i}.ffn_norm.bias", 1, {H}, W::kLayerNorm},
    {R::kFinalNorm, "model.layer_norm.weight", 1, {H}, W::kAlways},
    {R::kFinalNormBias, "model.layer_norm.bias", 1, {H}, W::kLayerNorm},
    {R::kDecoder, "decoder.weight", 2, {V, H}, W::kAlways},
    {R::kDecoderBias, "decoder.bias", 1, {V}, W::kOptional},
};

bool PerLayer(const Row& row) {
  return absl::string_view(row.pattern).find("{i}") != absl::string_view::npos;
}

const Row& RowOf(TensorRole role) {
  for (const Row& row : kTable) {
    if (row.role == role) return row;
  }
  return kTable[0];  // unreachable: every role has a row (tensor_table_test checks)
}

bool Applies(When when, const NeoBertConfig& c) {
  switch (when) {
    case When::kAlways:
    case When::kOptional: return true;
    case When::kLearnedPositions: return !c.rope;
    case When::kSwiGLU: return c.swiglu();
    case When::kGELU: return !c.swiglu();
    case When::kLayerNorm: return !c.rms_norm;
  }
  return false;
}

int64_t Size(Dim d, const NeoBertConfig& c) {
  switch (d) {
    case Dim::kVocab: return c.vocab_size;
    case Dim::kHidden: return c.hidden_size;
    case Dim::kPositionsPlus1: return c.max_position_embeddings + 1;
    case Dim::kThreeHidden: return 3 * c.hidden_size;
    case Dim::kFfn: return c.ffn_width();
  }
  return 0;
}

const char* Formula(Dim d, const NeoBertConfig& c) {
  switch (d) {
    case Dim::kVocab: return "vocab_size";
    case Dim::kHidden: return "hidden_size";
    case Dim::kPositionsPlus1: return "max_position_embeddings+1";
    case Dim::kThreeHidden: return "3*hidden_size";
    case Dim::kFfn: return c.swiglu() ? "swiglu_width(intermediate_size)" : "intermediate_size";
  }
  return "?";
}

ExpectedTensor Resolve(const Row& row, int64_t layer, const NeoBertConfig& c) {
  ExpectedTensor e;
  e.name = TensorName(row.role, layer);
  e.role = row.role;
  e.layer = PerLayer(row) ? layer : -1;
  e.optional = row.when == When::kOptional;
  std::vector<std::string> terms;
  for (int k = 0; k < row.rank; ++k) {
    e.shape.push_back(Size(row.dims[k], c));
    terms.push_back(Formula(row.dims[k], c));
  }
  e.shape_formula = absl::StrCat("(", absl::StrJoin(terms, ", "), row.rank == 1 ? ",)" : ")");
  return e;
}

}  // namespace

bool IsPerLayer(TensorRole role) { return PerLayer(RowOf(role)); }

std::string TensorName(TensorRole role, int64_t layer) {
  const Row& row = RowOf(role);
  if (!PerLayer(row)) return row.pattern;
  return absl::StrReplaceAll(row.pattern, {{"{i}", absl::StrCat(layer)}});
}

std::vector<ExpectedTensor> ExpectedTensors(const NeoBertConfig& config) {
  std::vector<ExpectedTensor> out;
  // Per-layer rows are contiguous in the table; emit them layer by layer so
  // the output follows module order.
  const size_t n = sizeof(kTable) / sizeof(kTable[0]);
  for (size_t r = 0; r < n;) {
    if (!PerLayer(kTable[r])) {
      if (Applies(kTable[r].when, config)) out.push_back(Resolve(kTable[r], -1, config));
      ++r;
      continue;
    }
    size_t end = r;
    while (end < n && PerLayer(kTable[end])) ++end;
    for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
      for (size_t k = r; k < end; ++k) {
        if (Applies(kTable[k].when, config)) out.push_back(Resolve(kTable[k], i, config));
      }
    }
    r = end;
  }
  return out;
}

}  // namespace neobert::core
