// The service's Prometheus metrics (all named neobert_export_*): fed by the
// job manager (as a JobObserver) and by a gRPC server interceptor that counts
// every RPC by method and status code, so no handler has to remember to.
//
//   neobert_export_queue_depth                      gauge     jobs waiting for a worker
//   neobert_export_jobs{state}                      gauge     queued / running jobs
//   neobert_export_jobs_total{kind,state}           counter   finished jobs
//   neobert_export_export_duration_seconds{state}   histogram run time of export jobs
//   neobert_export_validation_duration_seconds{state} histogram run time of validations
//   neobert_export_bytes_written_total              counter   bytes published (manifest sizes)
//   neobert_export_export_throughput_mb_per_second  histogram MB/s (1e6 B) per writing export
//   neobert_export_last_export_throughput_mb_per_second gauge the latest of those
//   neobert_export_sanity_seconds{device}           histogram sanity forward pass time
//   neobert_export_rpcs_total{method,code}          counter   finished RPCs
//   neobert_export_job_errors_total{kind,reason}    counter   jobs that ended with an error, by reason
//   neobert_export_watch_steps_unexported_total     counter   watch mode: complete steps whose export
//                                                             did not finish by the end of the
//                                                             shutdown grace period (or --once)
#pragma once

#include <memory>
#include <string>

#include "grpcpp/support/server_interceptor.h"
#include "grpcpp/support/status.h"
#include "server/job_manager.h"
#include "server/metrics.h"

namespace neobert::server {

class ServerMetrics final : public JobObserver {
 public:
  ServerMetrics();

  const metrics::Registry& registry() const { return registry_; }
  // The exposition text for GET /metrics.
  std::string Expose() const { return registry_.Expose(); }

  void OnQueued(const JobSnapshot& job) override;
  void OnStarted(const JobSnapshot& job) override;
  void OnFinished(const JobSnapshot& job, JobState was, double run_seconds) override;

  // One finished RPC; `method` is gRPC's "/package.Service/Method" path.
  void OnRpc(const std::string& method, grpc::StatusCode code);
  // Watch mode's last scan left `n` steps without an export (Watcher::ReportUnfinished).
  void OnWatchStepsUnexported(int n);
  // An interceptor factory calling OnRpc for every RPC of a server. `this`
  // must outlive that server.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> RpcInterceptorFactory();

 private:
  metrics::Registry registry_;
  metrics::Gauge* queue_depth_;
  metrics::Gauge* jobs_;
  metrics::Counter* jobs_total_;
  metrics::Histogram* export_seconds_;
  metrics::Histogram* validation_seconds_;
  metrics::Counter* bytes_written_;
  metrics::Histogram* throughput_;
  metrics::Gauge* last_throughput_;
  metrics::Histogram* sanity_seconds_;
  metrics::Counter* rpcs_total_;
  metrics::Counter* job_errors_total_;
  metrics::Counter* watch_unexported_total_;
};

}  // namespace neobert::server
