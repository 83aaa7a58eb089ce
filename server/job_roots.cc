#include "server/job_roots.h"

#include <utility>

#include "core/status/error_reason.h"

namespace neobert::server {

absl::Status BindJobRoots(const PathPolicy& policy, JobSpec& spec) {
  if (spec.kind == JobKind::kValidate) {
    // As at submission: an export folder lies in an input or an output root.
    auto dir = policy.ResolveInput(spec.validate_dir);
    if (!dir.ok() && dir.status().code() == absl::StatusCode::kPermissionDenied) {
      if (auto as_output = policy.ResolveOutput(spec.validate_dir); as_output.ok()) {
        dir = *std::move(as_output);
      }
    }
    if (!dir.ok()) return dir.status();
    spec.validate_dir = dir->path;
    spec.validate_root = dir->root;
    if (!spec.validate_source.empty()) {
      auto source = policy.ResolveInput(spec.validate_source);
      if (!source.ok()) return source.status();
      spec.validate_source = source->path;
      spec.validate_source_root = source->root;
    }
    return absl::OkStatus();
  }
  core::ExportOptions& o = spec.export_options;
  auto ckpt = policy.ResolveInput(o.checkpoint_dir);
  if (!ckpt.ok() && ckpt.status().code() == absl::StatusCode::kNotFound) {
    // A step pruned while its job waited, as the exporter itself says it.
    return core::WithDefaultReason(ckpt.status(), core::ErrorReason::kCheckpointNotFound,
                                   {{"checkpoint_dir", o.checkpoint_dir}});
  }
  if (!ckpt.ok()) return ckpt.status();
  o.checkpoint_dir = ckpt->path;
  o.input_root = ckpt->root;
  auto out = policy.ResolveOutput(o.output_dir);
  if (!out.ok()) return out.status();
  o.output_dir = out->path;
  o.output_root = out->root;
  return absl::OkStatus();
}

JobRunner ConfinedJobRunner(PathPolicy policy) {
  return [policy = std::move(policy)](const JobSpec& stored, core::ProgressSink& progress,
                                      const core::CancelToken& cancel)
             -> absl::StatusOr<core::ExportResult> {
    JobSpec spec = stored;
    if (auto bound = BindJobRoots(policy, spec); !bound.ok()) return bound;
    return RunJobWithCore(spec, progress, cancel);
  };
}

}  // namespace neobert::server
