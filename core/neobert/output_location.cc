#include "core/neobert/output_location.h"

#include <filesystem>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/status/error_reason.h"

namespace neobert::core {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxScannedEntries = 100000;

// What `path` is beneath the root: its type (S_IFREG, S_IFDIR, ...), 0 when
// nothing is there. A link leaving the root is an error, not "nothing".
absl::StatusOr<mode_t> TypeOf(const base::FsRoot& root, const std::string& path) {
  ASSIGN_OR_RETURN(auto st, root.StatIfExists(path));
  return st.has_value() ? static_cast<mode_t>(st->st_mode & S_IFMT) : mode_t{0};
}

bool IsFile(const base::FsRoot& root, const std::string& path) {
  auto t = TypeOf(root, path);
  return t.ok() && *t == S_IFREG;
}

// mp_rank_*_model_states.pt, zero_pp_rank_*_mp_rank_*_optim_states.pt and
// the bf16_ variant (which the second test covers).
bool IsZeroShardName(const std::string& name) {
  if (absl::StartsWith(name, "mp_rank_") && absl::EndsWith(name, "_model_states.pt")) return true;
  return absl::StrContains(name, "zero_pp_rank_") && absl::EndsWith(name, "_optim_states.pt");
}

bool HasZeroShards(const base::FsRoot& root, const std::string& dir) {
  auto entries = root.ListDirectory(dir, kMaxScannedEntries);
  if (!entries.ok()) return false;
  for (const auto& e : *entries) {
    if (IsZeroShardName(e.name)) return true;
  }
  return false;
}

}  // namespace

bool LooksLikeDeepSpeedCheckpoint(const base::FsRoot& root, const std::string& dir) {
  if (HasZeroShards(root, dir) || IsFile(root, dir + "/latest")) return true;
  for (const char* nested : {"pytorch_model", "model"}) {
    const std::string sub = absl::StrCat(dir, "/", nested);
    auto t = TypeOf(root, sub);
    if (t.ok() && *t == S_IFDIR && HasZeroShards(root, sub)) return true;
  }
  return false;
}

absl::StatusOr<std::string> DefaultOutputDir(const base::FsRoot& root,
                                             const std::string& checkpoint_dir) {
  auto real = root.RealPath(checkpoint_dir);
  if (!real.ok()) {
    if (!absl::IsNotFound(real.status())) return real.status();
    return absl::NotFoundError(absl::StrCat(checkpoint_dir, ": cannot resolve checkpoint path: ",
                                            real.status().message()));
  }
  const fs::path ckpt(*real);
  const fs::path run = ckpt.parent_path().parent_path();
  if (ckpt.parent_path() == ckpt.root_path() || run.filename().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        ckpt.string(), ": no <run>/<folder>/<step> structure to derive a default output from; "
                       "give an output directory"));
  }
  return (run / "hf" / absl::StrCat(run.filename().string(), "_", ckpt.filename().string()))
      .string();
}

absl::StatusOr<WeightFile> FindWeightFile(const base::FsRoot& root,
                                          const std::string& checkpoint_dir,
                                          const WeightFileOptions& options) {
  const std::string st = absl::StrCat(checkpoint_dir, "/model.safetensors");
  const std::string pt = absl::StrCat(checkpoint_dir, "/state_dict.pt");
  ASSIGN_OR_RETURN(auto st_type, TypeOf(root, st));
  ASSIGN_OR_RETURN(auto pt_type, TypeOf(root, pt));
  // Present but not a regular file (a FIFO, a folder): named, not skipped.
  for (const auto& [path, type] : {std::pair{&st, st_type}, std::pair{&pt, pt_type}}) {
    if (type != 0 && type != S_IFREG) {
      return absl::InvalidArgumentError(
          absl::StrCat(*path, ": is a ", base::FileTypeName(type), ", not a regular file"));
    }
  }
  const bool has_st = st_type == S_IFREG, has_pt = pt_type == S_IFREG;
  WeightFile out;
  if (has_st && has_pt) {
    bool take_pt = false;
    if (options.prefer_newer) {
      auto a = root.StatIfExists(st);
      auto b = root.StatIfExists(pt);
      if (a.ok() && b.ok() && a->has_value() && b->has_value()) {
        const auto& ta = (*a)->st_mtim;
        const auto& tb = (*b)->st_mtim;
        take_pt = tb.tv_sec > ta.tv_sec || (tb.tv_sec == ta.tv_sec && tb.tv_nsec > ta.tv_nsec);
      }
    }
    out.notes.push_back(absl::StrCat(
        "both model.safetensors and state_dict.pt exist; using ",
        take_pt ? "state_dict.pt" : "model.safetensors",
        options.prefer_newer ? " (modified last)" : " (preferred)"));
    out.path = take_pt ? pt : st;
    out.format = take_pt ? "torch-zip" : "safetensors";
  } else if (has_st || has_pt) {
    out.path = has_st ? st : pt;
    out.format = has_st ? "safetensors" : "torch-zip";
  } else if (LooksLikeDeepSpeedCheckpoint(root, checkpoint_dir)) {
    return MakeError(ErrorReason::kCheckpointUnsupported,
                     absl::StrCat(checkpoint_dir,
                                  ": DeepSpeed ZeRO checkpoint is not supported yet; convert with "
                                  "zero_to_fp32 first (no model.safetensors or state_dict.pt found)"),
                     {{"checkpoint_dir", checkpoint_dir}, {"conversion", "zero_to_fp32"}});
  } else {
    return absl::NotFoundError(absl::StrCat(
        checkpoint_dir, ": no weights found (looked for model.safetensors and state_dict.pt)"));
  }
  if (LooksLikeDeepSpeedCheckpoint(root, checkpoint_dir)) {
    out.notes.push_back(absl::StrCat("DeepSpeed ZeRO files present; ignored in favour of ",
                                     fs::path(out.path).filename().string()));
  }
  return out;
}

absl::StatusOr<CheckpointLayout> InspectCheckpointDir(const base::FsRoot& root,
                                                      const std::string& checkpoint_dir,
                                                      const WeightFileOptions& options) {
  ASSIGN_OR_RETURN(auto type, TypeOf(root, checkpoint_dir));
  if (type == 0) {
    return absl::NotFoundError(absl::StrCat(checkpoint_dir, ": checkpoint folder not found"));
  }
  if (type != S_IFDIR) {
    return absl::InvalidArgumentError(absl::StrCat(checkpoint_dir, ": not a directory (a ",
                                                   base::FileTypeName(type), ")"));
  }
  ASSIGN_OR_RETURN(auto real, root.RealPath(checkpoint_dir));
  const fs::path dir(real);
  CheckpointLayout layout;
  layout.dir = dir.string();
  layout.config_yaml = (dir / "config.yaml").string();
  layout.tokenizer_info_json = (dir / "tokenizer_info.json").string();
  layout.tokenizer_dir = (dir / "tokenizer").string();
  ASSIGN_OR_RETURN(auto config_type, TypeOf(root, layout.config_yaml));
  if (config_type == 0) {
    return absl::NotFoundError(absl::StrCat(layout.config_yaml, ": not found"));
  }
  const std::string name = dir.filename().string();
  if (absl::EndsWith(name, ".tmp") || absl::EndsWith(name, ".old")) {
    layout.notes.push_back(absl::StrCat("checkpoint folder '", name,
                                        "' is a trainer staging/backup folder; it may be "
                                        "incomplete"));
  }
  ASSIGN_OR_RETURN(auto weights, FindWeightFile(root, layout.dir, options));
  layout.weights = std::move(weights);
  return layout;
}

}  // namespace neobert::core
