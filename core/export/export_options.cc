#include "core/export/export_options.h"

#include "absl/strings/str_cat.h"
#include "core/base/device_name.h"
#include "core/base/status_macros.h"

namespace neobert::core {

const char kToolName[] = "neobert-export " NEOBERT_VERSION;

absl::StatusOr<std::optional<format::DType>> ExportDtype(const std::string& name) {
  if (name == "keep") return std::nullopt;
  const std::optional<format::DType> dtype = format::FromTorchName(name);
  if (dtype == format::DType::kFloat32 || dtype == format::DType::kBFloat16 ||
      dtype == format::DType::kFloat16) {
    return dtype;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown dtype '", name, "' (expected keep, float32, bfloat16 or float16)"));
}

absl::Status CheckExportOptions(const ExportOptions& options) {
  RETURN_IF_ERROR(ExportDtype(options.dtype).status());
  if (!options.device.empty()) RETURN_IF_ERROR(base::ParseDeviceName(options.device).status());
  return absl::OkStatus();
}

std::map<std::string, std::string> OutputAffectingOptions(const ExportOptions& o) {
  return {{"dtype", o.dtype},
          {"pytorch_model_bin", o.write_pytorch_bin ? "true" : "false"},
          {"max_shard_bytes", absl::StrCat(o.max_shard_bytes)},
          {"drop_decoder_bias", o.drop_decoder_bias ? "true" : "false"},
          {"tool", kToolName}};
}

}  // namespace neobert::core
