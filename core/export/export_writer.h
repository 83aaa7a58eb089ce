// WriteExport: executes an ExportPlan (export_plan.h) into a staging
// directory (staging_dir.h), ready to be published.
//
// Runs the plan's steps in order (config.json, weight files, remote code,
// tokenizer files, README.md, manifest.json last, hashing what came before),
// then, before returning OK: the sanity pass's verdict (started by
// PlanExport, running beside these writes) and, with
// ExportOptions::validate, the validator on the staged folder. On any error
// the staged files are left to the StagingDir, whose destructor removes them;
// nothing is published here (the caller commits).
#pragma once

#include "absl/status/status.h"
#include "core/export/export_plan.h"
#include "core/base/progress.h"
#include "core/export/staging_dir.h"

namespace neobert::core {

// Writes `plan` into `staging`. Fills plan.manifest.files, plan.result's
// sanity fields and its validation report. Errors: a write or hash failure, cancellation, the sanity
// pass's failure, VALIDATION_FAILED (the failing report stays in
// plan.result.validation).
absl::Status WriteExport(ExportPlan& plan, StagingDir& staging, base::ProgressSink& progress,
                         const base::CancelToken& cancel);

}  // namespace neobert::core
