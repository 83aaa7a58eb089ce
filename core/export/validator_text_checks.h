// The validator's tokenizer-driven checks (reference §9.1 steps 3, 6, 7),
// run with our tokenizer.json encoder and engine instead of transformers:
//
//   tokenizer      tokenizer.json loads and encodes "tokenizer check."; every
//                  id is inside the model's vocabulary; the special tokens
//                  exist and agree with config.json (pad_token_id and any
//                  other *_token_id it carries) and with tokenizer.json's
//                  padding pad_id; "sanity [MASK] token." keeps the mask token
//                  whole (the seed's MLM text).
//   end_to_end     the seed's three pipeline texts, encoded together with
//                  padding: shapes (B, S, H) / (B, S, V), all finite, and each
//                  padded row's real tokens equal that text run alone (padding
//                  must not leak into the result).
//   cosine_sanity  the seed's six sentences, each encoded alone; embeddings
//                  by mask-weighted mean pooling (b4beb16+ seed; CLS vectors,
//                  the e5ad067 choice, are reported too); the seed's verdict:
//                  sim(s0,s1) >= 0.5, sim(s2,s3) >= 0.5, sim(s4,s5) <= 0.95.
// Split from validator.cc to keep each file to one concern.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "core/engine/engine.h"
#include "core/export/export_folder.h"

namespace neobert::core {

struct TokenizerCheckResult {
  ExportTokenizer tokenizer;
  std::string detail;
};

// `spec`: the config.json spec when it parsed (nullptr: vocabulary and
// config agreement are not checked). A failed check is an error status whose
// message is the reason.
// The export folder is read through the door beneath `root`.
absl::StatusOr<TokenizerCheckResult> CheckExportTokenizer(const base::FsRoot& root,
                                                          const std::string& export_dir,
                                                          const engine::ModelSpec* spec);

absl::StatusOr<std::string> CheckEndToEnd(const engine::NeoBertModel& model,
                                          const ExportTokenizer& tok);

struct CosineSanityResult {
  bool passed = false;  // the seed's thresholds on mean-pooled embeddings
  double sim1 = 0, sim2 = 0, diff = 0;  // mean pooling
  std::string detail;
};

// An error status only when encoding or a forward pass fails.
absl::StatusOr<CosineSanityResult> CheckCosineSanity(const engine::NeoBertModel& model,
                                                     const ExportTokenizer& tok);

}  // namespace neobert::core
