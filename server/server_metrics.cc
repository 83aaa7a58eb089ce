#include "server/server_metrics.h"

#include "core/status/error_reason.h"
#include "server/job_log.h"
#include "server/status_mapping.h"

namespace neobert::server {

namespace {

// Jobs take from well under a second (validation of a small export) to an
// hour (a multi-GB export to a slow disk).
const std::vector<double> kJobSecondsBuckets = {0.05, 0.1, 0.25, 0.5, 1,   2.5,  5,   10,
                                                30,   60,  120,  300, 600, 1800, 3600};
const std::vector<double> kThroughputBuckets = {1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500};
// A forward pass on a tiny batch: milliseconds on a GPU, seconds on a CPU
// for a large model (plus model construction).
const std::vector<double> kSanityBuckets = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

class RpcCounter final : public grpc::experimental::Interceptor {
 public:
  RpcCounter(ServerMetrics* metrics, const char* method)
      : metrics_(metrics), method_(method ? method : "") {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    // The status the handler returned (or the library chose) is final here,
    // whichever handler ran and however it returned.
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      metrics_->OnRpc(method_, methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  ServerMetrics* metrics_;
  std::string method_;
};

class RpcCounterFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcCounterFactory(ServerMetrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RpcCounter(metrics_, info->method());
  }

 private:
  ServerMetrics* metrics_;
};

}  // namespace

ServerMetrics::ServerMetrics() {
  auto& r = registry_;
  queue_depth_ = r.AddGauge("neobert_export_queue_depth", "Jobs waiting for a worker.");
  jobs_ = r.AddGauge("neobert_export_jobs", "Jobs queued or running now, by state.", {"state"});
  jobs_total_ = r.AddCounter("neobert_export_jobs_total",
                             "Jobs finished since the server started, by kind and final state.",
                             {"kind", "state"});
  export_seconds_ = r.AddHistogram("neobert_export_export_duration_seconds",
                                   "Run time of export jobs (from start to finish), by final state.",
                                   {"state"}, kJobSecondsBuckets);
  validation_seconds_ = r.AddHistogram(
      "neobert_export_validation_duration_seconds",
      "Run time of validation jobs (from start to finish), by final state.", {"state"},
      kJobSecondsBuckets);
  bytes_written_ = r.AddCounter(
      "neobert_export_bytes_written_total",
      "Bytes of the files published by successful exports (the sizes their manifests list).");
  throughput_ = r.AddHistogram(
      "neobert_export_export_throughput_mb_per_second",
      "Bytes written per second of run time (MB = 1e6 bytes), one observation per export that wrote.",
      {}, kThroughputBuckets);
  last_throughput_ = r.AddGauge("neobert_export_last_export_throughput_mb_per_second",
                                "Throughput of the latest export that wrote files (MB/s).");
  sanity_seconds_ = r.AddHistogram(
      "neobert_export_sanity_seconds",
      "Time of the sanity forward pass (model construction included), by device.", {"device"},
      kSanityBuckets);
  rpcs_total_ = r.AddCounter("neobert_export_rpcs_total",
                             "RPCs finished, by method and gRPC status code.", {"method", "code"});
  job_errors_total_ = r.AddCounter(
      "neobert_export_job_errors_total",
      "Jobs that ended with an error (failed, cancelled, interrupted), by kind and reason.",
      {"kind", "reason"});
  watch_unexported_total_ = r.AddCounter(
      "neobert_export_watch_steps_unexported_total",
      "Watch mode: complete steps whose export had not finished when the shutdown grace period "
      "(or --once) ended.");
  watch_unexported_total_->Add({}, 0);
  // Series a dashboard expects from the first scrape.
  for (const char* s : {"queued", "running"}) jobs_->Set({s}, 0);
  for (JobKind k : {JobKind::kExport, JobKind::kValidate}) {
    for (JobState s : {JobState::kSucceeded, JobState::kFailed, JobState::kCancelled}) {
      jobs_total_->Touch({JobKindName(k), LowerStateName(s)});
    }
  }
}

void ServerMetrics::OnQueued(const JobSnapshot&) {
  jobs_->Add({"queued"}, 1);
  queue_depth_->Add({}, 1);
}

void ServerMetrics::OnStarted(const JobSnapshot&) {
  jobs_->Add({"queued"}, -1);
  queue_depth_->Add({}, -1);
  jobs_->Add({"running"}, 1);
}

void ServerMetrics::OnFinished(const JobSnapshot& job, JobState was, double run_seconds) {
  if (was == JobState::kQueued) {
    jobs_->Add({"queued"}, -1);
    queue_depth_->Add({}, -1);
  } else {
    jobs_->Add({"running"}, -1);
  }
  const JobSummary s = SummarizeJob(job, run_seconds);
  jobs_total_->Add({s.kind, s.state});
  if (!job.error.ok()) {
    job_errors_total_->Add({s.kind, core::ErrorReasonName(core::ReasonOf(job.error))});
  }
  // A job cancelled in the queue never ran: it has no duration to observe.
  if (was == JobState::kRunning) {
    (job.spec.kind() == JobKind::kExport ? export_seconds_ : validation_seconds_)
        ->Observe({s.state}, run_seconds);
  }
  if (s.bytes_written > 0) {
    bytes_written_->Add({}, static_cast<double>(s.bytes_written));
    throughput_->Observe({}, s.mb_per_s);
    last_throughput_->Set({}, s.mb_per_s);
  }
  // Validation jobs name their device too, but run no sanity pass.
  if (job.spec.kind() == JobKind::kExport && !s.device.empty()) {
    sanity_seconds_->Observe({s.device}, s.sanity_seconds);
  }
}

void ServerMetrics::OnWatchStepsUnexported(int n) {
  if (n > 0) watch_unexported_total_->Add({}, n);
}

void ServerMetrics::OnRpc(const std::string& method, grpc::StatusCode code) {
  // "/neobert.exporter.v1.ExportService/GetJob" → "neobert.exporter.v1.ExportService/GetJob"
  std::string m = method.empty() ? "unknown" : method;
  if (m[0] == '/') m.erase(0, 1);
  rpcs_total_->Add({m, GrpcCodeName(code)});
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
ServerMetrics::RpcInterceptorFactory() {
  return std::make_unique<RpcCounterFactory>(this);
}

}  // namespace neobert::server
