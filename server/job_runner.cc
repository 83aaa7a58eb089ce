// RunJobWithCore: the production JobRunner (declared in job_manager.h).
#include <chrono>

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/export/manifest.h"
#include "core/export/validator.h"
#include "server/job_manager.h"

namespace neobert::server {
namespace {

// A validation job: the full validator (validator.h) on the export folder,
// with source parity when a checkpoint is given. The report is the result,
// passing or not (ExportResult::validation->ok() is the verdict); an error
// only when the folder cannot be examined at all.
absl::StatusOr<core::ExportResult> Validate(const core::ValidateOptions& v,
                                            base::ProgressSink& progress,
                                            const base::CancelToken& cancel) {
  const auto start = std::chrono::steady_clock::now();
  progress.OnStage("validate", absl::StrCat("checking ", v.export_dir), 0);
  ASSIGN_OR_RETURN(core::ValidationReport report, core::ValidateExportDir(v, progress, cancel));
  RETURN_IF_ERROR(cancel.Check());
  core::ExportResult r;
  r.output_dir = v.export_dir;
  if (auto manifest = core::ReadManifest(v.root, v.export_dir); manifest.ok()) {
    r.files = manifest->files;
  }
  r.sanity_device = v.device;
  r.validation = std::move(report);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

// The server's jobs read and write only beneath the roots their paths were
// resolved in (path_policy.h). A spec without them (e.g. one restored from
// storage, which does not hold descriptors) is refused, never run against
// the whole file system.
bool Confined(const core::ValidateOptions& v) {
  return v.root.confined() && (v.source_dir.empty() || v.source_root.confined());
}
bool Confined(const core::ExportOptions& o) {
  return o.input_root.confined() && o.output_root.confined();
}

}  // namespace

absl::StatusOr<core::ExportResult> RunJobWithCore(const JobSpec& spec, JobProgress& progress,
                                                  const base::CancelToken& cancel) {
  if (!std::visit([](const auto& o) { return Confined(o); }, spec.options)) {
    return absl::FailedPreconditionError(
        "the job's paths were not resolved beneath the server's roots; submit it again");
  }
  if (const auto* v = spec.validate_options()) return Validate(*v, progress, cancel);
  core::ExportResult partial;
  auto result = core::ExportCheckpoint(*spec.export_options(), progress, cancel, &partial);
  if (!result.ok()) progress.OnPartialResult(partial);
  return result;
}

}  // namespace neobert::server
