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

#include "absl/status/statusor.h"
#include "core/export/export_options.h"
#include "core/base/progress.h"

namespace neobert::core {

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
                                              base::ProgressSink& progress,
                                              const base::CancelToken& cancel,
                                              ExportResult* partial = nullptr);

// True when the destination of `options` (output_dir, or the default one)
// already holds a complete earlier export of this checkpoint with these
// options: exactly the case in which ExportCheckpoint would skip. Cheap (stats
// the input files; hashes nothing). Errors: the checkpoint cannot be inspected.
// The server's watch mode asks this before submitting a job, so a restart
// does not queue exports that would only be skipped.
absl::StatusOr<bool> ExportIsCurrent(const ExportOptions& options);

}  // namespace neobert::core
