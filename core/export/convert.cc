#include "core/export/convert.h"

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/export/staging_dir.h"
#include "core/export/weight_files.h"
#include "core/format/cast.h"
#include "core/format/weights.h"

namespace neobert::core {
namespace fs = std::filesystem;

std::optional<WeightFormat> WeightFormatOfName(const std::string& path) {
  if (absl::EndsWith(path, ".safetensors")) return WeightFormat::kSafetensors;
  if (absl::EndsWith(path, ".bin") || absl::EndsWith(path, ".pt")) return WeightFormat::kTorchBin;
  return std::nullopt;
}

absl::StatusOr<std::optional<format::DType>> ConvertDtype(const std::string& name) {
  if (name == "keep") return std::nullopt;
  const std::optional<format::DType> dtype = format::FromTorchName(name);
  if (!dtype || !format::IsFloatingPoint(*dtype)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown dtype '", name, "' (expected keep, float32, bfloat16, float16 or float64)"));
  }
  return dtype;
}

absl::StatusOr<ConvertResult> ConvertWeights(const ConvertOptions& o, base::ProgressSink& progress,
                                             const base::CancelToken& cancel) {
  ASSIGN_OR_RETURN(format::TensorSet set, format::ReadWeights(o.root, o.input));
  std::vector<format::TensorEntry> tensors = std::move(set.tensors);
  if (o.dtype) {
    ASSIGN_OR_RETURN(tensors, format::CastFloatingTensors(tensors, *o.dtype));
  }
  ASSIGN_OR_RETURN(auto staging, StagingDir::Create({.destination = o.output,
                                                     .root = o.root,
                                                     .overwrite = true,
                                                     .sync = o.sync}));
  // The file keeps its final name inside the staging folder; CommitFile
  // renames it into place.
  const std::string name = fs::path(staging->destination()).filename().string();
  const bool st = o.format == WeightFormat::kSafetensors;
  const WeightFilesPlan plan = PlanWeightFiles(
      tensors, {.safetensors_name = st ? name : "", .pytorch_bin_name = st ? "" : name});
  progress.OnStage("write", name, plan.tensor_bytes);
  RETURN_IF_ERROR(WriteWeightFiles(tensors, plan,
                                   {.dir = staging->path(),
                                    .root = o.root,
                                    .sync = false,  // CommitFile fsyncs
                                    .writeback = o.sync},
                                   progress, cancel)
                      .status());
  RETURN_IF_ERROR(staging->CommitFile(name));
  return ConvertResult{.tensor_count = tensors.size(), .tensor_bytes = plan.tensor_bytes};
}

}  // namespace neobert::core
