// Checks an exported Hugging Face folder (reference §9.1, done in C++ with
// our engine instead of transformers), and with a source checkpoint proves
// the export computes the same function as the trained weights.
//
// Checks, each reported pass/fail with a reason:
//   files          config.json, model.py, rotary.py, weights, tokenizer.json
//   config         config.json parses into a model spec with every field §9.1 lists
//   manifest       every file in manifest.json has its size and sha256
//   weights        strict load: exact tensor names and shapes, no packed w12;
//                  pytorch_model.bin (when present) holds the same bytes
//   mlm_forward    logits (B, S, V), all finite
//   mask_parity    no mask == all-ones; int == bool == additive float masks
//   source_parity  (with a source) export vs checkpoint on one padded batch:
//                  max-abs, cosine and NMSE of logits and hidden states
// Tokenizer-driven checks (encode, cosine sanity of sentence embeddings) need
// the C++ tokenizer and are not part of this validator yet.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/export/progress.h"

namespace neobert::core {

struct ValidateOptions {
  std::string export_dir;
  std::string source_dir;  // optional checkpoint directory for source parity
  std::string device = "auto";
};

struct ValidationCheck {
  std::string name;
  bool passed = false;
  std::string detail;
};

struct ValidationReport {
  std::string export_dir;
  std::vector<ValidationCheck> checks;
  bool ok() const {
    for (const auto& c : checks) {
      if (!c.passed) return false;
    }
    return !checks.empty();
  }
};

// Returns a report (a failed check is not an error); an error status only
// when the export directory cannot be examined at all.
absl::StatusOr<ValidationReport> ValidateExportDir(const ValidateOptions& options,
                                                   ProgressSink& progress,
                                                   const CancelToken& cancel);

}  // namespace neobert::core
