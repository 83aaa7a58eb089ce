// The export pipeline: a NeoBERT training checkpoint directory in, a complete
// Hugging Face folder out (reference §5), published atomically.
//
// Order: inspect the checkpoint dir → parse config.yaml → tokenizer_info.json
// checks → read weight descriptors → mapping plan (every rule) → non-finite
// scan → tokenizer plan → (dry run stops here) → write everything into a
// staging directory → manifest → atomic rename. The sanity forward pass
// (sanity_pass.h) starts with the scan and runs beside the writes; its verdict
// is awaited before the rename. Nothing is written before every check of the
// files has passed, and nothing appears at the destination unless the whole
// export, sanity pass included, succeeded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/base/fs_root.h"
#include "core/export/manifest.h"
#include "core/export/progress.h"
#include "core/export/validator.h"

namespace neobert::core {

struct ExportOptions {
  // The checkpoint directory (config.yaml, state_dict.pt or model.safetensors,
  // tokenizer/, optional tokenizer_info.json).
  std::string checkpoint_dir;
  // Destination; empty → <ckpt>/../../hf/<run>_<step> (reference §1.7).
  std::string output_dir;
  // The door every file of the checkpoint is read through, and the one the
  // destination (its parents, the staging folder, the lock) is created
  // through (core/base/fs_root.h). Default: the whole file system, links
  // followed (the CLI without --confine). The server passes the roots its
  // path policy resolved the two paths beneath; nothing is then read or
  // written outside them, whatever links the folders hold.
  base::FsRoot input_root;
  base::FsRoot output_root;
  // "keep" or a floating dtype name: float32 | bfloat16 | float16. Every
  // floating tensor is cast (norm weights too: HF loads one dtype per model).
  std::string dtype = "keep";
  // Also write pytorch_model.bin (torch.load(weights_only=True)-compatible).
  bool write_pytorch_bin = true;
  // Split model.safetensors into shards of at most this many bytes (plus
  // model.safetensors.index.json, as transformers does); 0 = one file.
  uint64_t max_shard_bytes = 0;
  // Replace an existing destination (atomically). Without it an existing
  // destination is refused, unless it is an identical earlier export.
  bool overwrite = false;
  // Validate and describe the plan, write nothing.
  bool dry_run = false;
  // Drop decoder.bias instead of exporting a biased decoder.
  bool drop_decoder_bias = false;
  // Both state_dict.pt and model.safetensors present: use the file modified
  // last instead of the newer trainer format (model.safetensors).
  bool prefer_newest_file = false;
  // fsync files before publishing (off only in benchmarks/tests).
  bool sync = true;
  // Run the NeoBERT forward pass on random ids (batch 2, length <= 8, one
  // padded position; sanity_pass.h says why that is enough) beside the writes,
  // and publish only if logits are (2, S, V) and finite.
  bool sanity_check = true;
  // Device for the sanity pass: auto (CUDA when available) | cpu | cuda[:N].
  std::string device = "auto";
  // Run the validator (validator.h, with this checkpoint as the parity
  // source) on the staged folder before publishing: a failed check aborts
  // the export and nothing is published. The report lands in the result.
  bool validate = false;
};

struct ExportResult {
  std::string output_dir;
  bool skipped = false;  // an identical export was already there
  bool dry_run = false;
  std::string weights_file;        // what was read
  std::string weights_format;      // "torch-zip" | "safetensors"
  std::string dtype;               // torch_dtype written to config.json
  bool decoder_bias = false;
  bool tied_decoder = false;
  uint64_t tensor_count = 0;
  uint64_t tensor_bytes = 0;       // bytes of tensor data per weight file
  std::vector<FileRecord> files;   // as in manifest.json (planned names on dry run)
  std::vector<std::string> notes;
  std::vector<std::string> warnings;
  std::vector<std::string> mapping;  // "final name <- source key (dtype shape)"
  std::string sanity_device;         // where the sanity pass ran ("" = skipped)
  double sanity_seconds = 0;         // the pass's own time (it overlaps the writes)
  // With ExportOptions::validate (or from a validation job): the report.
  std::optional<ValidationReport> validation;
  double seconds = 0;
};

// Runs one export. Thread-compatible: concurrent exports to different
// destinations are fine. Cancellation is checked between tensors/files and
// leaves nothing at the destination.
// On failure, `partial` (when given) receives what the export had found by
// then: notes, warnings and, when the staged export failed validation, the
// whole report (ExportResult::validation, failing checks included).
// Errors carry a reason (core/status/error_reason.h), among them
// CHECKPOINT_NOT_FOUND when the checkpoint folder was removed before or
// during the export (nothing is published then) and VALIDATION_FAILED.
absl::StatusOr<ExportResult> ExportCheckpoint(const ExportOptions& options,
                                              ProgressSink& progress,
                                              const CancelToken& cancel,
                                              ExportResult* partial = nullptr);

// True when the destination of `options` (output_dir, or the default one)
// already holds a complete earlier export of this checkpoint with these
// options: exactly the case in which ExportCheckpoint would skip. Cheap (stats
// the input files; hashes nothing). Errors: the checkpoint cannot be inspected.
// The server's watch mode asks this before submitting a job, so a restart
// does not queue exports that would only be skipped.
absl::StatusOr<bool> ExportIsCurrent(const ExportOptions& options);

// The manifest "options" map for `options` (what makes two exports equal).
std::map<std::string, std::string> OutputAffectingOptions(const ExportOptions& options);

}  // namespace neobert::core
