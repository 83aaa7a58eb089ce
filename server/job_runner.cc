// RunJobWithCore: the production JobRunner (declared in job_manager.h).
#include <chrono>

#include "absl/strings/str_cat.h"
#include "core/export/manifest.h"
#include "core/export/validator.h"
#include "server/job_manager.h"

namespace neobert::server {
namespace {

// A validation job: the full validator (validator.h) on the export folder,
// with source parity when a checkpoint is given. The report is the result,
// passing or not (ExportResult::validation->ok() is the verdict); an error
// only when the folder cannot be examined at all.
absl::StatusOr<core::ExportResult> Validate(const JobSpec& spec, core::ProgressSink& progress,
                                            const core::CancelToken& cancel) {
  const auto start = std::chrono::steady_clock::now();
  progress.OnStage("validate", absl::StrCat("checking ", spec.validate_dir), 0);
  auto report = core::ValidateExportDir({.export_dir = spec.validate_dir,
                                         .source_dir = spec.validate_source,
                                         .root = spec.validate_root,
                                         .source_root = spec.validate_source_root,
                                         .device = spec.export_options.device,
                                         .strict = spec.validate_strict},
                                        progress, cancel);
  if (!report.ok()) return report.status();
  if (auto s = cancel.Check(); !s.ok()) return s;
  core::ExportResult r;
  r.output_dir = spec.validate_dir;
  if (auto manifest = core::ReadManifest(spec.validate_root, spec.validate_dir); manifest.ok()) {
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
  // The server's jobs read and write only beneath the roots their paths were
  // resolved in (path_policy.h). A spec without them (e.g. one restored from
  // storage, which does not hold descriptors) is refused, never run against
  // the whole file system.
  const bool confined = spec.kind == JobKind::kValidate
                            ? spec.validate_root.confined() &&
                                  (spec.validate_source.empty() ||
                                   spec.validate_source_root.confined())
                            : spec.export_options.input_root.confined() &&
                                  spec.export_options.output_root.confined();
  if (!confined) {
    return absl::FailedPreconditionError(
        "the job's paths were not resolved beneath the server's roots; submit it again");
  }
  if (spec.kind == JobKind::kValidate) return Validate(spec, progress, cancel);
  core::ExportResult partial;
  auto result = core::ExportCheckpoint(spec.export_options, progress, cancel, &partial);
  if (!result.ok()) progress.OnPartialResult(partial);
  return result;
}

}  // namespace neobert::server
