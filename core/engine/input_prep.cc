// ForwardInput → PreparedInput: shape and range checks, §7.2 attention-mask
// normalisation and §7.3 default positions, in plain C++.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/engine/engine.h"
#include "core/engine/internal.h"

namespace neobert::engine {
namespace {

// float32 represents every integer up to 2^24 exactly; RoPE angles are
// float32(position) * inv_freq, so larger positions would silently alias.
constexpr int64_t kMaxRopePosition = int64_t{1} << 24;

template <typename T>
absl::Status CheckRectangular(const std::vector<std::vector<T>>& rows, const char* field,
                              int64_t batch, int64_t seq) {
  if (static_cast<int64_t>(rows.size()) != batch) {
    return absl::InvalidArgumentError(absl::StrCat(field, " has ", rows.size(),
                                                   " rows; input_ids has ", batch));
  }
  for (size_t b = 0; b < rows.size(); ++b) {
    if (static_cast<int64_t>(rows[b].size()) != seq) {
      return absl::InvalidArgumentError(absl::StrCat(field, " row ", b, " has ", rows[b].size(),
                                                     " entries; expected ", seq));
    }
  }
  return absl::OkStatus();
}

std::string At(int64_t i, int64_t seq) { return absl::StrCat("[", i / seq, "][", i % seq, "]"); }

}  // namespace

absl::StatusOr<std::vector<uint8_t>> NormaliseMask(const std::vector<double>& flat,
                                                   ForwardInput::MaskKind kind, int64_t seq) {
  std::vector<uint8_t> keep(flat.size());
  if (kind == ForwardInput::kInt || kind == ForwardInput::kBool) {
    for (size_t i = 0; i < flat.size(); ++i) {
      const double v = flat[i];
      const bool integral = std::isfinite(v) && std::trunc(v) == v;
      if (!integral || (kind == ForwardInput::kBool && v != 0 && v != 1)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "attention_mask", At(static_cast<int64_t>(i), seq), " = ", v, " is not ",
            kind == ForwardInput::kBool ? "a bool (0 or 1)" : "an integer"));
      }
      keep[i] = v != 0;  // bool: the mask itself; integer: mask != 0 (zeros keep nothing)
    }
    return keep;
  }
  double lo = 0, hi = 0;
  for (size_t i = 0; i < flat.size(); ++i) {
    if (std::isnan(flat[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("attention_mask", At(static_cast<int64_t>(i), seq), " is NaN"));
    }
    lo = i == 0 ? flat[i] : std::min(lo, flat[i]);
    hi = i == 0 ? flat[i] : std::max(hi, flat[i]);
  }
  // Additive when anything is negative or nothing is positive (so all zeros
  // keep everything); otherwise a multiplicative 1/0-style mask.
  const bool additive = lo < 0 || hi <= 0;
  for (size_t i = 0; i < flat.size(); ++i) keep[i] = additive ? flat[i] >= 0 : flat[i] != 0;
  return keep;
}

absl::StatusOr<PreparedInput> PrepareInput(const ModelSpec& spec, const ForwardInput& input) {
  PreparedInput p;
  p.batch = static_cast<int64_t>(input.input_ids.size());
  if (p.batch == 0) return absl::InvalidArgumentError("input_ids has no rows");
  p.seq = static_cast<int64_t>(input.input_ids[0].size());
  if (p.seq == 0) return absl::InvalidArgumentError("input_ids row 0 is empty");
  if (p.batch > kMaxForwardTokens || p.seq > kMaxForwardTokens ||
      p.batch * p.seq > kMaxForwardTokens) {
    return absl::InvalidArgumentError(absl::StrCat("input_ids (", p.batch, ", ", p.seq,
                                                   ") exceeds the engine's cap of ",
                                                   kMaxForwardTokens, " tokens"));
  }
  const int64_t tokens = p.batch * p.seq;
  // tokens <= 2^20 and V, A <= 2^24, so these products fit in int64.
  if (tokens * spec.vocab_size > kMaxForwardLogits) {
    return absl::InvalidArgumentError(absl::StrCat(
        "input (", p.batch, ", ", p.seq, ") with vocab ", spec.vocab_size,
        " needs more logits than the engine's cap of ", kMaxForwardLogits));
  }
  if (tokens * p.seq > kMaxForwardScores / spec.num_attention_heads) {
    return absl::InvalidArgumentError(absl::StrCat(
        "input (", p.batch, ", ", p.seq, ") needs more attention scores than the engine's cap of ",
        kMaxForwardScores));
  }
  RETURN_IF_ERROR(CheckRectangular(input.input_ids, "input_ids", p.batch, p.seq));
  p.ids.reserve(tokens);
  for (int64_t b = 0; b < p.batch; ++b) {
    for (int64_t j = 0; j < p.seq; ++j) {
      const int64_t id = input.input_ids[b][j];
      if (id < 0 || id >= spec.vocab_size) {
        return absl::InvalidArgumentError(absl::StrCat("input_ids[", b, "][", j, "] = ", id,
                                                       " is outside [0, ", spec.vocab_size, ")"));
      }
      p.ids.push_back(id);
    }
  }

  if (input.attention_mask.has_value()) {
    const auto& m = *input.attention_mask;
    RETURN_IF_ERROR(CheckRectangular(m, "attention_mask", p.batch, p.seq));
    std::vector<double> flat;
    flat.reserve(tokens);
    for (const auto& row : m) flat.insert(flat.end(), row.begin(), row.end());
    ASSIGN_OR_RETURN(std::vector<uint8_t> keep, NormaliseMask(flat, input.mask_kind, p.seq));
    if (std::find(keep.begin(), keep.end(), 0) != keep.end()) {
      p.keep = std::move(keep);
      std::vector<uint8_t> has(p.batch, 0);
      for (int64_t i = 0; i < tokens; ++i) has[i / p.seq] |= p.keep[i];
      if (std::find(has.begin(), has.end(), 0) != has.end()) p.row_has_key = std::move(has);
    }
  }

  p.positions.reserve(tokens);
  if (input.position_ids.has_value()) {
    const auto& pos = *input.position_ids;
    RETURN_IF_ERROR(CheckRectangular(pos, "position_ids", p.batch, p.seq));
    for (int64_t b = 0; b < p.batch; ++b) {
      for (int64_t j = 0; j < p.seq; ++j) {
        const int64_t v = pos[b][j];
        if (v < 0) {
          return absl::InvalidArgumentError(
              absl::StrCat("position_ids[", b, "][", j, "] = ", v, " is negative"));
        }
        p.positions.push_back(v);
      }
    }
  } else if (spec.rope) {
    for (int64_t b = 0; b < p.batch; ++b) {
      for (int64_t j = 0; j < p.seq; ++j) p.positions.push_back(j);
    }
  } else {
    // 1-based over real tokens, 0 (the padding row) for pad tokens; the
    // padding's location does not matter.
    for (int64_t b = 0; b < p.batch; ++b) {
      int64_t count = 0;
      for (int64_t j = 0; j < p.seq; ++j) {
        const bool real = !spec.pad_token_id.has_value() || p.ids[b * p.seq + j] != *spec.pad_token_id;
        count += real ? 1 : 0;
        p.positions.push_back(real ? count : 0);
      }
    }
  }
  const int64_t limit = spec.rope ? kMaxRopePosition - 1 : spec.max_position_embeddings;
  for (int64_t i = 0; i < tokens; ++i) {
    if (p.positions[i] > limit) {
      return absl::InvalidArgumentError(absl::StrCat(
          input.position_ids.has_value() ? "position_ids" : "default position of token",
          At(i, p.seq), " = ", p.positions[i], " exceeds ",
          spec.rope ? "the RoPE limit " : "max_length ", limit,
          spec.rope ? "" : " of the learned positional embedding"));
    }
  }
  return p;
}

}  // namespace neobert::engine
