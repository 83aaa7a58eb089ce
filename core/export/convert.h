// ConvertWeights: one weight file to another format and/or dtype (the CLI's
// `convert`), through the export's own pieces: the casts of
// format/cast.h, the weight writers (weight_files.h) and the staging
// directory (staging_dir.h), so the output is byte for byte what an export
// would write for the same tensors, and a failed or killed conversion never
// leaves a half-written OUTPUT (the file is staged in a hidden sibling
// folder and renamed into place).
//
// No NeoBERT knowledge: any tensor names, no scan of the values (a corrupt
// torch record keeps its recorded CRC-32, so a zip check still catches it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "core/base/fs_root.h"
#include "core/base/progress.h"
#include "core/format/dtype.h"

namespace neobert::core {

enum class WeightFormat { kSafetensors, kTorchBin };

struct ConvertOptions {
  std::string input;   // state_dict.pt, pytorch_model.bin or model.safetensors
  std::string output;  // the file to write; an existing file is replaced
  WeightFormat format = WeightFormat::kSafetensors;
  // Cast every floating-point tensor to this dtype (nullopt: keep).
  std::optional<format::DType> dtype{};
  // Both files are read and written beneath this root (core/base/fs_root.h).
  base::FsRoot root{};
  bool sync = true;  // fsync the output before it is renamed into place
};

struct ConvertResult {
  uint64_t tensor_count = 0;
  uint64_t tensor_bytes = 0;  // tensor data bytes written
};

absl::StatusOr<ConvertResult> ConvertWeights(const ConvertOptions& options,
                                             base::ProgressSink& progress, const base::CancelToken& cancel);

// The output format `convert` infers from a file name: .safetensors, or
// .bin / .pt for a torch zip; nullopt otherwise.
std::optional<WeightFormat> WeightFormatOfName(const std::string& path);

// The cast `convert --dtype` asks for: nullopt for "keep", else any
// floating-point dtype (float64 included, unlike an export). INVALID_ARGUMENT
// naming the value otherwise.
absl::StatusOr<std::optional<format::DType>> ConvertDtype(const std::string& name);

}  // namespace neobert::core
