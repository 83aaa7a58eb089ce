#include "server/job_roots.h"

#include <utility>

#include "core/base/status_macros.h"
#include "core/status/error_reason.h"

namespace neobert::server {

namespace {

// As at submission: an export folder lies in an input or an output root; its
// source checkpoint in an input root.
absl::Status Bind(const PathPolicy& policy, core::ValidateOptions& v) {
  auto dir = policy.ResolveInput(v.export_dir);
  if (!dir.ok() && dir.status().code() == absl::StatusCode::kPermissionDenied) {
    if (auto as_output = policy.ResolveOutput(v.export_dir); as_output.ok()) {
      dir = *std::move(as_output);
    }
  }
  if (!dir.ok()) return dir.status();
  v.export_dir = dir->path;
  v.root = dir->root;
  if (!v.source_dir.empty()) {
    ASSIGN_OR_RETURN(ResolvedPath source, policy.ResolveInput(v.source_dir));
    v.source_dir = source.path;
    v.source_root = source.root;
  }
  return absl::OkStatus();
}

absl::Status Bind(const PathPolicy& policy, core::ExportOptions& o) {
  auto ckpt = policy.ResolveInput(o.checkpoint_dir);
  if (!ckpt.ok() && ckpt.status().code() == absl::StatusCode::kNotFound) {
    // A step pruned while its job waited, as the exporter itself says it.
    return core::WithDefaultReason(ckpt.status(), core::ErrorReason::kCheckpointNotFound,
                                   {{"checkpoint_dir", o.checkpoint_dir}});
  }
  RETURN_IF_ERROR(ckpt.status());
  o.checkpoint_dir = ckpt->path;
  o.input_root = ckpt->root;
  ASSIGN_OR_RETURN(ResolvedPath out, policy.ResolveOutput(o.output_dir));
  o.output_dir = out.path;
  o.output_root = out.root;
  return absl::OkStatus();
}

}  // namespace

absl::Status BindJobRoots(const PathPolicy& policy, JobSpec& spec) {
  return std::visit([&](auto& options) { return Bind(policy, options); }, spec.options);
}

JobRunner ConfinedJobRunner(PathPolicy policy) {
  return [policy = std::move(policy)](const JobSpec& stored, JobProgress& progress,
                                      const base::CancelToken& cancel)
             -> absl::StatusOr<core::ExportResult> {
    JobSpec spec = stored;
    if (auto bound = BindJobRoots(policy, spec); !bound.ok()) return bound;
    return RunJobWithCore(spec, progress, cancel);
  };
}

}  // namespace neobert::server
