// The checkpoint's tokenizer/ folder → the tokenizer files of the export
// (reference §1.6, §8.4, R16–R19, §11), as an in-memory plan: nothing is
// written here; the pipeline writes `content` or copies `source_path`.
//
// What the plan does:
//  * special tokens cls/sep/pad/mask/unk are looked up in
//    special_tokens_map.json first, then tokenizer_config.json (transformers
//    5 writes no map). A value is a string or an object with "content".
//    Any still missing → INVALID_ARGUMENT naming the tokens and the files.
//  * tokenizer.json is required (we support fast tokenizers only): the
//    tokenizer length = number of distinct ids in model.vocab (object
//    token→id, or Unigram [token, score] list) and added_tokens. R19:
//    length > vocab_size → error; ids must be 0..length-1 without holes;
//    length < vocab_size → placeholders `<|neobert_extra_token_{id}|>` for
//    id = length .. V-1 as non-special added tokens (normalized true, like
//    HF's add_tokens), appended to tokenizer.json `added_tokens` (spliced
//    into the original text, every other byte unchanged),
//    tokenizer_config.json `added_tokens_decoder` and, when present,
//    added_tokens.json.
//  * tokenizer_config.json gets model_max_length = max_position_embeddings
//    (created, with tokenizer_class PreTrainedTokenizerFast and the special
//    tokens, when the checkpoint has none).
//  * every other regular file is copied unchanged (vocab.txt,
//    special_tokens_map.json, merges.txt, *.model, ...), except hidden
//    files, subfolders, files larger than kMaxCopiedTokenizerFileBytes and
//    names the exporter writes itself (config.json, README.md, ...), each
//    skipped with a note. A FIFO, socket or device is an error. A symlink
//    whose target leaves the folder is an INVALID_ARGUMENT error (one that
//    leaves the root: PERMISSION_DENIED); other symlinks are followed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/base/fs_root.h"
#include "core/neobert/checkpoint_config.h"

namespace neobert::core {

inline constexpr uint64_t kMaxTokenizerJsonBytes = 64ull << 20;
inline constexpr uint64_t kMaxTokenizerSmallJsonBytes = 16ull << 20;
inline constexpr uint64_t kMaxCopiedTokenizerFileBytes = 256ull << 20;
inline constexpr int64_t kMaxPlaceholderTokens = 65536;
inline constexpr size_t kMaxTokenizerDirEntries = 4096;

struct SpecialTokens {
  std::string cls, sep, pad, mask, unk;
};

struct TokenizerFile {
  std::string name;                    // file name inside the export folder
  std::optional<std::string> content;  // new contents; nullopt → copy source_path unchanged
  std::string source_path;             // the checkpoint file (empty for created files)
};

struct TokenizerPlan {
  std::vector<TokenizerFile> files;  // sorted by name
  SpecialTokens special;
  int64_t tokenizer_size = 0;        // len(tokenizer) before alignment
  int64_t placeholders_added = 0;
  // The token "▁" (U+2581) exists and is not the unk token: the model
  // card's fill-mask snippet then drops a lone "▁" before the mask (§8.5).
  bool metaspace = false;
  std::vector<std::string> notes;
};

// Everything is read through the door beneath `root` (core/base/fs_root.h):
// the folder and every file in it; a link leaving the root is
// PERMISSION_DENIED naming it; a FIFO, socket or device in the folder is
// INVALID_ARGUMENT naming it and its type. `tokenizer_dir` missing →
// NOT_FOUND (R16); neither special_tokens_map.json nor tokenizer_config.json
// → NOT_FOUND (R17); other problems INVALID_ARGUMENT naming the file and
// field.
absl::StatusOr<TokenizerPlan> PlanTokenizerAssets(const base::FsRoot& root,
                                                  const std::string& tokenizer_dir,
                                                  const NeoBertConfig& config);

// The special tokens of a tokenizer folder (a checkpoint's tokenizer/ or an
// export): the same lookup as PlanTokenizerAssets. NOT_FOUND without either
// JSON file; INVALID_ARGUMENT for a malformed file or a missing token.
absl::StatusOr<SpecialTokens> ReadSpecialTokens(const base::FsRoot& root, const std::string& dir);

// The placeholder token for `id` ("<|neobert_extra_token_30522|>").
std::string PlaceholderToken(int64_t id);

}  // namespace neobert::core
