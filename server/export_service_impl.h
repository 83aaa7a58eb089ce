// The gRPC handlers: authenticate, resolve paths through the policy, hand the
// job to the JobManager, and relay events. No conversion work happens here.
// Every handler returns through ToGrpcStatus (status_mapping.h), after giving
// each error the reason its call site knows (JOB_NOT_FOUND for an unknown
// job id, QUEUE_FULL with a retry delay, ...).
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "neobert/exporter/v1/export_service.grpc.pb.h"
#include "server/bearer_tokens.h"
#include "server/device_policy.h"
#include "server/job_manager.h"
#include "server/path_policy.h"
#include "server/proto_convert.h"

namespace neobert::server {

struct ServiceOptions {
  // Accepted bearer tokens (bearer_tokens.h); null = no authentication.
  std::shared_ptr<BearerTokens> tokens;
  // fsync exports before publishing (tests may turn it off).
  bool sync = true;
  // Assigns each job's forward-pass device; null = LibTorch's "auto".
  std::shared_ptr<DevicePolicy> devices;
  // GetServerInfo's static facts (gpus, store, limits, tls, watch dirs);
  // version, roots, device policy, auth and `accepting` are filled in here.
  pb::ServerInfo server_info;
};

class ExportServiceImpl final : public pb::ExportService::Service {
 public:
  // `jobs` must outlive the service.
  ExportServiceImpl(JobManager* jobs, PathPolicy policy, ServiceOptions options);

  grpc::Status ExportCheckpoint(grpc::ServerContext* ctx, const pb::ExportRequest* req,
                                grpc::ServerWriter<pb::JobEvent>* writer) override;
  grpc::Status ValidateExport(grpc::ServerContext* ctx, const pb::ValidateRequest* req,
                              grpc::ServerWriter<pb::JobEvent>* writer) override;
  grpc::Status SubmitExport(grpc::ServerContext* ctx, const pb::ExportRequest* req,
                            pb::Job* resp) override;
  grpc::Status GetJob(grpc::ServerContext* ctx, const pb::GetJobRequest* req,
                      pb::Job* resp) override;
  grpc::Status ListJobs(grpc::ServerContext* ctx, const pb::ListJobsRequest* req,
                        pb::ListJobsResponse* resp) override;
  grpc::Status WatchJob(grpc::ServerContext* ctx, const pb::WatchJobRequest* req,
                        grpc::ServerWriter<pb::JobEvent>* writer) override;
  grpc::Status CancelJob(grpc::ServerContext* ctx, const pb::CancelJobRequest* req,
                         pb::Job* resp) override;
  grpc::Status SubmitValidate(grpc::ServerContext* ctx, const pb::ValidateRequest* req,
                              pb::Job* resp) override;
  grpc::Status GetServerInfo(grpc::ServerContext* ctx, const pb::GetServerInfoRequest* req,
                             pb::ServerInfo* resp) override;

  // Shutdown's first step: from now on calls that would queue work get
  // DRAINING, while the job manager still accepts what the server itself
  // submits (watch mode's final scan). Thread-safe.
  void StartDraining() { draining_.store(true); }

 private:
  grpc::Status Authenticate(const grpc::ServerContext* ctx) const;
  absl::StatusOr<JobSpec> ExportSpec(const pb::ExportRequest& req) const;
  absl::StatusOr<JobSpec> ValidateSpec(const pb::ValidateRequest& req) const;
  // Queues `spec` unless draining; errors get their reasons.
  absl::StatusOr<JobSnapshot> Submit(absl::StatusOr<JobSpec> spec);
  // Streams `id`'s events until the final one or the client leaves.
  grpc::Status Relay(grpc::ServerContext* ctx, const std::string& id, uint64_t after_sequence,
                     grpc::ServerWriter<pb::JobEvent>* writer);

  JobManager* jobs_;
  PathPolicy policy_;
  ServiceOptions options_;
  std::atomic<bool> draining_{false};
};

// Constant-time comparison of `header` with "Bearer <token>" (sha256 of both
// sides compared with CRYPTO_memcmp, so neither content nor length leaks).
bool BearerTokenMatches(const std::string& header, const std::string& token);

}  // namespace neobert::server
