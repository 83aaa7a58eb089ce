// RunJobWithCore: the production JobRunner (declared in job_manager.h).
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/export/validator.h"
#include "core/export/manifest.h"
#include "server/job_manager.h"

namespace neobert::server {
namespace {

// A validation job: the full validator (validator.h) on the export folder,
// with source parity when a checkpoint is given. Failed checks fail the job
// with every failed check named; a passing report is the job's result.
absl::StatusOr<core::ExportResult> Validate(const JobSpec& spec, core::ProgressSink& progress,
                                            const core::CancelToken& cancel) {
  const auto start = std::chrono::steady_clock::now();
  progress.OnStage("validate", absl::StrCat("checking ", spec.validate_dir), 0);
  auto report = core::ValidateExportDir({.export_dir = spec.validate_dir,
                                         .source_dir = spec.validate_source,
                                         .device = spec.export_options.device},
                                        progress, cancel);
  if (!report.ok()) return report.status();
  if (auto s = cancel.Check(); !s.ok()) return s;
  if (!report->ok()) {
    std::vector<std::string> failed;
    for (const auto& c : report->checks) {
      if (!c.passed && !c.advisory) failed.push_back(absl::StrCat(c.name, ": ", c.detail));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "export '", spec.validate_dir, "' failed validation: ", absl::StrJoin(failed, "; ")));
  }
  core::ExportResult r;
  r.output_dir = spec.validate_dir;
  if (auto manifest = core::ReadManifest(spec.validate_dir); manifest.ok()) {
    r.files = manifest->files;
  }
  r.sanity_device = spec.export_options.device;
  r.validation = std::move(*report);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace

absl::StatusOr<core::ExportResult> RunJobWithCore(const JobSpec& spec, core::ProgressSink& progress,
                                                  const core::CancelToken& cancel) {
  if (spec.kind == JobKind::kValidate) return Validate(spec, progress, cancel);
  return core::ExportCheckpoint(spec.export_options, progress, cancel);
}

}  // namespace neobert::server
