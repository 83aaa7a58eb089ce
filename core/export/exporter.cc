#include "core/export/exporter.h"

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/export/destination_lock.h"
#include "core/export/export_plan.h"
#include "core/export/export_writer.h"
#include "core/export/staging_dir.h"
#include "core/export/test_hooks.h"
#include "core/status/error_reason.h"

namespace neobert::core {

namespace {

// A failure whose checkpoint folder is gone by now was caused by its removal
// (a trainer pruning old steps while the export was queued or running),
// whatever the read that noticed it: said so once, in one way.
absl::Status ExplainVanishedCheckpoint(const ExportOptions& o, absl::Status s) {
  if (s.ok() || s.code() == absl::StatusCode::kCancelled) return s;
  // Looked at through the door too: a checkpoint swapped for a link leading
  // out of the root is not "removed" (the error names the link already).
  auto there = o.input_root.StatIfExists(o.checkpoint_dir);
  if (!there.ok() || there->has_value()) return s;
  return MakeError(ErrorReason::kCheckpointNotFound,
                   absl::StrCat(o.checkpoint_dir,
                                ": checkpoint folder not found (removed before or during the "
                                "export, e.g. pruned by the trainer); nothing was published"),
                   {{"checkpoint_dir", o.checkpoint_dir}});
}

// Reads are done from open files, which outlive a deleted folder: without
// this look, a step pruned mid-export would still be published.
absl::Status CheckpointStillThere(const ExportPlan& plan) {
  const base::FsRoot& root = plan.options.input_root;
  auto dir = root.StatIfExists(plan.layout.dir);
  auto weights = root.StatIfExists(plan.layout.weights.path);
  if (!dir.ok() || !dir->has_value() || !S_ISDIR((*dir)->st_mode) || !weights.ok() ||
      !weights->has_value() || !S_ISREG((*weights)->st_mode)) {
    return absl::NotFoundError(
        absl::StrCat(plan.layout.dir, ": the checkpoint vanished during the export"));
  }
  return absl::OkStatus();
}

// Under the destination lock: stage the plan's files, then publish them.
absl::Status WriteAndPublish(ExportPlan& plan, base::ProgressSink& progress, const base::CancelToken& cancel) {
  const ExportOptions& o = plan.options;
  ASSIGN_OR_RETURN(auto staging, StagingDir::Create({.destination = plan.output_dir,
                                                     .root = o.output_root,
                                                     .overwrite = o.overwrite,
                                                     .sync = o.sync}));
  RETURN_IF_ERROR(WriteExport(plan, *staging, progress, cancel));
  TestPausePoint("commit", cancel);
  RETURN_IF_ERROR(CheckpointStillThere(plan));
  RETURN_IF_ERROR(staging->Commit());
  plan.result.files = plan.manifest.files;
  return absl::OkStatus();
}

// Everything after planning. One writer per destination, across processes
// and replicas; whoever waited looks at the destination again (the other may
// have published it meanwhile).
absl::Status Execute(ExportPlan& plan, base::ProgressSink& progress, const base::CancelToken& cancel) {
  if (plan.done) return absl::OkStatus();
  if (plan.options.dry_run) {
    RETURN_IF_ERROR(AwaitSanityPass(plan, progress));
    plan.result = DryRunResult(plan);
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(auto lock, DestinationLock::Acquire(
                                  plan.options.output_root, plan.output_dir, cancel,
                                  absl::InfiniteDuration(), [&](const std::string& lock_path) {
                                    progress.OnStage(
                                        "wait", absl::StrCat("another exporter holds ", lock_path),
                                        0);
                                  }));
  ASSIGN_OR_RETURN(const bool done, DestinationHoldsPlan(plan));
  if (done) {
    plan.result.notes.push_back("another exporter published it while this one waited for the lock");
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(WriteAndPublish(plan, progress, cancel));
  plan.result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - plan.start).count();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ExportResult> ExportCheckpoint(const ExportOptions& o, base::ProgressSink& progress,
                                              const base::CancelToken& cancel, ExportResult* partial) {
  auto plan = PlanExport(o, progress, cancel, partial);
  if (!plan.ok()) return ExplainVanishedCheckpoint(o, plan.status());
  absl::Status s = Execute(**plan, progress, cancel);
  if (s.ok()) return std::move((*plan)->result);
  if (partial != nullptr) *partial = (*plan)->result;
  return ExplainVanishedCheckpoint(o, s);
}

absl::StatusOr<bool> ExportIsCurrent(const ExportOptions& o) {
  ASSIGN_OR_RETURN(SourceAndDestination where, LocateExport(o));
  ASSIGN_OR_RETURN(std::optional<struct stat> there, o.output_root.StatIfExists(where.output_dir));
  return there.has_value() &&
         IdenticalExportExists(o.output_root, where.output_dir, where.manifest);
}

}  // namespace neobert::core
