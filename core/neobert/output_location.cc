#include "core/neobert/output_location.h"

#include <filesystem>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/status/error_reason.h"

namespace neobert::core {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxScannedEntries = 100000;

bool IsFile(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// mp_rank_*_model_states.pt, zero_pp_rank_*_mp_rank_*_optim_states.pt and
// the bf16_ variant (which the second test covers).
bool IsZeroShardName(const std::string& name) {
  if (absl::StartsWith(name, "mp_rank_") && absl::EndsWith(name, "_model_states.pt")) return true;
  return absl::StrContains(name, "zero_pp_rank_") && absl::EndsWith(name, "_optim_states.pt");
}

bool HasZeroShards(const fs::path& dir) {
  std::error_code ec;
  size_t seen = 0;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (++seen > kMaxScannedEntries) break;
    if (IsZeroShardName(it->path().filename().string())) return true;
  }
  return false;
}

}  // namespace

bool LooksLikeDeepSpeedCheckpoint(const std::string& dir) {
  const fs::path d(dir);
  std::error_code ec;
  if (HasZeroShards(d) || IsFile(d / "latest")) return true;
  for (const char* nested : {"pytorch_model", "model"}) {
    if (fs::is_directory(d / nested, ec) && HasZeroShards(d / nested)) return true;
  }
  return false;
}

absl::StatusOr<std::string> DefaultOutputDir(const std::string& checkpoint_dir) {
  std::error_code ec;
  const fs::path ckpt = fs::canonical(checkpoint_dir, ec);
  if (ec) {
    return absl::NotFoundError(
        absl::StrCat(checkpoint_dir, ": cannot resolve checkpoint path: ", ec.message()));
  }
  const fs::path run = ckpt.parent_path().parent_path();
  if (ckpt.parent_path() == ckpt.root_path() || run.filename().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        ckpt.string(), ": no <run>/<folder>/<step> structure to derive a default output from; "
                       "give an output directory"));
  }
  return (run / "hf" / absl::StrCat(run.filename().string(), "_", ckpt.filename().string()))
      .string();
}

absl::StatusOr<WeightFile> FindWeightFile(const std::string& checkpoint_dir,
                                          const WeightFileOptions& options) {
  const fs::path dir(checkpoint_dir);
  const fs::path st = dir / "model.safetensors";
  const fs::path pt = dir / "state_dict.pt";
  const bool has_st = IsFile(st), has_pt = IsFile(pt);
  WeightFile out;
  if (has_st && has_pt) {
    bool take_pt = false;
    if (options.prefer_newer) {
      std::error_code e1, e2;
      const auto t_st = fs::last_write_time(st, e1);
      const auto t_pt = fs::last_write_time(pt, e2);
      take_pt = !e1 && !e2 && t_pt > t_st;
    }
    out.notes.push_back(absl::StrCat(
        "both model.safetensors and state_dict.pt exist; using ",
        take_pt ? "state_dict.pt" : "model.safetensors",
        options.prefer_newer ? " (modified last)" : " (preferred)"));
    out.path = (take_pt ? pt : st).string();
    out.format = take_pt ? "torch-zip" : "safetensors";
  } else if (has_st || has_pt) {
    out.path = (has_st ? st : pt).string();
    out.format = has_st ? "safetensors" : "torch-zip";
  } else if (LooksLikeDeepSpeedCheckpoint(checkpoint_dir)) {
    return MakeError(ErrorReason::kCheckpointUnsupported,
                     absl::StrCat(checkpoint_dir,
                                  ": DeepSpeed ZeRO checkpoint is not supported yet; convert with "
                                  "zero_to_fp32 first (no model.safetensors or state_dict.pt found)"),
                     {{"checkpoint_dir", checkpoint_dir}, {"conversion", "zero_to_fp32"}});
  } else {
    return absl::NotFoundError(absl::StrCat(
        checkpoint_dir, ": no weights found (looked for model.safetensors and state_dict.pt)"));
  }
  if (LooksLikeDeepSpeedCheckpoint(checkpoint_dir)) {
    out.notes.push_back(absl::StrCat("DeepSpeed ZeRO files present; ignored in favour of ",
                                     fs::path(out.path).filename().string()));
  }
  return out;
}

absl::StatusOr<CheckpointLayout> InspectCheckpointDir(const std::string& checkpoint_dir,
                                                      const WeightFileOptions& options) {
  std::error_code ec;
  if (!fs::exists(checkpoint_dir, ec)) {
    return absl::NotFoundError(absl::StrCat(checkpoint_dir, ": checkpoint folder not found"));
  }
  const fs::path dir = fs::canonical(checkpoint_dir, ec);
  if (ec || !fs::is_directory(dir, ec)) {
    return absl::InvalidArgumentError(absl::StrCat(checkpoint_dir, ": not a directory"));
  }
  CheckpointLayout layout;
  layout.dir = dir.string();
  layout.config_yaml = (dir / "config.yaml").string();
  layout.tokenizer_info_json = (dir / "tokenizer_info.json").string();
  layout.tokenizer_dir = (dir / "tokenizer").string();
  if (!IsFile(layout.config_yaml)) {
    return absl::NotFoundError(absl::StrCat(layout.config_yaml, ": not found"));
  }
  const std::string name = dir.filename().string();
  if (absl::EndsWith(name, ".tmp") || absl::EndsWith(name, ".old")) {
    layout.notes.push_back(absl::StrCat("checkpoint folder '", name,
                                        "' is a trainer staging/backup folder; it may be "
                                        "incomplete"));
  }
  auto weights = FindWeightFile(layout.dir, options);
  if (!weights.ok()) return weights.status();
  layout.weights = *std::move(weights);
  return layout;
}

}  // namespace neobert::core
