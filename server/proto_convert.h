// Conversions between server/job.h types and export_service.proto messages.
// Requests are converted after the path policy resolved their paths.
#pragma once

#include "neobert/exporter/v1/export_service.pb.h"
#include "server/job.h"

namespace neobert::server {

namespace pb = ::neobert::exporter::v1;

// A request's options, checked by the one options check of core
// (CheckExportOptions / CheckValidateOptions): INVALID_ARGUMENT with reason
// INVALID_REQUEST naming the field otherwise. Paths are copied verbatim (the
// caller resolves them beneath its roots); the device as asked ("": the
// server that runs the job chooses).
absl::StatusOr<core::ExportOptions> ExportOptionsFromProto(const pb::ExportRequest& req);
absl::StatusOr<core::ValidateOptions> ValidateOptionsFromProto(const pb::ValidateRequest& req);
pb::JobState ToProto(JobState s);
std::optional<JobState> FromProto(pb::JobState s);
pb::JobResult ToProto(const core::ExportResult& r, const HookOutcome& hook = {});
pb::JobEvent ToProto(const JobEvent& e);
pb::Job ToProto(const JobSnapshot& j);

}  // namespace neobert::server
