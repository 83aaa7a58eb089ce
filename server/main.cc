// neobert-exportd: the export service. See server_config.h for flags.
//
// Shutdown (SIGTERM/SIGINT): health turns NOT_SERVING, new RPC work is refused
// (UNAVAILABLE, reason DRAINING); in watch mode one last scan submits every
// complete step not exported yet (no settle wait: the trainer has stopped);
// then the job manager stops accepting (with a job store other replicas
// share, it also stops claiming: they take the queue; otherwise it works
// through its queue), jobs get --grace-seconds (counted from the signal) to
// finish, and the rest are released to the job store (queued again for
// another replica or the next start; cancelled, reason INTERRUPTED, when jobs
// are only in memory); every watched step left without an export is logged
// and counted. Then the server stops.
// --once: the last scan at start-up, wait for its jobs, exit 0 (1 if any
// failed).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "nlohmann/json.hpp"
#include "core/base/status_macros.h"
#include "core/engine/engine.h"
#include "server/export_service_impl.h"
#include "server/job_roots.h"
#include "server/observability.h"
#include "server/output_pattern.h"
#include "server/post_export_hook.h"
#include "server/server_config.h"
#include "server/watcher.h"
#include "spdlog/async.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace {

using neobert::server::ServerConfig;

bool g_json_logs = false;
int g_signal_pipe[2] = {-1, -1};

void OnStopSignal(int sig) {
  const unsigned char b = static_cast<unsigned char>(sig);
  (void)!::write(g_signal_pipe[1], &b, 1);
}

// One log line; in JSON mode a single escaped object per line.
void Log(spdlog::level::level_enum level, const std::string& msg) {
  if (g_json_logs) {
    nlohmann::json j = {{"level", spdlog::level::to_string_view(level).data()}, {"msg", msg}};
    spdlog::log(level, "{}", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } else {
    spdlog::log(level, "{}", msg);
  }
}

// A line from a component with its own level enum (watcher, job manager).
template <typename Level>
void LogAt(Level level, const std::string& msg) {
  Log(level == Level::kError  ? spdlog::level::err
      : level == Level::kWarn ? spdlog::level::warn
                              : spdlog::level::info,
      msg);
}

// Lines go through a bounded queue to one writer thread, so a stderr nobody
// reads (a full pipe, a stalled log collector) never blocks a job or an RPC:
// when the queue is full the oldest queued lines are dropped instead.
constexpr size_t kLogQueueLines = 8192;

void SetUpLogging(const ServerConfig& c) {
  spdlog::init_thread_pool(kLogQueueLines, 1);
  auto logger = spdlog::create_async_nb<spdlog::sinks::stderr_sink_mt>("neobert-exportd");
  spdlog::set_default_logger(logger);
  g_json_logs = c.log_format == "json";
  // JSON mode: the time is prepended as a field, the rest is the escaped object.
  spdlog::set_pattern(g_json_logs ? "{\"time\":\"%Y-%m-%dT%H:%M:%S.%e%z\",\"log\":%v}"
                                  : "%Y-%m-%d %H:%M:%S.%e %l %v");
}

// Plaintext, TLS, or mTLS (client certificates required and verified).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(const ServerConfig& c) {
  if (c.tls_cert.empty()) return grpc::InsecureServerCredentials();
  ASSIGN_OR_RETURN(auto cert, neobert::server::ReadSmallFile(c.tls_cert, "tls-cert"));
  ASSIGN_OR_RETURN(auto key, neobert::server::ReadSmallFile(c.tls_key, "tls-key"));
  grpc::SslServerCredentialsOptions ssl(
      c.tls_client_ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                              : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  if (!c.tls_client_ca.empty()) {
    ASSIGN_OR_RETURN(auto ca, neobert::server::ReadSmallFile(c.tls_client_ca, "tls-client-ca"));
    ssl.pem_root_certs = ca;
  }
  ssl.pem_key_cert_pairs.push_back({key, cert});
  return grpc::SslServerCredentials(ssl);
}

// --post-export-hook: its output lines go to the log tagged with the job.
std::function<neobert::server::HookOutcome(const neobert::server::JobSnapshot&, int,
                                           const neobert::base::CancelToken&)>
MakePostExportHook(const ServerConfig& c) {
  namespace srv = neobert::server;
  return [command = c.post_export_hook, timeout = absl::Seconds(c.post_export_hook_timeout_seconds)](
             const srv::JobSnapshot& job, int attempt, const neobert::base::CancelToken& cancel) {
    srv::PostExportHookOptions o;
    o.command = command;
    o.timeout = timeout;
    o.log_line = [id = job.id](const std::string& line) {
      Log(spdlog::level::info, absl::StrCat("job ", id, " hook: ", line));
    };
    const std::string dir = job.result ? job.result->output_dir : "";
    srv::HookOutcome h = srv::RunPostExportHook(
        o, {dir, srv::JobSource(job.spec), job.id, attempt}, cancel);
    Log(h.exit_code == 0 ? spdlog::level::info : spdlog::level::warn,
        absl::StrCat("job ", job.id, " post-export hook ", h.message, " (", dir, ")"));
    return h;
  };
}

absl::StatusOr<std::unique_ptr<neobert::server::Watcher>> MakeWatcher(
    const ServerConfig& c, neobert::server::JobManager* jobs, const neobert::server::PathPolicy& policy) {
  namespace srv = neobert::server;
  srv::WatcherOptions o;
  o.dirs = c.watch_dirs;
  o.output_dir = c.watch_output;
  o.output_pattern = c.default_output_dir;
  o.poll = absl::Seconds(c.watch_poll_seconds);
  o.mode = c.watch_mode == "poll"      ? srv::WatchMode::kPoll
           : c.watch_mode == "inotify" ? srv::WatchMode::kInotify
                                       : srv::WatchMode::kAuto;
  o.sync = c.sync;
  o.log = LogAt<srv::WatchLogLevel>;
  return srv::Watcher::Create(std::move(o), jobs, policy);
}

}  // namespace

// Writes out the queued log lines, but never waits more than a few seconds
// for a stderr nobody reads: then it leaves without them (_exit skips the
// static destructors, which would wait for the logging thread again).
int FlushLogsAndExit(int code) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> flushed = done->get_future();
  std::thread([done] {
    spdlog::shutdown();
    done->set_value();
  }).detach();
  if (flushed.wait_for(std::chrono::seconds(3)) != std::future_status::ready) {
    std::fflush(stdout);
    std::_Exit(code);
  }
  return code;
}

namespace srv = neobert::server;

namespace {

// What the service needs besides its job manager: the engine (loaded now,
// not in the first job: every export runs a forward pass), the device
// policy, what GetServerInfo reports, the bearer tokens and the default
// output pattern. An error here is a configuration the server cannot serve
// with (exit 2).
absl::StatusOr<srv::ServiceOptions> MakeServiceOptions(const ServerConfig& config,
                                                       const srv::PathPolicy& policy) {
  srv::ServiceOptions service_options;
  service_options.sync = config.sync;
  RETURN_IF_ERROR(neobert::engine::EngineAvailable());
  // The workers share the cores: each job's CPU forward passes (beside its
  // own writes) get its share instead of one thread per core each.
  neobert::engine::SetCpuThreads(
      std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / config.workers));
  ASSIGN_OR_RETURN(srv::DevicePolicy devices,
                   srv::DevicePolicy::Create(config.device, neobert::engine::VisibleCudaDevices()));
  service_options.devices = std::make_shared<srv::DevicePolicy>(std::move(devices));
  auto& info = service_options.server_info;
  for (int i = 0; i < neobert::engine::VisibleCudaDevices(); ++i) {
    info.add_gpus(absl::StrCat("cuda:", i));
  }
  info.set_max_attempts(config.max_attempts);
  info.set_workers(config.workers);
  info.set_queue_capacity(config.queue_capacity);
  info.set_grace_seconds(config.grace_seconds);
  info.set_tls(!config.tls_cert.empty());
  info.set_mtls(!config.tls_client_ca.empty());
  for (const auto& d : config.watch_dirs) info.add_watch_dirs(d);
  if (!config.token_file.empty()) {
    ASSIGN_OR_RETURN(service_options.tokens,
                     srv::BearerTokens::FromFile(config.token_file,
                                                 [](bool problem, const std::string& line) {
                                                   Log(problem ? spdlog::level::warn
                                                               : spdlog::level::info,
                                                       line);
                                                 }));
  }
  if (!config.default_output_dir.empty()) {
    RETURN_IF_ERROR(srv::CheckOutputPattern(config.default_output_dir, policy, "default-output-dir"));
    service_options.default_output_pattern = config.default_output_dir;
  }
  return service_options;
}

srv::JobManagerOptions MakeJobManagerOptions(const ServerConfig& config, srv::Observability& obs,
                                             const srv::ServiceOptions& service,
                                             const srv::PathPolicy& policy) {
  srv::JobManagerOptions jm;
  jm.observer = obs.job_observer();
  jm.queue_capacity = config.queue_capacity;
  jm.state_dir = config.state_dir;
  jm.job_store = config.job_store;
  jm.sync = config.sync;
  jm.workers = config.workers;
  jm.max_attempts = config.max_attempts;
  jm.lease = absl::Seconds(config.lease_seconds);
  jm.retention.max_age = absl::Hours(24) * config.job_retention_days;
  jm.retention.max_count = config.job_retention_count;
  jm.devices = service.devices;
  jm.log = LogAt<srv::JobLogLevel>;
  jm.executor = std::make_unique<srv::ThreadPoolExecutor>(config.workers);
  if (!config.post_export_hook.empty()) jm.post_export = MakePostExportHook(config);
  // A claimed job comes from the store as paths: bind them to this server's
  // roots before running it (server/job_roots.h).
  jm.runner = srv::ConfinedJobRunner(policy);
  return jm;
}

// What a serving server is made of, for the shutdown and --once paths.
struct Serving {
  const ServerConfig& config;
  grpc::Server& server;
  srv::ExportServiceImpl& service;
  srv::JobManager& jobs;
  srv::Observability& obs;
  srv::Watcher* watcher;  // null without --watch
};

// --once: the last scan now, then wait for its jobs. Returns the exit code
// (1 when a step was left without an export) and wakes the signal thread.
int RunOnce(Serving& s) {
  const srv::Watcher::FinalScanResult final = s.watcher->FinalScan(absl::InfiniteFuture());
  s.jobs.WaitIdle(absl::InfiniteDuration());
  const int unfinished = s.watcher->ReportUnfinished(final);
  s.obs.metrics().OnWatchStepsUnexported(unfinished);
  const std::string summary =
      absl::StrCat("once: ", final.jobs.size() - (unfinished - final.not_submitted.size()),
                   " step(s) exported, ", final.already_exported, " already exported, ",
                   unfinished, " not exported");
  Log(unfinished == 0 ? spdlog::level::info : spdlog::level::err, summary);
  std::cout << summary << std::endl;
  const unsigned char done = 0;
  (void)!::write(g_signal_pipe[1], &done, 1);
  return unfinished == 0 ? 0 : 1;
}

// The shutdown the file's header describes; `sig` 0: --once finished.
void Drain(Serving& s, unsigned char sig) {
  s.server.GetHealthCheckService()->SetServingStatus(false);
  s.service.StartDraining();
  if (sig != 0) {
    const absl::Time deadline = absl::Now() + absl::Seconds(s.config.grace_seconds);
    Log(spdlog::level::info, absl::StrCat("signal ", static_cast<int>(sig), ": draining (grace ",
                                          s.config.grace_seconds, " s)"));
    std::optional<srv::Watcher::FinalScanResult> final;
    // (--once: its own thread is doing the last scan already.)
    if (s.watcher && !s.config.once) {
      s.watcher->Stop();
      final = s.watcher->FinalScan(deadline);
    }
    s.jobs.StopAccepting();
    if (!s.jobs.WaitIdle(deadline - absl::Now())) {
      // A persistent store keeps the unfinished jobs: they go back to the
      // queue for another server (or this one's next start) to run.
      Log(spdlog::level::warn, "grace period over: releasing the unfinished jobs to the job store");
      s.jobs.ReleaseAll();
      s.jobs.WaitIdle(absl::Seconds(30));
    }
    if (final) {
      const int unfinished = s.watcher->ReportUnfinished(*final);
      s.obs.metrics().OnWatchStepsUnexported(unfinished);
      Log(unfinished == 0 ? spdlog::level::info : spdlog::level::err,
          absl::StrCat("watch: shutdown: ", final->jobs.size(), " step(s) had an export to finish, ",
                       unfinished, " did not finish in the grace period"));
    }
  } else {
    s.jobs.StopAccepting();
  }
  // Streams of finished jobs end by themselves; the others end with
  // DRAINING (their jobs stay in the store). Give them a moment.
  s.jobs.CloseStreams();
  s.server.Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

}  // namespace

int Run(int argc, char** argv) {
  auto config = srv::ParseServerFlags(std::vector<std::string>(argv + 1, argv + argc));
  if (!config.ok()) {
    std::cerr << "neobert-exportd: " << config.status().message() << "\n" << srv::kServerUsage;
    return 2;
  }
  if (config->help) {
    std::cout << srv::kServerUsage;
    return 0;
  }
  if (config->version) {
    std::cout << "neobert-exportd " << NEOBERT_VERSION << "\n";
    return 0;
  }
  SetUpLogging(*config);
  auto fail = [](int code, const absl::Status& why) {
    Log(spdlog::level::err, std::string(why.message()));
    return code;
  };

  // SIGTERM/SIGINT: a handler writes the signal number into a pipe that one
  // thread reads. (Blocking the signals and sigwait-ing is not enough: a
  // thread that a linked library starts before main() keeps them unblocked,
  // and a SIGTERM delivered to it killed the server without draining.)
  if (::pipe2(g_signal_pipe, O_CLOEXEC) != 0) return fail(1, absl::InternalError("pipe2 failed"));
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  auto credentials = ServerCredentials(*config);
  if (!credentials.ok()) return fail(2, credentials.status());
  auto policy = srv::PathPolicy::Create(config->input_roots, config->output_roots);
  if (!policy.ok()) return fail(2, policy.status());
  auto service_options = MakeServiceOptions(*config, *policy);
  if (!service_options.ok()) return fail(2, service_options.status());
  // Job logs and metrics (server/observability.h); binds --metrics-listen.
  auto obs = srv::Observability::Create(*config);
  if (!obs.ok()) return fail(1, obs.status());
  auto jobs =
      srv::JobManager::Create(MakeJobManagerOptions(*config, **obs, *service_options, *policy));
  if (!jobs.ok()) {
    // A store this server must not use (held by another server, on a network
    // file system, a bad DSN) is a configuration error, like a bad flag.
    const auto code = jobs.status().code();
    return fail(code == absl::StatusCode::kFailedPrecondition ||
                        code == absl::StatusCode::kInvalidArgument
                    ? 2
                    : 1,
                jobs.status());
  }
  srv::ExportServiceImpl service(jobs->get(), *policy, *service_options);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(config->listen, *credentials, &port);
  builder.RegisterService(&service);
  (*obs)->AddTo(builder);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    return fail(1, absl::UnavailableError(absl::StrCat("cannot listen on ", config->listen)));
  }
  server->GetHealthCheckService()->SetServingStatus(true);
  std::string host = config->listen.substr(0, config->listen.rfind(':'));
  // The first line on stdout: lets a supervisor (or test) learn a port-0 port.
  std::cout << "listening on " << host << ":" << port << std::endl;
  Log(spdlog::level::info,
      absl::StrCat("listening on ", host, ":", port, ", ", config->workers, " worker(s), queue ",
                   config->queue_capacity, !service_options->tokens ? ", no auth" : ", bearer auth",
                   ", jobs in ", (*jobs)->store_description(), " as ", (*jobs)->replica_id(),
                   config->tls_cert.empty() ? ", plaintext"
                   : config->tls_client_ca.empty() ? ", TLS" : ", mTLS",
                   ", device ", service_options->devices->Describe()));
  if (const std::string m = (*obs)->metrics_address(); !m.empty()) {
    // Second stdout line, after the one supervisors already read.
    std::cout << "metrics on " << m << std::endl;
    Log(spdlog::level::info, absl::StrCat("metrics on http://", m, "/metrics"));
  }

  // Watch mode: started once the server listens; stopped first on a signal
  // so nothing new is submitted while the job manager drains.
  std::unique_ptr<srv::Watcher> watcher;
  if (!config->watch_dirs.empty()) {
    auto w = MakeWatcher(*config, jobs->get(), *policy);
    if (!w.ok()) {
      server->Shutdown();
      return fail(2, w.status());
    }
    watcher = std::move(*w);
    if (!config->once) watcher->Start();
  }

  Serving serving{*config, *server, service, **jobs, **obs, watcher.get()};
  // --once: the result decides the exit code, and a zero byte in the signal
  // pipe stops the server.
  int exit_code = 0;
  std::thread once_thread;
  if (config->once) once_thread = std::thread([&] { exit_code = RunOnce(serving); });
  std::thread signal_thread([&] {
    unsigned char sig = 0;
    while (::read(g_signal_pipe[0], &sig, 1) < 0 && errno == EINTR) {
    }
    Drain(serving, sig);
  });
  server->Wait();
  signal_thread.join();
  if (once_thread.joinable()) once_thread.join();
  watcher.reset();
  jobs->reset();
  Log(spdlog::level::info, "stopped");
  return exit_code;
}

int main(int argc, char** argv) { return FlushLogsAndExit(Run(argc, argv)); }
