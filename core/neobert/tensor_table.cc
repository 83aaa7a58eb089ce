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
  const char* pattern;  // `{i}` marks a per-layer row
  int rank;
  std::array<Dim, 2> dims;
  When when;
};

constexpr Row kTable[] = {
    {"model.encoder.weight", 2, {Dim::kVocab, Dim::kHidden}, When::kAlways},
    {"model.positional_embedding.weight", 2, {Dim::kPositionsPlus1, Dim::kHidden},
     When::kLearnedPositions},
    {"model.transformer_encoder.{i}.qkv.weight", 2, {Dim::kThreeHidden, Dim::kHidden},
     When::kAlways},
    {"model.transformer_encoder.{i}.wo.weight", 2, {Dim::kHidden, Dim::kHidden}, When::kAlways},
    {"model.transformer_encoder.{i}.ffn.w1.weight", 2, {Dim::kFfn, Dim::kHidden}, When::kSwiGLU},
    {"model.transformer_encoder.{i}.ffn.w2.weight", 2, {Dim::kFfn, Dim::kHidden}, When::kSwiGLU},
    {"model.transformer_encoder.{i}.ffn.w3.weight", 2, {Dim::kHidden, Dim::kFfn}, When::kSwiGLU},
    {"model.transformer_encoder.{i}.ffn.0.weight", 2, {Dim::kFfn, Dim::kHidden}, When::kGELU},
    {"model.transformer_encoder.{i}.ffn.2.weight", 2, {Dim::kHidden, Dim::kFfn}, When::kGELU},
    {"model.transformer_encoder.{i}.attention_norm.weight", 1, {Dim::kHidden}, When::kAlways},
    {"model.transformer_encoder.{i}.attention_norm.bias", 1, {Dim::kHidden}, When::kLayerNorm},
    {"model.transformer_encoder.{i}.ffn_norm.weight", 1, {Dim::kHidden}, When::kAlways},
    {"model.transformer_encoder.{i}.ffn_norm.bias", 1, {Dim::kHidden}, When::kLayerNorm},
    {"model.layer_norm.weight", 1, {Dim::kHidden}, When::kAlways},
    {"model.layer_norm.bias", 1, {Dim::kHidden}, When::kLayerNorm},
    {"decoder.weight", 2, {Dim::kVocab, Dim::kHidden}, When::kAlways},
    {"decoder.bias", 1, {Dim::kVocab}, When::kOptional},
};

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

ExpectedTensor Resolve(const Row& row, const std::string& name, const NeoBertConfig& c) {
  ExpectedTensor e;
  e.name = name;
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

std::string LayerPrefix(int64_t layer) {
  return absl::StrCat("model.transformer_encoder.", layer, ".");
}

std::vector<ExpectedTensor> ExpectedTensors(const NeoBertConfig& config) {
  std::vector<ExpectedTensor> out;
  // Per-layer rows are contiguous in the table; emit them layer by layer so
  // the output follows module order.
  const size_t n = sizeof(kTable) / sizeof(kTable[0]);
  for (size_t r = 0; r < n;) {
    const bool per_layer = absl::string_view(kTable[r].pattern).find("{i}") !=
                           absl::string_view::npos;
    if (!per_layer) {
      if (Applies(kTable[r].when, config)) {
        out.push_back(Resolve(kTable[r], kTable[r].pattern, config));
      }
      ++r;
      continue;
    }
    size_t end = r;
    while (end < n && absl::string_view(kTable[end].pattern).find("{i}") !=
                          absl::string_view::npos) {
      ++end;
    }
    for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
      const std::string idx = absl::StrCat(i);
      for (size_t k = r; k < end; ++k) {
        if (!Applies(kTable[k].when, config)) continue;
        out.push_back(Resolve(kTable[k], absl::StrReplaceAll(kTable[k].pattern, {{"{i}", idx}}),
                              config));
      }
    }
    r = end;
  }
  return out;
}

}  // namespace neobert::core
