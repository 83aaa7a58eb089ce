// Reading an exported folder back: its config.json as a model spec, its
// weights (model.safetensors or the shards of its index), the engine model,
// and its tokenizer with the special tokens. Shared by the validator and the
// `forward` / `predict` developer commands, so all three see the same model.
// Every file is read through the door beneath `root` (core/base/fs_root.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/base/fs_root.h"
#include "core/engine/engine.h"
#include "core/format/tensor.h"
#include "core/neobert/tokenizer_assets.h"
#include "core/tokenizer/tokenizer.h"

namespace neobert::core {

// config.json → ModelSpec (engine::ModelSpecFromHfConfigJson; the file is
// read with a 1 MiB cap). Errors name config.json.
absl::StatusOr<engine::ModelSpec> ReadExportSpec(const base::FsRoot& root,
                                                 const std::string& export_dir);

// The tensors of model.safetensors, or of every shard that
// model.safetensors.index.json names (shard names with '/' or ".." are
// refused). NOT_FOUND when neither file exists.
absl::StatusOr<std::vector<format::TensorEntry>> ReadExportWeights(
    const base::FsRoot& root, const std::string& export_dir);

// Spec + weights → a ready model (strict load, NeoBertModel::Create).
absl::StatusOr<std::unique_ptr<engine::NeoBertModel>> LoadExportModel(
    const base::FsRoot& root, const std::string& export_dir, const engine::EngineOptions& options);

// The export's tokenizer.json and its special tokens (special_tokens_map.json,
// else tokenizer_config.json), each resolved to an id of tokenizer.json.
struct ExportTokenizer {
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
  SpecialTokens special;  // token strings
  uint32_t cls_id = 0, sep_id = 0, pad_id = 0, mask_id = 0, unk_id = 0;
};

// INVALID_ARGUMENT when a special token is not in tokenizer.json; loader
// errors (NOT_FOUND, UNIMPLEMENTED, ...) pass through, naming the file.
absl::StatusOr<ExportTokenizer> LoadExportTokenizer(const base::FsRoot& root,
                                                    const std::string& export_dir);

// Encodings (one per row, already padded to one length) → a forward input
// with an integer 0/1 attention mask.
engine::ForwardInput ForwardInputFromEncodings(const std::vector<tokenizer::Encoding>& rows);

}  // namespace neobert::core
