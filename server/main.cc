// neobert-exportd: the export service. See server_config.h for flags.
//
// Shutdown (SIGTERM/SIGINT): health turns NOT_SERVING, new jobs are refused
// with UNAVAILABLE, running jobs get --grace-seconds to finish, then the rest
// are cancelled and the server stops.
#include <pthread.h>
#include <signal.h>

#include <iostream>
#include <memory>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "nlohmann/json.hpp"
#include "core/engine/engine.h"
#include "server/export_service_impl.h"
#include "server/observability.h"
#include "server/server_config.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace {

using neobert::server::ServerConfig;

bool g_json_logs = false;

// One log line; in JSON mode a single escaped object per line.
void Log(spdlog::level::level_enum level, const std::string& msg) {
  if (g_json_logs) {
    nlohmann::json j = {{"level", spdlog::level::to_string_view(level).data()}, {"msg", msg}};
    spdlog::log(level, "{}", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } else {
    spdlog::log(level, "{}", msg);
  }
}

void SetUpLogging(const ServerConfig& c) {
  auto logger = spdlog::stderr_logger_mt("neobert-exportd");
  spdlog::set_default_logger(logger);
  g_json_logs = c.log_format == "json";
  // JSON mode: the time is prepended as a field, the rest is the escaped object.
  spdlog::set_pattern(g_json_logs ? "{\"time\":\"%Y-%m-%dT%H:%M:%S.%e%z\",\"log\":%v}"
                                  : "%Y-%m-%d %H:%M:%S.%e %l %v");
}

// Plaintext, TLS, or mTLS (client certificates required and verified).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(const ServerConfig& c) {
  if (c.tls_cert.empty()) return grpc::InsecureServerCredentials();
  auto cert = neobert::server::ReadSmallFile(c.tls_cert, "tls-cert");
  if (!cert.ok()) return cert.status();
  auto key = neobert::server::ReadSmallFile(c.tls_key, "tls-key");
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions ssl(
      c.tls_client_ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                              : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  if (!c.tls_client_ca.empty()) {
    auto ca = neobert::server::ReadSmallFile(c.tls_client_ca, "tls-client-ca");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
  }
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

int main(int argc, char** argv) {
  namespace srv = neobert::server;
  auto config = srv::ParseServerFlags(std::vector<std::string>(argv + 1, argv + argc));
  if (!config.ok()) {
    std::cerr << "neobert-exportd: " << config.status().message() << "\n" << srv::kServerUsage;
    return 2;
  }
  if (config->help) {
    std::cout << srv::kServerUsage;
    return 0;
  }
  SetUpLogging(*config);

  // Signals are taken by one thread with sigwait; block them before any
  // other thread (gRPC's, the pool's) exists so they inherit the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  srv::ServiceOptions service_options;
  service_options.sync = config->sync;
  auto devices = srv::DevicePolicy::Create(config->device, neobert::engine::VisibleCudaDevices());
  if (!devices.ok()) {
    Log(spdlog::level::err, std::string(devices.status().message()));
    return 2;
  }
  service_options.devices = std::make_shared<srv::DevicePolicy>(*devices);
  auto credentials = ServerCredentials(*config);
  if (!credentials.ok()) {
    Log(spdlog::level::err, std::string(credentials.status().message()));
    return 2;
  }
  if (!config->token_file.empty()) {
    auto token = srv::ReadTokenFile(config->token_file);
    if (!token.ok()) {
      Log(spdlog::level::err, std::string(token.status().message()));
      return 2;
    }
    service_options.token = *token;
  }
  auto policy = srv::PathPolicy::Create(config->input_roots, config->output_roots);
  if (!policy.ok()) {
    Log(spdlog::level::err, std::string(policy.status().message()));
    return 2;
  }
  // Job logs and metrics (server/observability.h); binds --metrics-listen.
  auto obs = srv::Observability::Create(*config);
  if (!obs.ok()) {
    Log(spdlog::level::err, std::string(obs.status().message()));
    return 1;
  }
  srv::JobManagerOptions jm;
  jm.observer = (*obs)->job_observer();
  jm.queue_capacity = config->queue_capacity;
  jm.state_dir = config->state_dir;
  jm.executor = std::make_unique<srv::ThreadPoolExecutor>(config->workers);
  auto jobs = srv::JobManager::Create(std::move(jm));
  if (!jobs.ok()) {
    Log(spdlog::level::err, std::string(jobs.status().message()));
    return 1;
  }
  srv::ExportServiceImpl service(jobs->get(), *policy, service_options);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(config->listen, *credentials, &port);
  builder.RegisterService(&service);
  (*obs)->AddTo(builder);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    Log(spdlog::level::err, absl::StrCat("cannot listen on ", config->listen));
    return 1;
  }
  server->GetHealthCheckService()->SetServingStatus(true);
  std::string host = config->listen.substr(0, config->listen.rfind(':'));
  // The first line on stdout: lets a supervisor (or test) learn a port-0 port.
  std::cout << "listening on " << host << ":" << port << std::endl;
  Log(spdlog::level::info,
      absl::StrCat("listening on ", host, ":", port, ", ", config->workers, " worker(s), queue ",
                   config->queue_capacity, service_options.token.empty() ? ", no auth" : ", bearer auth",
                   config->state_dir.empty() ? ", no journal" : ", journal in " + config->state_dir,
                   config->tls_cert.empty() ? ", plaintext"
                   : config->tls_client_ca.empty() ? ", TLS" : ", mTLS",
                   ", device ", service_options.devices->Describe()));
  if (const std::string m = (*obs)->metrics_address(); !m.empty()) {
    // Second stdout line, after the one supervisors already read.
    std::cout << "metrics on " << m << std::endl;
    Log(spdlog::level::info, absl::StrCat("metrics on http://", m, "/metrics"));
  }

  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&sigs, &sig);
    Log(spdlog::level::info, absl::StrCat("signal ", sig, ": draining (grace ",
                                          config->grace_seconds, " s)"));
    server->GetHealthCheckService()->SetServingStatus(false);
    (*jobs)->StopAccepting();
    if (!(*jobs)->WaitIdle(absl::Seconds(config->grace_seconds))) {
      Log(spdlog::level::warn, "grace period over: cancelling the remaining jobs");
      (*jobs)->CancelAll();
      (*jobs)->WaitIdle(absl::Seconds(30));
    }
    // Streams relaying finished jobs end by themselves; give them a moment.
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  });
  server->Wait();
  signal_thread.join();
  jobs->reset();
  Log(spdlog::level::info, "stopped");
  return 0;
}
