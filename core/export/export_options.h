// What an export is asked to do (ExportOptions) and what it did
// (ExportResult): plain data shared by the planner (export_plan.h), the
// writer (export_writer.h), ExportCheckpoint (exporter.h), the CLI and the
// server. CheckExportOptions is the one check of the options' values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/base/fs_root.h"
#include "core/export/manifest.h"
#include "core/export/validator.h"
#include "core/format/dtype.h"

namespace neobert::core {

// "neobert-export <version>": manifest.json's "tool", also one of its
// output-affecting options (a new version re-exports). Defined in the .cc:
// NEOBERT_VERSION is neobert_export's compile definition, and this header
// is also read by targets that do not link it (server/job.h's codec).
extern const char kToolName[];

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
  // Device for the sanity pass: auto (CUDA when available) | cpu | cuda[:N]
  // (core/base/device_name.h).
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

// The cast an export's `dtype` option asks for: nullopt for "keep", else
// float32, bfloat16 or float16. INVALID_ARGUMENT naming the value and the
// accepted names otherwise.
absl::StatusOr<std::optional<format::DType>> ExportDtype(const std::string& name);

// Every check of an ExportOptions' values that needs no file: the dtype
// (ExportDtype) and the device name (core/base/device_name.h; "" stands for
// "the server that runs the job chooses"). INVALID_ARGUMENT naming the
// option. The one check: the exporter runs it (so the CLI's local export),
// and the server's request conversion (server/proto_convert.h) before a job
// is queued.
absl::Status CheckExportOptions(const ExportOptions& options);

// The manifest "options" map for `options` (what makes two exports equal).
std::map<std::string, std::string> OutputAffectingOptions(const ExportOptions& options);

}  // namespace neobert::core
