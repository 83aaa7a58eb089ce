// tokenizer_info.json (reference §1.5): optional; checked against config.yaml.
//
//   {"tokenizer_name": str, "vocab_size": int, "base_vocab_size": int,
//    "total_vocab_size": int, "pad_token_id": int}
//
// Only `vocab_size` and `pad_token_id` are read; null or absent skips a
// check. R4: absent file → warning. R5: vocab_size != model.vocab_size →
// warning (expected for pre-a5f0198 files, which stored the base vocab).
// R6: pad_token_id != model.pad_token_id → INVALID_ARGUMENT.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/base/fs_root.h"
#include "core/neobert/checkpoint_config.h"

namespace neobert::core {

inline constexpr uint64_t kMaxTokenizerInfoBytes = 1 << 20;

// `json_text` = file contents, nullopt when the file does not exist.
// Returns the warnings (R4, R5). Errors name `source`: malformed JSON, a
// non-object top level, a non-integer pad_token_id, R6.
absl::StatusOr<std::vector<std::string>> CheckTokenizerInfo(
    const std::optional<std::string>& json_text, const NeoBertConfig& config,
    const std::string& source = "tokenizer_info.json", bool quote = true);

// Reads `path` beneath `root` (absent → R4 warning) and checks it as above;
// a file reached through a symbolic link is never quoted (base/excerpt.h).
absl::StatusOr<std::vector<std::string>> CheckTokenizerInfoFile(const base::FsRoot& root,
                                                                const std::string& path,
                                                                const NeoBertConfig& config);

}  // namespace neobert::core
