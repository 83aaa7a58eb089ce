// The JSON spelling of a forward request, shared by `neobert-export forward`
// and the test tool (tests/engine/forward_tool.cc):
//
//   {"input_ids": [[..], ..], "attention_mask": [[..], ..],
//    "mask_kind": "int" | "bool" | "float", "position_ids": [[..], ..]}
//
// Only input_ids is required. Without mask_kind the kind follows the JSON
// values (§7.2 reads them by dtype): any true/false → bool, any non-integer
// number → float, else int. Float entries may also be the strings "-inf" /
// "-Infinity" / "inf" / "Infinity" (JSON has no infinities), so additive
// masks can be written. Shapes and ranges (ragged rows, ids outside the
// vocabulary) are checked by NeoBertModel::Forward, which names the row and
// column; this parser only checks types.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/engine/engine.h"

namespace neobert::engine {

// Cap on the request file: 1M tokens of ids plus a mask fit comfortably.
inline constexpr uint64_t kMaxForwardRequestBytes = uint64_t{64} << 20;

// One request object. `origin` (a file name, maybe with an index) starts
// every error message; errors are INVALID_ARGUMENT naming the field and the
// [row][column] of a bad value.
absl::StatusOr<ForwardInput> ParseForwardRequest(const std::string& json_text,
                                                 const std::string& origin);

// A request object, or (when `allow_batch`) a JSON array of them. `*batch`
// says which it was.
absl::StatusOr<std::vector<ForwardInput>> ParseForwardRequests(const std::string& json_text,
                                                               const std::string& origin,
                                                               bool allow_batch, bool* batch);

}  // namespace neobert::engine
