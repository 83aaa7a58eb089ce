#include "server/export_service_impl.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "absl/strings/str_cat.h"
#include "core/neobert/output_location.h"
#include "server/proto_convert.h"
#include "server/status_mapping.h"

namespace neobert::server {

namespace {
// How often a streaming handler looks up from its queue to notice a client
// that went away.
constexpr absl::Duration kPoll = absl::Milliseconds(200);
}  // namespace

bool BearerTokenMatches(const std::string& header, const std::string& token) {
  const std::string expected = "Bearer " + token;
  unsigned char a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(header.data()), header.size(), a);
  SHA256(reinterpret_cast<const unsigned char*>(expected.data()), expected.size(), b);
  return CRYPTO_memcmp(a, b, sizeof(a)) == 0;
}

ExportServiceImpl::ExportServiceImpl(JobManager* jobs, PathPolicy policy, ServiceOptions options)
    : jobs_(jobs), policy_(std::move(policy)), options_(std::move(options)) {}

grpc::Status ExportServiceImpl::Authenticate(const grpc::ServerContext* ctx) const {
  if (options_.token.empty()) return grpc::Status::OK;
  const auto& md = ctx->client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing 'authorization: Bearer <token>' metadata");
  }
  if (!BearerTokenMatches(std::string(it->second.data(), it->second.size()), options_.token)) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "invalid bearer token");
  }
  return grpc::Status::OK;
}

// The device is assigned by the server that claims the job (another replica
// may have the GPU this one lacks); the job manager checks it at submit.
absl::StatusOr<std::string> ExportServiceImpl::AssignDevice(const std::string& requested) const {
  return requested;
}

absl::StatusOr<JobSpec> ExportServiceImpl::ExportSpec(const pb::ExportRequest& req) const {
  JobSpec spec;
  spec.kind = JobKind::kExport;
  spec.idempotency_key = req.idempotency_key();
  spec.export_options = ExportOptionsFromProto(req);
  spec.export_options.sync = options_.sync;
  auto& o = spec.export_options;
  if (o.dtype != "keep" && o.dtype != "float32" && o.dtype != "bfloat16" && o.dtype != "float16") {
    return absl::InvalidArgumentError(absl::StrCat("dtype '", o.dtype,
                                                   "': expected keep, float32, bfloat16 or float16"));
  }
  auto device = AssignDevice(req.device());
  if (!device.ok()) return device.status();
  o.device = *device;
  auto ckpt = policy_.ResolveInput(o.checkpoint_dir);
  if (!ckpt.ok()) return ckpt.status();
  o.checkpoint_dir = *ckpt;
  std::string out = o.output_dir;
  if (out.empty()) {
    auto def = core::DefaultOutputDir(o.checkpoint_dir);
    if (!def.ok()) return def.status();
    out = *def;
  }
  auto resolved = policy_.ResolveOutput(out);
  if (!resolved.ok()) return resolved.status();
  o.output_dir = *resolved;
  return spec;
}

grpc::Status ExportServiceImpl::Relay(grpc::ServerContext* ctx, const std::string& id,
                                      grpc::ServerWriter<pb::JobEvent>* writer) {
  auto stream = jobs_->Watch(id);
  if (!stream.ok()) return ToGrpcStatus(stream.status());
  for (;;) {
    if (ctx->IsCancelled()) {
      // The client left; the job carries on (WatchJob can reattach).
      return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
    }
    auto event = (*stream)->Next(kPoll);
    if (!event) continue;
    if (!writer->Write(ToProto(*event))) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
    }
    if (event->final) return grpc::Status::OK;
  }
}

grpc::Status ExportServiceImpl::ExportCheckpoint(grpc::ServerContext* ctx,
                                                 const pb::ExportRequest* req,
                                                 grpc::ServerWriter<pb::JobEvent>* writer) {
  if (auto s = Authenticate(ctx); !s.ok()) return s;
  auto spec = ExportSpec(*req);
  if (!spec.ok()) return ToGrpcStatus(spec.status());
  auto job = jobs_->Submit(std::move(*spec));
  if (!job.ok()) return ToGrpcStatus(job.status());
  return Relay(ctx, job->id, writer);
}

grpc::Status ExportServiceImpl::ValidateExport(grpc::ServerContext* ctx,
                                               const pb::ValidateRequest* req,
                                               grpc::ServerWriter<pb::JobEvent>* writer) {
  if (auto s = Authenticate(ctx); !s.ok()) return s;
  // An export folder is read, so it must lie in an input or an output root.
  auto dir = policy_.ResolveInput(req->export_dir());
  if (!dir.ok() && dir.status().code() == absl::StatusCode::kPermissionDenied) {
    auto as_output = policy_.ResolveOutput(req->export_dir());
    if (as_output.ok()) dir = *as_output;
  }
  if (!dir.ok()) return ToGrpcStatus(dir.status());
  JobSpec spec;
  spec.kind = JobKind::kValidate;
  spec.validate_dir = *dir;
  if (!req->source_dir().empty()) {
    auto source = policy_.ResolveInput(req->source_dir());
    if (!source.ok()) return ToGrpcStatus(source.status());
    spec.validate_source = *source;
  }
  auto device = AssignDevice(req->device());
  if (!device.ok()) return ToGrpcStatus(device.status());
  spec.export_options.device = *device;
  spec.idempotency_key = req->idempotency_key();
  auto job = jobs_->Submit(std::move(spec));
  if (!job.ok()) return ToGrpcStatus(job.status());
  return Relay(ctx, job->id, writer);
}

grpc::Status ExportServiceImpl::SubmitExport(grpc::ServerContext* ctx, const pb::ExportRequest* req,
                                             pb::Job* resp) {
  if (auto s = Authenticate(ctx); !s.ok()) return s;
  auto spec = ExportSpec(*req);
  if (!spec.ok()) return ToGrpcStatus(spec.status());
  auto job = jobs_->Submit(std::move(*spec));
  if (!job.ok()) return ToGrpcStatus(job.status());
  *resp = ToProto(*job);
  return grpc::Status::OK;
}

grpc::Status ExportServiceImpl::GetJob(grpc::ServerContext* ctx, const pb::GetJobRequest* req,
                                       pb::Job* resp) {
  if (auto s = Authenticate(ctx); !s.ok()) return s;
  auto job = jobs_->Get(req->job_id());
  if (!job.ok()) return ToGrpcStatus(job.status());
  *resp = ToProto(*job);
  return grpc::Status::OK;
}

grpc::Status ExportServiceImpl::ListJobs(grpc::ServerContext* ctx, const pb::ListJobsRequest* req,
                                         pb::ListJobsResponse* resp) {
  if (auto s = Authenticate(ctx); !s.ok()) return s;
  std::optional<JobState> state;
  if (req->state() != pb::JOB_STATE_UNSPECIFIED) {
    state = FromProto(req->state());
    if (!state) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "unknown job state filter");
  }
  ListQuery query;
  query.state = state;
  query.source_contains = req->checkpoint_contains();
  query.page_size = req->page_size() <= 0 ? kMaxPageSize : std::min(req->page_size(), kMaxPageSize);
  query.page_token = req->page_token();
  auto page = jobs_->ListPage(query);
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (const auto& j : page->jobs) *resp->add_jobs() = ToProto(j.snap);
  resp->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status ExportServiceImpl::WatchJob(grpc::ServerContext* ctx, const pb::WatchJobRequest* req,
                                         grpc::ServerWriter<pb::JobEvent>* writer) {
  if (auto s = Authenticate(ctx); !s.ok()) return s;
  return Relay(ctx, req->job_id(), writer);
}

grpc::Status ExportServiceImpl::CancelJob(grpc::ServerContext* ctx, const pb::CancelJobRequest* req,
                                          pb::Job* resp) {
  if (auto s = Authenticate(ctx); !s.ok()) return s;
  auto job = jobs_->Cancel(req->job_id());
  if (!job.ok()) return ToGrpcStatus(job.status());
  *resp = ToProto(*job);
  return grpc::Status::OK;
}

}  // namespace neobert::server
