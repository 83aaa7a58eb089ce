#include "server/export_service_impl.h"

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/neobert/output_location.h"
#include "core/status/error_reason.h"
#include "server/job_roots.h"
#include "server/output_pattern.h"
#include "server/proto_convert.h"
#include "server/status_mapping.h"

namespace neobert::server {

namespace {
// How often a streaming handler looks up from its queue to notice a client
// that went away.
constexpr absl::Duration kPoll = absl::Milliseconds(200);

using core::ErrorReason;

// A request's path the policy refused: a malformed path is the request's
// fault (INVALID_REQUEST); NOT_FOUND and PERMISSION_DENIED keep their
// defaults (CHECKPOINT_NOT_FOUND, PATH_DENIED).
absl::Status PathError(absl::Status s) {
  if (s.code() == absl::StatusCode::kInvalidArgument) {
    return core::WithDefaultReason(std::move(s), ErrorReason::kInvalidRequest);
  }
  return s;
}

// The job store could not be reached (UNAVAILABLE from the database, not
// from a draining server, which says DRAINING itself): INTERNAL, retryable.
absl::Status StoreError(absl::Status s) {
  if (s.code() == absl::StatusCode::kUnavailable) {
    return core::WithDefaultReason(std::move(s), ErrorReason::kInternal);
  }
  return s;
}

// A job lookup by id that failed.
absl::Status JobError(absl::Status s, const std::string& id) {
  s = StoreError(std::move(s));
  if (s.code() == absl::StatusCode::kNotFound) {
    return core::WithDefaultReason(std::move(s), ErrorReason::kJobNotFound, {{"job_id", id}});
  }
  if (s.code() == absl::StatusCode::kFailedPrecondition) {
    return core::WithDefaultReason(std::move(s), ErrorReason::kJobFinished, {{"job_id", id}});
  }
  return s;
}

}  // namespace

bool BearerTokenMatches(const std::string& header, const std::string& token) {
  return BearerTokens::Fixed({token})->Matches(header);
}

ExportServiceImpl::ExportServiceImpl(JobManager* jobs, PathPolicy policy, ServiceOptions options)
    : jobs_(jobs), policy_(std::move(policy)), options_(std::move(options)) {}

grpc::Status ExportServiceImpl::Authenticate(const grpc::ServerContext* ctx) const {
  if (!options_.tokens) return grpc::Status::OK;
  const auto& md = ctx->client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) {
    return ToGrpcStatus(core::MakeError(ErrorReason::kUnauthenticated,
                                        "missing 'authorization: Bearer <token>' metadata"));
  }
  if (!options_.tokens->Matches(absl::string_view(it->second.data(), it->second.size()))) {
    return ToGrpcStatus(core::MakeError(ErrorReason::kUnauthenticated, "invalid bearer token"));
  }
  return grpc::Status::OK;
}

absl::StatusOr<JobSpec> ExportServiceImpl::ExportSpec(const pb::ExportRequest& req) const {
  // The one options check (the CLI's local export runs it too), then the
  // paths beneath this server's roots. The device stays as asked: the server
  // that claims the job assigns it (another replica may have the GPU this
  // one lacks); JobManager::Submit checks that some server can.
  ASSIGN_OR_RETURN(core::ExportOptions o, ExportOptionsFromProto(req));
  o.sync = options_.sync;
  if (o.output_dir.empty()) {
    // The default destination follows from the checkpoint as resolved.
    auto ckpt = policy_.ResolveInput(o.checkpoint_dir);
    if (!ckpt.ok()) return PathError(ckpt.status());
    auto def = options_.default_output_pattern.empty()
                   ? core::DefaultOutputDir(ckpt->root, ckpt->path)
                   : OutputForCheckpoint(options_.default_output_pattern, ckpt->path);
    if (!def.ok()) return PathError(def.status());
    o.output_dir = *def;
  }
  JobSpec spec{.options = std::move(o), .idempotency_key = req.idempotency_key()};
  // Resolved as the claiming server binds it again (server/job_roots.h).
  if (auto bound = BindJobRoots(policy_, spec); !bound.ok()) return PathError(bound);
  return spec;
}

absl::StatusOr<JobSpec> ExportServiceImpl::ValidateSpec(const pb::ValidateRequest& req) const {
  ASSIGN_OR_RETURN(core::ValidateOptions v, ValidateOptionsFromProto(req));
  JobSpec spec{.options = std::move(v), .idempotency_key = req.idempotency_key()};
  // Resolved as the claiming server binds it again (an export folder lies
  // in an input or an output root; its source in an input root).
  if (auto bound = BindJobRoots(policy_, spec); !bound.ok()) return PathError(bound);
  return spec;
}

absl::StatusOr<JobSnapshot> ExportServiceImpl::Submit(absl::StatusOr<JobSpec> spec) {
  RETURN_IF_ERROR(spec.status());
  if (draining_.load()) {
    return core::MakeError(ErrorReason::kDraining, "the server is shutting down; not accepting jobs");
  }
  auto job = jobs_->Submit(std::move(*spec));
  if (job.ok()) return job;
  // The job manager names the other reasons (DEVICE_UNAVAILABLE,
  // IDEMPOTENCY_KEY_REUSED, DRAINING).
  if (job.status().code() == absl::StatusCode::kResourceExhausted) {
    return core::WithRetryDelay(core::WithDefaultReason(job.status(), ErrorReason::kQueueFull),
                                kDefaultRetryDelay);
  }
  return StoreError(job.status());
}

grpc::Status ExportServiceImpl::Relay(grpc::ServerContext* ctx, const std::string& id,
                                      uint64_t after_sequence,
                                      grpc::ServerWriter<pb::JobEvent>* writer) {
  auto stream = jobs_->Watch(id, after_sequence);
  if (!stream.ok()) return ToGrpcStatus(JobError(stream.status(), id));
  const absl::Status gone = core::MakeError(ErrorReason::kCancelled, "client went away");
  for (;;) {
    if (ctx->IsCancelled()) {
      // The client left; the job carries on (WatchJob can reattach).
      return ToGrpcStatus(gone);
    }
    auto event = (*stream)->Next(kPoll);
    if (!event) {
      // The server drains before the job ends (DRAINING: watch it again).
      if (auto why = (*stream)->closed()) return ToGrpcStatus(*why);
      continue;
    }
    if (!writer->Write(ToProto(*event))) return ToGrpcStatus(gone);
    // After the final event the stream ends with the job's own status, so
    // any gRPC client sees a failed job's reason in the status details.
    if (event->final) return ToGrpcStatus(event->error);
  }
}

grpc::Status ExportServiceImpl::ExportCheckpoint(grpc::ServerContext* ctx,
                                                 const pb::ExportRequest* req,
                                                 grpc::ServerWriter<pb::JobEvent>* writer) {
  if (auto s = Authenticate(ctx); !s.ok()) return s;
  auto job = Submit(ExportSpec(*req));
  if (!job.ok()) return ToGrpcStatus(job.status());
  return Relay(ctx, job->id, 0, writer);
}

grpc::Status ExportServiceImpl::ValidateExport(grpc::ServerContext* ctx,
                                               const pb::ValidateRequest* req,
                                               grpc::ServerWriter<pb::JobEvent>* writer) {
  if (auto s = Authenticate(ctx); !s.ok()) return s;
  auto job = Submit(ValidateSpec(*req));
  if (!job.ok()) return ToGrpcStatus(job.status());
  return Relay(ctx, job->id, 0, writer);
}

grpc::Status ExportServiceImpl::SubmitExport(grpc::ServerContext* ctx, const pb::ExportRequest* req,
                                             pb::Job* resp) {
  if (auto s = Authenticate(ctx); !s.ok()) return s;
  auto job = Submit(ExportSpec(*req));
  if (!job.ok()) return ToGrpcStatus(job.status());
  *resp = ToProto(*job);
  return grpc::Status::OK;
}

grpc::Status ExportServiceImpl::SubmitValidate(grpc::ServerContext* ctx,
                                               const pb::ValidateRequest* req, pb::Job* resp) {
  if (auto s = Authenticate(ctx); !s.ok()) return s;
  auto job = Submit(ValidateSpec(*req));
  if (!job.ok()) return ToGrpcStatus(job.status());
  *resp = ToProto(*job);
  return grpc::Status::OK;
}

grpc::Status ExportServiceImpl::GetJob(grpc::ServerContext* ctx, const pb::GetJobRequest* req,
                                       pb::Job* resp) {
  if (auto s = Authenticate(ctx); !s.ok()) return s;
  auto job = jobs_->Get(req->job_id());
  if (!job.ok()) return ToGrpcStatus(JobError(job.status(), req->job_id()));
  *resp = ToProto(*job);
  return grpc::Status::OK;
}

grpc::Status ExportServiceImpl::ListJobs(grpc::ServerContext* ctx, const pb::ListJobsRequest* req,
                                         pb::ListJobsResponse* resp) {
  if (auto s = Authenticate(ctx); !s.ok()) return s;
  std::optional<JobState> state;
  if (req->state() != pb::JOB_STATE_UNSPECIFIED) {
    state = FromProto(req->state());
    if (!state) {
      return ToGrpcStatus(core::MakeError(ErrorReason::kInvalidRequest, "unknown job state filter"));
    }
  }
  ListQuery query;
  query.state = state;
  query.source_contains = req->checkpoint_contains();
  query.page_size = req->page_size() <= 0 ? kMaxPageSize : std::min(req->page_size(), kMaxPageSize);
  query.page_token = req->page_token();
  auto page = jobs_->ListPage(query);
  if (!page.ok()) {
    // INVALID_ARGUMENT: a page token the store did not make.
    return ToGrpcStatus(page.status().code() == absl::StatusCode::kInvalidArgument
                            ? core::WithDefaultReason(page.status(), ErrorReason::kInvalidRequest)
                            : StoreError(page.status()));
  }
  for (const auto& j : page->jobs) *resp->add_jobs() = ToProto(j.snap);
  resp->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status ExportServiceImpl::WatchJob(grpc::ServerContext* ctx, const pb::WatchJobRequest* req,
                                         grpc::ServerWriter<pb::JobEvent>* writer) {
  if (auto s = Authenticate(ctx); !s.ok()) return s;
  return Relay(ctx, req->job_id(), req->after_sequence(), writer);
}

grpc::Status ExportServiceImpl::CancelJob(grpc::ServerContext* ctx, const pb::CancelJobRequest* req,
                                          pb::Job* resp) {
  if (auto s = Authenticate(ctx); !s.ok()) return s;
  auto job = jobs_->Cancel(req->job_id());
  if (!job.ok()) return ToGrpcStatus(JobError(job.status(), req->job_id()));
  *resp = ToProto(*job);
  return grpc::Status::OK;
}

grpc::Status ExportServiceImpl::GetServerInfo(grpc::ServerContext* ctx,
                                              const pb::GetServerInfoRequest* /*req*/,
                                              pb::ServerInfo* resp) {
  if (auto s = Authenticate(ctx); !s.ok()) return s;
  *resp = options_.server_info;
  resp->set_version(NEOBERT_VERSION);
  resp->clear_input_roots();
  resp->clear_output_roots();
  for (const auto& r : policy_.input_roots()) resp->add_input_roots(r.path());
  for (const auto& r : policy_.output_roots()) resp->add_output_roots(r.path());
  resp->set_device_policy(options_.devices ? options_.devices->Describe() : "auto");
  resp->set_auth_required(options_.tokens != nullptr);
  resp->set_accepting(!draining_.load() && jobs_->accepting());
  resp->set_store(jobs_->store_description());
  resp->set_replica_id(jobs_->replica_id());
  return grpc::Status::OK;
}

}  // namespace neobert::server
