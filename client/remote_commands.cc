// The client-mode subcommands: export/validate (streaming), submit, watch,
// get, jobs, cancel, info, health. Paths are made absolute here because the
// server has its own working directory. Results, --json lines and exit codes
// are those of the in-process commands (outcome.h).
//
// Ctrl-C while following a job (export, validate, watch) stops following;
// the job itself is cancelled only with --cancel-on-interrupt or when the
// user answers yes at the prompt (a terminal is needed to ask). Otherwise the
// job keeps running and the exit code is 130.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/cli_args.h"
#include "client/job_flags.h"
#include "client/interrupt.h"
#include "client/outcome.h"
#include "client/progress_printer.h"
#include "client/remote_client.h"
#include "google/protobuf/util/json_util.h"
#include "core/status/error_reason.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "nlohmann/json.hpp"

namespace neobert::cli {
namespace {

constexpr int kExitInterrupted = 130;  // Ctrl-C, the job left running

// Parsed flags, target and a connected channel of one subcommand run.
struct Session {
  ParsedArgs parsed;
  RemoteTarget target;
  Connection conn;
  bool json() const { return parsed.Has("json"); }
};

// Parses `args` (plus the common remote flags), resolves the target and
// connects. Returns -1 to go on, or the exit code.
int Open(const std::vector<std::string>& args, FlagSpec spec, const char* usage,
         size_t positionals, Session* s) {
  AddRemoteFlags(&spec);
  auto p = ParseArgs(args, spec);
  if (!p.ok() || p->Has("help") || p->positional.size() != positionals) {
    if (!p.ok()) std::cerr << "neobert-export: " << p.status().message() << "\n";
    std::cerr << usage << kRemoteFlagsHelp;
    return p.ok() && p->Has("help") ? kExitOk : kExitUsage;
  }
  s->parsed = std::move(*p);
  if (int rc = ResolveTarget(s->parsed, &s->target); rc >= 0) return rc;
  if (int rc = Connect(s->target, &s->conn); rc != kExitOk) return rc;
  return -1;
}

std::string ToJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

std::string Millis(int64_t unix_ms) {
  if (unix_ms <= 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%S", absl::FromUnixMillis(unix_ms), absl::LocalTimeZone());
}

// `jobs -o table` (and wide: + output, times, reason and error).
void PrintJobRow(const pb::Job& j, bool wide) {
  std::cout << absl::StrFormat("%-22s %-11s %-8s %5.1f%%  %s", j.job_id(),
                               pb::JobState_Name(j.state()), j.kind() == pb::VALIDATE ? "validate" : "export",
                               j.percent(), j.checkpoint_dir());
  if (!wide) {
    if (!j.output_dir().empty()) std::cout << " -> " << j.output_dir();
    if (j.has_error() && j.error().code() != 0) std::cout << "  (" << j.error().message() << ")";
    std::cout << "\n";
    return;
  }
  std::cout << absl::StrFormat("  %s  created %s  finished %s", j.output_dir().empty() ? "-" : j.output_dir(),
                               Millis(j.created_unix_ms()), Millis(j.finished_unix_ms()));
  if (j.has_error() && j.error().code() != 0) {
    std::cout << "  " << pb::Status::Reason_Name(j.error().reason())
              << (j.error().retryable() ? " (retryable)" : "") << ": " << j.error().message();
  }
  std::cout << "\n";
}

// What a finished job says, as the in-process commands would say it.
Outcome OutcomeOf(const std::string& job_id, pb::JobState state, pb::JobKind kind,
                  const pb::JobResult* result, const pb::Status* error) {
  Outcome o;
  o.kind = kind == pb::VALIDATE ? "validate" : "export";
  o.job_id = job_id;
  o.state = pb::JobState_Name(state);
  if (result != nullptr) {
    o.result = FromProto(*result);
    o.hook_ran = result->hook_ran();
    o.hook_exit_code = result->hook_exit_code();
    o.hook_message = result->hook_message();
  }
  if (error != nullptr) o.error = FromProto(*error);
  return o;
}

void PrintOutcomeText(const Outcome& o) {
  if (o.result) {
    const core::ExportResult& r = *o.result;
    for (const auto& n : r.notes) std::cout << "note: " << n << "\n";
    for (const auto& w : r.warnings) std::cout << "warning: " << w << "\n";
    if (r.validation) PrintChecks(*r.validation, std::cout);
  }
  if (!o.error.ok()) {
    std::cerr << "job " << o.job_id << " " << o.state << " ("
              << core::ErrorReasonName(core::ReasonOf(o.error)) << "): " << o.error.message() << "\n";
    return;
  }
  const core::ExportResult& r = *o.result;
  if (r.validation && !r.validation->ok()) {
    std::cout << "job " << o.job_id << ": the export is NOT valid: " << r.output_dir << "\n";
    return;
  }
  uint64_t total = 0;
  for (const auto& f : r.files) total += f.size;
  std::cout << absl::StrFormat("job %s succeeded: %s\n  %d files, %.1f MiB, %.2f s", o.job_id,
                               r.output_dir, r.files.size(), static_cast<double>(total) / (1 << 20),
                               r.seconds);
  if (!r.sanity_device.empty()) std::cout << ", forward passes on " << r.sanity_device;
  std::cout << "\n";
}

// One --json line for a streamed event: the in-process events (outcome.h)
// plus the job's id, state and sequence.
void PrintEventJson(const pb::JobEvent& e, const std::string& stage_seen, pb::JobState state_seen) {
  auto line = [&e](const char* event) {
    nlohmann::ordered_json j;
    j["event"] = event;
    j["job_id"] = e.job_id();
    j["state"] = pb::JobState_Name(e.state());
    j["sequence"] = e.sequence();
    return j;
  };
  if (e.state() != state_seen) std::cout << line("state").dump() << "\n";
  if (e.stage() != stage_seen) {
    auto j = line("stage");
    j["stage"] = e.stage();
    j["message"] = e.message();
    j["bytes_total"] = e.bytes_total();
    std::cout << j.dump() << "\n";
  }
  if (e.bytes_done() > 0) {
    auto j = line("progress");
    j["stage"] = e.stage();
    j["bytes_done"] = e.bytes_done();
    j["bytes_total"] = e.bytes_total();
    std::cout << j.dump() << "\n";
  }
  if (!e.warning().empty()) {
    auto j = line("warning");
    j["message"] = e.warning();
    std::cout << j.dump() << "\n";
  }
  std::cout.flush();
}

// Relays one event stream to the terminal. Returns the exit code, or
// kExitInterrupted when `guard` saw a Ctrl-C (the stream was cancelled
// locally). `job_id` receives the job's id as soon as an event names it.
// `kind_of` tells the job's kind (events do not carry it) when it is needed.
using KindOf = std::function<pb::JobKind(const std::string& job_id)>;
int FollowStream(grpc::ClientReaderInterface<pb::JobEvent>* reader, bool json, const KindOf& kind_of,
                 const InterruptGuard& guard, std::string* job_id) {
  ProgressPrinter printer(ProgressPrinter::ChooseMode(false));
  pb::JobEvent e, last;
  std::string stage;
  pb::JobState state = pb::JOB_STATE_UNSPECIFIED;
  bool got_final = false;
  while (reader->Read(&e)) {
    if (job_id->empty()) *job_id = e.job_id();
    if (json) {
      PrintEventJson(e, stage, state);
    } else {
      if (e.stage() != stage) printer.OnStage(e.stage(), e.message(), e.bytes_total());
      if (e.bytes_done() > 0) printer.OnBytes(e.bytes_done());
      if (!e.warning().empty()) printer.OnWarning(e.warning());
    }
    stage = e.stage();
    state = e.state();
    if (e.has_result() || e.has_error()) got_final = true;
    last = e;
  }
  printer.Finish();
  grpc::Status status = reader->Finish();
  if (!got_final && guard.interrupted()) return kExitInterrupted;
  // After the final event the stream's status is the job's (the event has
  // it all); before it, the stream broke.
  if (!got_final) {
    const absl::Status error = status.ok() ? absl::InternalError("the stream ended without a result")
                                           : FromGrpcStatus(status);
    if (json) {
      Outcome o;
      o.kind = !job_id->empty() && kind_of(*job_id) == pb::VALIDATE ? "validate" : "export";
      o.job_id = *job_id;
      o.error = error;
      std::cout << OutcomeJson(o).dump() << std::endl;
    }
    if (status.ok()) std::cerr << "error: the stream ended without a result\n";
    return status.ok() ? kExitFailed : ReportRpcError("job stream", status);
  }
  const Outcome o = OutcomeOf(last.job_id(), last.state(), kind_of(last.job_id()),
                              last.has_result() ? &last.result() : nullptr,
                              last.has_error() ? &last.error() : nullptr);
  if (json) {
    std::cout << OutcomeJson(o).dump() << std::endl;
    if (!o.error.ok()) std::cerr << "error: " << o.error.message() << "\n";  // as in-process
  } else {
    PrintOutcomeText(o);
  }
  return ExitCodeFor(o);
}

using StreamStarter = std::function<std::unique_ptr<grpc::ClientReaderInterface<pb::JobEvent>>(
    grpc::ClientContext*)>;

// Follows a job to its end, handling Ctrl-C (see the file comment). `start`
// opens the first stream; after a cancel the job is followed with WatchJob.
// `guard` must have been created before the session connected.
int FollowJob(Session& s, InterruptGuard& guard, const KindOf& kind_of, StreamStarter start) {
  std::string job_id;
  bool cancel_sent = false;
  for (;;) {
    grpc::ClientContext ctx;
    PrepareContext(s.target, &ctx);
    guard.Arm(&ctx);
    auto reader = start(&ctx);
    int rc = FollowStream(reader.get(), s.json(), kind_of, guard, &job_id);
    guard.Disarm();
    if (rc != kExitInterrupted) return rc;
    if (job_id.empty() || cancel_sent) {
      std::cerr << "interrupted\n";
      return kExitInterrupted;
    }
    const bool cancel = s.parsed.Has("cancel-on-interrupt") ||
                        AskYesNo("\nCancel job " + job_id + " on the server?");
    if (!cancel) {
      std::cerr << "job " << job_id << " keeps running on the server; follow it with:\n"
                << "  neobert-export watch " << job_id << " --server " << s.target.server << "\n";
      return kExitInterrupted;
    }
    grpc::ClientContext cctx;
    PrepareUnary(s.target, &cctx);
    pb::CancelJobRequest creq;
    creq.set_job_id(job_id);
    pb::Job job;
    if (grpc::Status st = s.conn.stub->CancelJob(&cctx, creq, &job); !st.ok()) {
      return ReportRpcError("cancel", st);
    }
    std::cerr << "cancel requested for job " << job_id << "; waiting for it to stop\n";
    cancel_sent = true;
    guard.Reset();
    start = [&s, job_id](grpc::ClientContext* c) {
      pb::WatchJobRequest w;
      w.set_job_id(job_id);
      return s.conn.stub->WatchJob(c, w);
    };
  }
}

constexpr char kExportUsage[] =
    "usage: neobert-export export CKPT_DIR --server HOST:PORT [-o DIR] [options]\n"
    "       neobert-export submit CKPT_DIR [-o DIR] [options]\n"
    "  Runs the export on neobert-exportd (export streams progress; submit returns the job id).\n"
    "  -o, --output DIR, --dtype D, --max-shard-size SIZE, --no-pytorch-bin,\n"
    "  --drop-decoder-bias, --prefer-newest-file, --overwrite, --dry-run: as in local export\n"
    "  --no-validate           publish without validating the staged export first (the server\n"
    "                          validates against the checkpoint by default)\n"
    "  --device D              forward-pass device (default: the server's --device policy)\n"
    "  --idempotency-key K     same key → same job\n"
    "  --cancel-on-interrupt   Ctrl-C cancels the job instead of asking\n";

constexpr char kValidateUsage[] =
    "usage: neobert-export validate EXPORT_DIR --server HOST:PORT [--source CKPT_DIR] [--device D]\n"
    "                                [--strict]\n"
    "  Runs the validator (files, config, manifest, strict load, forward passes; with --source,\n"
    "  parity against the checkpoint) on the server and prints every check.\n"
    "  Exit 0: valid; 4: a check failed (the job itself succeeds: its result is the report).\n"
    "  --strict                advisory checks (cosine_sanity) count as failures\n"
    "  --cancel-on-interrupt   Ctrl-C cancels the job instead of asking\n";

// The request of `export --server` / `submit`: the flags through the one
// flags → options function (job_flags.h). Returns -1 to go on, or the exit code.
int BuildExportRequest(const ParsedArgs& parsed, pb::ExportRequest* req) {
  auto o = ExportOptionsFromFlags(parsed, JobMode::kRemote);
  if (!o.ok()) {
    std::cerr << "neobert-export: " << o.status().message() << "\n";
    return kExitUsage;
  }
  *req = ToExportRequest(*o, parsed.Value("idempotency-key").value_or(""));
  return -1;
}

}  // namespace

int RunRemoteExport(const std::vector<std::string>& args) {
  InterruptGuard guard;
  Session s;
  if (int rc = Open(args, ExportFlags(JobMode::kRemote), kExportUsage, 1, &s); rc >= 0) return rc;
  pb::ExportRequest req;
  if (int rc = BuildExportRequest(s.parsed, &req); rc >= 0) return rc;
  return FollowJob(s, guard, [](const std::string&) { return pb::EXPORT; },
                   [&](grpc::ClientContext* ctx) {
    return s.conn.stub->ExportCheckpoint(ctx, req);
  });
}

int RunSubmit(const std::vector<std::string>& args) {
  Session s;
  if (int rc = Open(args, ExportFlags(JobMode::kRemote), kExportUsage, 1, &s); rc >= 0) return rc;
  pb::ExportRequest req;
  if (int rc = BuildExportRequest(s.parsed, &req); rc >= 0) return rc;
  grpc::ClientContext ctx;
  PrepareUnary(s.target, &ctx);
  pb::Job job;
  grpc::Status st = s.conn.stub->SubmitExport(&ctx, req, &job);
  if (!st.ok()) return ReportRpcError("submit", st);
  if (s.json()) {
    std::cout << ToJson(job) << std::endl;
  } else {
    std::cout << job.job_id() << "\n";
  }
  return kExitOk;
}

int RunRemoteValidate(const std::vector<std::string>& args) {
  InterruptGuard guard;
  Session s;
  if (int rc = Open(args, ValidateFlags(JobMode::kRemote), kValidateUsage, 1, &s); rc >= 0) {
    return rc;
  }
  const pb::ValidateRequest req =
      ToValidateRequest(ValidateOptionsFromFlags(s.parsed, JobMode::kRemote));
  return FollowJob(s, guard, [](const std::string&) { return pb::VALIDATE; },
                   [&](grpc::ClientContext* ctx) {
    return s.conn.stub->ValidateExport(ctx, req);
  });
}

int RunWatch(const std::vector<std::string>& args) {
  static constexpr char kUsage[] =
      "usage: neobert-export watch JOB_ID --server HOST:PORT [--cancel-on-interrupt]\n"
      "  Follows a job's progress until it finishes. Ctrl-C asks whether to cancel the job.\n";
  InterruptGuard guard;
  Session s;
  if (int rc = Open(args, FlagSpec{.boolean = {"cancel-on-interrupt"}, .valued = {}, .short_names = {}}, kUsage, 1, &s); rc >= 0) {
    return rc;
  }
  pb::WatchJobRequest req;
  req.set_job_id(s.parsed.positional[0]);
  // Looked up once the stream has ended (a failed lookup: export).
  auto kind_of = [&s](const std::string& id) {
    grpc::ClientContext ctx;
    PrepareUnary(s.target, &ctx);
    pb::GetJobRequest get;
    get.set_job_id(id);
    pb::Job job;
    return s.conn.stub->GetJob(&ctx, get, &job).ok() ? job.kind() : pb::EXPORT;
  };
  return FollowJob(s, guard, kind_of, [&](grpc::ClientContext* ctx) {
    return s.conn.stub->WatchJob(ctx, req);
  });
}

// -o table|wide|json (--json = -o json). Returns "" after printing a usage
// error for anything else.
std::string OutputFormat(const Session& s, const char* usage) {
  const std::string o = s.json() ? "json" : s.parsed.Value("output").value_or("table");
  if (o != "table" && o != "wide" && o != "json") {
    std::cerr << "neobert-export: -o: expected table, wide or json, not '" << o << "'\n" << usage;
    return "";
  }
  return o;
}

int RunJobs(const std::vector<std::string>& args) {
  static constexpr char kUsage[] =
      "usage: neobert-export jobs --server HOST:PORT [--state S] [--checkpoint TEXT]\n"
      "                           [-o table|wide|json]\n"
      "  Lists every job, newest first (page by page; a server may hold many).\n"
      "  S: QUEUED RUNNING SUCCEEDED FAILED CANCELLED INTERRUPTED\n"
      "  -o table (default): id, state, kind, percent, checkpoint -> output (error)\n"
      "  -o wide: also created/finished times and the error's reason; -o json (or --json):\n"
      "  one Job message per line (proto JSON, field names as in export_service.proto)\n";
  Session s;
  if (int rc = Open(args, FlagSpec{.boolean = {}, .valued = {"state", "checkpoint", "output"},
                                   .short_names = {{'o', "output"}}},
                    kUsage, 0, &s);
      rc >= 0) {
    return rc;
  }
  const std::string format = OutputFormat(s, kUsage);
  if (format.empty()) return kExitUsage;
  pb::ListJobsRequest req;
  if (auto st = s.parsed.Value("state")) {
    pb::JobState state;
    if (!pb::JobState_Parse(absl::AsciiStrToUpper(*st), &state)) {
      std::cerr << "neobert-export jobs: unknown state '" << *st << "'\n" << kUsage;
      return kExitUsage;
    }
    req.set_state(state);
  }
  req.set_checkpoint_contains(s.parsed.Value("checkpoint").value_or(""));
  // Each page is printed as it arrives, so a long listing starts at once.
  do {
    grpc::ClientContext ctx;
    PrepareUnary(s.target, &ctx);
    pb::ListJobsResponse resp;
    grpc::Status st = s.conn.stub->ListJobs(&ctx, req, &resp);
    if (!st.ok()) return ReportRpcError("jobs", st);
    for (const auto& j : resp.jobs()) {
      if (format == "json") {
        std::cout << ToJson(j) << "\n";
      } else {
        PrintJobRow(j, format == "wide");
      }
    }
    req.set_page_token(resp.next_page_token());
  } while (!req.page_token().empty());
  std::cout.flush();
  return kExitOk;
}

int RunCancel(const std::vector<std::string>& args) {
  static constexpr char kUsage[] = "usage: neobert-export cancel JOB_ID --server HOST:PORT\n";
  Session s;
  if (int rc = Open(args, FlagSpec{}, kUsage, 1, &s); rc >= 0) return rc;
  grpc::ClientContext ctx;
  PrepareUnary(s.target, &ctx);
  pb::CancelJobRequest req;
  req.set_job_id(s.parsed.positional[0]);
  pb::Job job;
  grpc::Status st = s.conn.stub->CancelJob(&ctx, req, &job);
  if (!st.ok()) return ReportRpcError("cancel", st);
  if (s.json()) {
    std::cout << ToJson(job) << std::endl;
  } else {
    PrintJobRow(job, false);
  }
  return kExitOk;
}

int RunGet(const std::vector<std::string>& args) {
  static constexpr char kUsage[] =
      "usage: neobert-export get JOB_ID --server HOST:PORT [-o text|json]\n"
      "  Prints one job: state, paths, times, and its result or error (with the reason).\n"
      "  -o json (or --json): the Job message (proto JSON). Exit 0 whatever the job's state;\n"
      "  1 for an unknown job.\n";
  Session s;
  if (int rc = Open(args,
                    FlagSpec{.boolean = {}, .valued = {"output"}, .short_names = {{'o', "output"}}},
                    kUsage, 1, &s);
      rc >= 0) {
    return rc;
  }
  const std::string format = s.json() ? "json" : s.parsed.Value("output").value_or("text");
  if (format != "text" && format != "json") {
    std::cerr << "neobert-export get: -o: expected text or json\n" << kUsage;
    return kExitUsage;
  }
  grpc::ClientContext ctx;
  PrepareUnary(s.target, &ctx);
  pb::GetJobRequest req;
  req.set_job_id(s.parsed.positional[0]);
  pb::Job j;
  if (grpc::Status st = s.conn.stub->GetJob(&ctx, req, &j); !st.ok()) return ReportRpcError("get", st);
  if (format == "json") {
    std::cout << ToJson(j) << std::endl;
    return kExitOk;
  }
  std::cout << "job        " << j.job_id() << "\n"
            << "kind       " << (j.kind() == pb::VALIDATE ? "validate" : "export") << "\n"
            << "state      " << pb::JobState_Name(j.state()) << "\n"
            << "stage      " << j.stage() << absl::StrFormat(" (%.1f%%)", j.percent()) << "\n"
            << "input      " << j.checkpoint_dir() << "\n"
            << "output     " << (j.output_dir().empty() ? "-" : j.output_dir()) << "\n"
            << "created    " << Millis(j.created_unix_ms()) << "\n"
            << "finished   " << Millis(j.finished_unix_ms()) << "\n";
  if (!j.idempotency_key().empty()) std::cout << "key        " << j.idempotency_key() << "\n";
  if (j.has_error() && j.error().code() != 0) {
    std::cout << "reason     " << pb::Status::Reason_Name(j.error().reason())
              << (j.error().retryable() ? " (retryable)" : "") << "\n"
              << "error      " << j.error().message() << "\n";
  }
  if (j.has_result()) {
    const Outcome o = OutcomeOf(j.job_id(), j.state(), j.kind(), &j.result(), nullptr);
    for (const auto& n : o.result->notes) std::cout << "note: " << n << "\n";
    for (const auto& w : o.result->warnings) std::cout << "warning: " << w << "\n";
    if (o.result->validation) PrintChecks(*o.result->validation, std::cout);
  }
  return kExitOk;
}

int RunInfo(const std::vector<std::string>& args) {
  static constexpr char kUsage[] =
      "usage: neobert-export info --server HOST:PORT [--json]\n"
      "  What the server is and allows (GetServerInfo): version, roots, device policy, GPUs,\n"
      "  job store, limits.\n";
  Session s;
  if (int rc = Open(args, FlagSpec{}, kUsage, 0, &s); rc >= 0) return rc;
  grpc::ClientContext ctx;
  PrepareUnary(s.target, &ctx);
  pb::ServerInfo info;
  if (grpc::Status st = s.conn.stub->GetServerInfo(&ctx, pb::GetServerInfoRequest(), &info); !st.ok()) {
    return ReportRpcError("info", st);
  }
  if (s.json()) {
    std::cout << ToJson(info) << std::endl;
  } else {
    std::cout << info.DebugString();
  }
  return kExitOk;
}

int RunHealth(const std::vector<std::string>& args) {
  static constexpr char kUsage[] =
      "usage: neobert-export health --server HOST:PORT\n"
      "  Exit 0 when the server is SERVING, 1 when it answers otherwise, 3 when unreachable.\n";
  Session s;
  if (int rc = Open(args, FlagSpec{}, kUsage, 0, &s); rc >= 0) return rc;
  auto health = grpc::health::v1::Health::NewStub(s.conn.channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::seconds(s.target.connect_timeout_s));
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status st = health->Check(&ctx, req, &resp);
  if (!st.ok()) return ReportRpcError("health", st);
  const std::string name = grpc::health::v1::HealthCheckResponse::ServingStatus_Name(resp.status());
  if (s.json()) {
    std::cout << "{\"status\":\"" << name << "\"}" << std::endl;
  } else {
    std::cout << name << "\n";
  }
  return resp.status() == grpc::health::v1::HealthCheckResponse::SERVING ? kExitOk : kExitFailed;
}

}  // namespace neobert::cli
