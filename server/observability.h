// Logs and metrics of the running service, wired in one place so main.cc
// needs only a few lines: job logs (job_log.h) and metrics (server_metrics.h)
// observe the job manager, an interceptor counts RPCs, and with
// --metrics-listen an HTTP listener serves /metrics.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/server_builder.h"
#include "server/job_manager.h"
#include "server/metrics_http.h"
#include "server/server_config.h"
#include "server/server_metrics.h"

namespace neobert::server {

class Observability {
 public:
  // Binds the metrics listener when config.metrics_listen is set (an address
  // that cannot be bound is an error). Metrics are collected either way.
  static absl::StatusOr<std::unique_ptr<Observability>> Create(const ServerConfig& config);

  // For JobManagerOptions::observer: job logs plus metrics.
  std::shared_ptr<JobObserver> job_observer() const { return observer_; }
  // Adds the RPC-counting interceptor. The server built must not outlive
  // this object.
  void AddTo(grpc::ServerBuilder& builder);
  // HOST:PORT of the metrics listener; empty when metrics are not served.
  std::string metrics_address() const { return http_ ? http_->address() : std::string(); }
  ServerMetrics& metrics() { return *metrics_; }

 private:
  std::shared_ptr<ServerMetrics> metrics_;
  std::shared_ptr<JobObserver> observer_;
  std::unique_ptr<MetricsHttpServer> http_;
};

}  // namespace neobert::server
