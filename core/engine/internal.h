// Engine internals that need no LibTorch: the tensor-set check of Create and
// input preparation (validation, §7.2 mask normalisation, §7.3 positions).
// The torch TU only turns the prepared vectors into tensors.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/engine/engine.h"
#include "core/format/tensor.h"

namespace neobert::engine {

// Every expected tensor present once with its exact shape, floating dtype and
// valid bounds; nothing else. Returns the tensors by final name.
absl::StatusOr<std::map<std::string, const format::TensorEntry*>> CheckTensorSet(
    const ModelSpec& spec, const std::vector<format::TensorEntry>& tensors);

struct PreparedInput {
  int64_t batch = 0;
  int64_t seq = 0;
  std::vector<int64_t> ids;        // B*S, row-major
  // B*S, 1 = key may be attended; empty when every key is kept (no masking).
  std::vector<uint8_t> keep;
  // B, 1 = the row keeps at least one key; empty when every row does.
  std::vector<uint8_t> row_has_key;
  // B*S: RoPE positions (default 0..S-1) or learned-embedding rows (default
  // cumsum(id != pad) * (id != pad)); always filled.
  std::vector<int64_t> positions;
};

// Validates `input` against `spec` (INVALID_ARGUMENT naming field, row and
// column) and normalises it.
absl::StatusOr<PreparedInput> PrepareInput(const ModelSpec& spec, const ForwardInput& input);

// §7.2 on a flat mask: returns keep flags (1 = attend).
absl::StatusOr<std::vector<uint8_t>> NormaliseMask(const std::vector<double>& flat,
                                                   ForwardInput::MaskKind kind, int64_t seq);

}  // namespace neobert::engine
