// Checks an exported Hugging Face folder (reference §9.1, done in C++ with
// our engine instead of transformers), and with a source checkpoint proves
// the export computes the same function as the trained weights.
//
// Checks, each reported pass/fail with a reason:
//   files          config.json, model.py, rotary.py, weights, tokenizer.json
//   config         config.json parses into a model spec with every field §9.1 lists
//   manifest       every file in manifest.json has its size and sha256
//   tokenizer      tokenizer.json loads with our encoder and encodes; special
//                  token ids agree with config.json (validator_text_checks.h)
//   weights        strict load: exact tensor names and shapes, no packed w12;
//                  pytorch_model.bin (when present) holds the same bytes
//   mlm_forward    logits (B, S, V), all finite
//   mask_parity    no mask == all-ones; int == bool == additive float masks
//   end_to_end     the seed's sample texts, padded, through the model
//   cosine_sanity  the seed's sentence-similarity thresholds (see below)
//   source_parity  (with a source) export vs checkpoint on one padded batch:
//                  max-abs, cosine and NMSE of logits and hidden states
//
// cosine_sanity is ADVISORY unless ValidateOptions::strict: the original
// validator fails an export whose embeddings do not rank "cat/feline" above
// 0.5 etc., but that measures how well the checkpoint was trained, not
// whether the export is faithful (a correct export of an early or random
// checkpoint fails it; source_parity is the faithfulness proof). So a miss is
// reported with its values as a failed, advisory check that does not make
// the report invalid; strict mode restores the seed's verdict.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/base/fs_root.h"
#include "core/base/progress.h"

namespace neobert::core {

struct ValidateOptions {
  std::string export_dir;
  std::string source_dir;  // optional checkpoint directory for source parity
  // Where each is read from (core/base/fs_root.h); default: the whole file
  // system (the CLI). The server confines both to its roots.
  base::FsRoot root{};
  base::FsRoot source_root{};
  std::string device = "auto";
  // Advisory checks (cosine_sanity) count as failures, as in the seed.
  bool strict = false;
};

struct ValidationCheck {
  std::string name;
  bool passed = false;
  std::string detail;
  // A failed advisory check is reported but does not make the export invalid.
  bool advisory = false;
};

struct ValidationReport {
  std::string export_dir;
  std::vector<ValidationCheck> checks;
  bool ok() const {
    for (const auto& c : checks) {
      if (!c.passed && !c.advisory) return false;
    }
    return !checks.empty();
  }
};

// Every check of a ValidateOptions' values that needs no file: an export
// folder is named, and the device name parses (core/base/device_name.h; ""
// stands for "the server that runs the job chooses"). INVALID_ARGUMENT
// naming the option. Run by ValidateExportDir (so the CLI) and by the
// server's request conversion (server/proto_convert.h).
absl::Status CheckValidateOptions(const ValidateOptions& options);

// "name (detail); ..." of the failed checks that count (not advisory): how
// an export failing validation, the CLI and the server summarise a report.
std::string FailedChecksSummary(const ValidationReport& report);

// Returns a report (a failed check is not an error); an error status only
// when the export directory cannot be examined at all.
absl::StatusOr<ValidationReport> ValidateExportDir(const ValidateOptions& options,
                                                   base::ProgressSink& progress,
                                                   const base::CancelToken& cancel);

}  // namespace neobert::core
