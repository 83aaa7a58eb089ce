#include "server/proto_convert.h"

#include "core/status/error_reason.h"
#include "server/status_mapping.h"

namespace neobert::server {

namespace {

absl::Status InvalidRequest(absl::Status s) {
  return core::WithDefaultReason(std::move(s), core::ErrorReason::kInvalidRequest);
}

}  // namespace

absl::StatusOr<core::ExportOptions> ExportOptionsFromProto(const pb::ExportRequest& req) {
  core::ExportOptions o;
  o.checkpoint_dir = req.checkpoint_dir();
  o.output_dir = req.output_dir();
  o.dtype = req.dtype().empty() ? "keep" : req.dtype();
  o.max_shard_bytes = req.max_shard_bytes();
  o.write_pytorch_bin = req.has_write_pytorch_bin() ? req.write_pytorch_bin() : true;
  o.overwrite = req.overwrite();
  o.dry_run = req.dry_run();
  o.drop_decoder_bias = req.drop_decoder_bias();
  o.prefer_newest_file = req.prefer_newest_file();
  o.validate = req.has_validate() ? req.validate() : true;
  o.device = req.device();
  if (auto s = core::CheckExportOptions(o); !s.ok()) return InvalidRequest(std::move(s));
  return o;
}

absl::StatusOr<core::ValidateOptions> ValidateOptionsFromProto(const pb::ValidateRequest& req) {
  core::ValidateOptions v;
  v.export_dir = req.export_dir();
  v.source_dir = req.source_dir();
  v.device = req.device();
  v.strict = req.strict();
  if (auto s = core::CheckValidateOptions(v); !s.ok()) return InvalidRequest(std::move(s));
  return v;
}

pb::JobState ToProto(JobState s) {
  switch (s) {
    case JobState::kQueued: return pb::QUEUED;
    case JobState::kRunning: return pb::RUNNING;
    case JobState::kSucceeded: return pb::SUCCEEDED;
    case JobState::kFailed: return pb::FAILED;
    case JobState::kCancelled: return pb::CANCELLED;
    case JobState::kInterrupted: return pb::INTERRUPTED;
  }
  return pb::JOB_STATE_UNSPECIFIED;
}

std::optional<JobState> FromProto(pb::JobState s) {
  switch (s) {
    case pb::QUEUED: return JobState::kQueued;
    case pb::RUNNING: return JobState::kRunning;
    case pb::SUCCEEDED: return JobState::kSucceeded;
    case pb::FAILED: return JobState::kFailed;
    case pb::CANCELLED: return JobState::kCancelled;
    case pb::INTERRUPTED: return JobState::kInterrupted;
    default: return std::nullopt;
  }
}

pb::JobResult ToProto(const core::ExportResult& r, const HookOutcome& hook) {
  pb::JobResult out;
  out.set_hook_ran(hook.ran);
  out.set_hook_exit_code(hook.exit_code);
  out.set_hook_message(hook.message);
  out.set_output_dir(r.output_dir);
  for (const auto& f : r.files) {
    auto* fi = out.add_files();
    fi->set_name(f.name);
    fi->set_size(f.size);
    fi->set_sha256(f.sha256);
  }
  for (const auto& n : r.notes) out.add_notes(n);
  for (const auto& w : r.warnings) out.add_warnings(w);
  out.set_seconds(r.seconds);
  out.set_skipped(r.skipped);
  out.set_dry_run(r.dry_run);
  out.set_dtype(r.dtype);
  out.set_tensor_count(r.tensor_count);
  out.set_weights_file(r.weights_file);
  out.set_weights_format(r.weights_format);
  out.set_decoder_bias(r.decoder_bias);
  out.set_tied_decoder(r.tied_decoder);
  out.set_tensor_bytes(r.tensor_bytes);
  if (r.dry_run) {
    for (const auto& m : r.mapping) out.add_mapping(m);
  }
  if (r.validation) {
    for (const auto& c : r.validation->checks) {
      auto* pc = out.add_checks();
      pc->set_name(c.name);
      pc->set_passed(c.passed);
      pc->set_detail(c.detail);
      pc->set_advisory(c.advisory);
    }
    out.set_passed(r.validation->ok());
  }
  out.set_device(r.sanity_device);
  out.set_sanity_seconds(r.sanity_seconds);
  return out;
}

pb::JobEvent ToProto(const JobEvent& e) {
  pb::JobEvent out;
  out.set_job_id(e.job_id);
  out.set_state(ToProto(e.state));
  out.set_stage(e.stage);
  out.set_message(e.message);
  out.set_bytes_done(e.bytes_done);
  out.set_bytes_total(e.bytes_total);
  out.set_percent(e.percent);
  out.set_warning(e.warning);
  out.set_sequence(e.sequence);
  if (e.final) {
    if (e.result) *out.mutable_result() = ToProto(*e.result, e.hook);
    if (!e.error.ok()) ToProtoStatus(e.error, out.mutable_error());
  }
  return out;
}

pb::Job ToProto(const JobSnapshot& j) {
  pb::Job out;
  out.set_job_id(j.id);
  out.set_kind(j.spec.kind() == JobKind::kExport ? pb::EXPORT : pb::VALIDATE);
  out.set_state(ToProto(j.state));
  out.set_checkpoint_dir(JobSource(j.spec));
  out.set_output_dir(JobDestination(j.spec));
  out.set_stage(j.stage);
  out.set_percent(j.percent);
  out.set_created_unix_ms(j.created_unix_ms);
  out.set_finished_unix_ms(j.finished_unix_ms);
  out.set_idempotency_key(j.spec.idempotency_key);
  if (j.result) *out.mutable_result() = ToProto(*j.result, j.hook);
  if (!j.error.ok()) ToProtoStatus(j.error, out.mutable_error());
  return out;
}

}  // namespace neobert::server
