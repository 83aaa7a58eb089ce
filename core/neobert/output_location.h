// Where things are: the input checkpoint folder's layout (reference §1.3,
// §1.4) and the default export destination (§1.7).
//
// Every look at the folder goes through the door beneath `root`
// (core/base/fs_root.h): a file or folder that is a symlink leaving the root
// is PERMISSION_DENIED naming the link, never "missing".
//
// Input folder, as the trainer writes it:
//   <ckpt>/config.yaml            required (R1)
//   <ckpt>/model.safetensors      e5ad067+ weights  ┐ one of them (R2)
//   <ckpt>/state_dict.pt          a5f0198 weights   ┘
//   <ckpt>/tokenizer_info.json    optional
//   <ckpt>/tokenizer/             required (R16, checked by PlanTokenizerAssets)
// DeepSpeed ZeRO shards (mp_rank_*_model_states.pt,
// *zero_pp_rank_*_optim_states.pt, `latest`, nested pytorch_model/ or model/
// tag folders) are recognised and refused: we do not merge ZeRO partitions.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/base/fs_root.h"

namespace neobert::core {

// `<ckpt>/../../hf/<name of ckpt/../..>_<name of ckpt>` computed on the
// canonical (absolute, symlink-free) checkpoint path. Example:
// runs/neobert_100m/model_checkpoints/100000 → runs/neobert_100m/hf/neobert_100m_100000.
// NOT_FOUND when the checkpoint does not exist; INVALID_ARGUMENT when it has
// no grandparent folder (e.g. "/x").
absl::StatusOr<std::string> DefaultOutputDir(const base::FsRoot& root,
                                             const std::string& checkpoint_dir);

struct WeightFileOptions {
  // Both weight files present: take the one modified last instead of
  // model.safetensors. (The exporter issue asks for "the newer one"; the
  // e5ad067 exporter always took model.safetensors.)
  bool prefer_newer = false;
};

struct WeightFile {
  std::string path;    // absolute
  std::string format;  // "safetensors" | "torch-zip"
  std::vector<std::string> notes;  // e.g. both files present, ZeRO files ignored
};

// Picks the weight file of `checkpoint_dir`. Neither file: FAILED_PRECONDITION
// "DeepSpeed ZeRO checkpoint is not supported yet; convert with zero_to_fp32
// first" when ZeRO files are there, else NOT_FOUND listing what was looked for.
absl::StatusOr<WeightFile> FindWeightFile(const base::FsRoot& root,
                                          const std::string& checkpoint_dir,
                                          const WeightFileOptions& options = {});

// True when `dir` holds DeepSpeed ZeRO files directly, a `latest` tag file,
// or a pytorch_model/ or model/ subfolder that does.
bool LooksLikeDeepSpeedCheckpoint(const base::FsRoot& root, const std::string& dir);

struct CheckpointLayout {
  std::string dir;                  // canonical checkpoint folder
  std::string config_yaml;          // <dir>/config.yaml (exists)
  std::string tokenizer_info_json;  // <dir>/tokenizer_info.json (may not exist)
  std::string tokenizer_dir;        // <dir>/tokenizer (may not exist; R16 later)
  WeightFile weights;
  std::vector<std::string> notes;   // e.g. the folder name ends in .tmp
};

// R1 + R2 location checks: the folder exists (NOT_FOUND), is a directory
// (INVALID_ARGUMENT), has config.yaml (NOT_FOUND) and a weight file (see
// FindWeightFile).
absl::StatusOr<CheckpointLayout> InspectCheckpointDir(const base::FsRoot& root,
                                                      const std::string& checkpoint_dir,
                                                      const WeightFileOptions& options = {});

}  // namespace neobert::core
