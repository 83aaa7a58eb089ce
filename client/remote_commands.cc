// The client-mode subcommands: export/validate (streaming), submit, watch,
// jobs, cancel, health. Paths are made absolute here because the server has
// its own working directory.
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
#include "client/cli_args.h"
#include "client/export_command.h"
#include "client/interrupt.h"
#include "client/progress_printer.h"
#include "client/remote_client.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/health/v1/health.grpc.pb.h"

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

std::string Absolute(const std::string& path) {
  if (path.empty()) return path;
  std::error_code ec;
  auto p = std::filesystem::absolute(path, ec);
  return ec ? path : p.lexically_normal().string();
}

void PrintJob(const pb::Job& j) {
  std::cout << absl::StrFormat("%-22s %-11s %-8s %5.1f%%  %s", j.job_id(),
                               pb::JobState_Name(j.state()), j.kind() == pb::VALIDATE ? "validate" : "export",
                               j.percent(), j.checkpoint_dir());
  if (!j.output_dir().empty()) std::cout << " -> " << j.output_dir();
  if (j.has_error() && j.error().code() != 0) std::cout << "  (" << j.error().message() << ")";
  std::cout << "\n";
}

void PrintResult(const pb::JobEvent& last) {
  const auto& r = last.result();
  for (const auto& n : r.notes()) std::cout << "note: " << n << "\n";
  for (const auto& w : r.warnings()) std::cout << "warning: " << w << "\n";
  for (const auto& c : r.checks()) {
    std::cout << (c.passed() ? "PASS  " : c.advisory() ? "WARN  " : "FAIL  ") << c.name() << ": "
              << c.detail() << "\n";
  }
  uint64_t total = 0;
  for (const auto& f : r.files()) total += f.size();
  std::cout << absl::StrFormat("job %s succeeded: %s\n  %d files, %.1f MiB, %.2f s", last.job_id(),
                               r.output_dir(), r.files_size(),
                               static_cast<double>(total) / (1 << 20), r.seconds());
  if (!r.device().empty()) std::cout << ", forward passes on " << r.device();
  std::cout << "\n";
}

// Relays one event stream to the terminal. Returns the exit code, or
// kExitInterrupted when `guard` saw a Ctrl-C (the stream was cancelled
// locally). `job_id` receives the job's id as soon as an event names it.
int FollowStream(grpc::ClientReaderInterface<pb::JobEvent>* reader, bool json,
                 const InterruptGuard& guard, std::string* job_id) {
  ProgressPrinter printer(ProgressPrinter::ChooseMode(json));
  pb::JobEvent e, last;
  std::string stage;
  bool got_final = false;
  while (reader->Read(&e)) {
    if (job_id->empty()) *job_id = e.job_id();
    if (json) {
      std::cout << ToJson(e) << std::endl;
    } else {
      if (e.stage() != stage) {
        stage = e.stage();
        printer.OnStage(stage, e.message(), e.bytes_total());
      }
      if (e.bytes_done() > 0) printer.OnBytes(e.bytes_done());
      if (!e.warning().empty()) printer.OnWarning(e.warning());
    }
    if (e.has_result() || e.has_error()) got_final = true;
    last = e;
  }
  printer.Finish();
  grpc::Status status = reader->Finish();
  if (!got_final && guard.interrupted()) return kExitInterrupted;
  if (!status.ok()) return ReportRpcError("job stream", status);
  if (!got_final) {
    std::cerr << "error: the stream ended without a result\n";
    return kExitFailed;
  }
  if (last.state() != pb::SUCCEEDED) {
    if (!json) {
      std::cerr << "job " << last.job_id() << " " << pb::JobState_Name(last.state()) << ": "
                << last.error().message() << "\n";
    }
    return kExitFailed;
  }
  if (!json) PrintResult(last);
  return kExitOk;
}

using StreamStarter = std::function<std::unique_ptr<grpc::ClientReaderInterface<pb::JobEvent>>(
    grpc::ClientContext*)>;

// Follows a job to its end, handling Ctrl-C (see the file comment). `start`
// opens the first stream; after a cancel the job is followed with WatchJob.
// `guard` must have been created before the session connected.
int FollowJob(Session& s, InterruptGuard& guard, StreamStarter start) {
  std::string job_id;
  bool cancel_sent = false;
  for (;;) {
    grpc::ClientContext ctx;
    PrepareContext(s.target, &ctx);
    guard.Arm(&ctx);
    auto reader = start(&ctx);
    int rc = FollowStream(reader.get(), s.json(), guard, &job_id);
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
    PrepareContext(s.target, &cctx);
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
    "  Runs the validator (files, config, manifest, strict load, forward passes; with --source,\n"
    "  parity against the checkpoint) on the server and prints every check.\n"
    "  --cancel-on-interrupt   Ctrl-C cancels the job instead of asking\n";

FlagSpec ExportFlags() {
  return FlagSpec{.boolean = {"no-pytorch-bin", "drop-decoder-bias", "overwrite", "dry-run",
                              "prefer-newest-file", "validate", "no-validate",
                              "cancel-on-interrupt"},
                  .valued = {"output", "dtype", "max-shard-size", "idempotency-key", "device"},
                  .short_names = {{'o', "output"}}};
}

// Returns -1 to go on, or the exit code.
int BuildExportRequest(const ParsedArgs& parsed, pb::ExportRequest* req) {
  req->set_checkpoint_dir(Absolute(parsed.positional[0]));
  req->set_output_dir(Absolute(parsed.Value("output").value_or("")));
  req->set_dtype(parsed.Value("dtype").value_or("keep"));
  req->set_write_pytorch_bin(!parsed.Has("no-pytorch-bin"));
  req->set_drop_decoder_bias(parsed.Has("drop-decoder-bias"));
  req->set_overwrite(parsed.Has("overwrite"));
  req->set_dry_run(parsed.Has("dry-run"));
  req->set_prefer_newest_file(parsed.Has("prefer-newest-file"));
  req->set_idempotency_key(parsed.Value("idempotency-key").value_or(""));
  req->set_device(parsed.Value("device").value_or(""));
  if (parsed.Has("validate") && parsed.Has("no-validate")) {
    std::cerr << "neobert-export: --validate and --no-validate contradict each other\n";
    return kExitUsage;
  }
  req->set_validate(!parsed.Has("no-validate"));
  if (auto s = parsed.Value("max-shard-size")) {
    req->set_max_shard_bytes(ParseByteSize(*s));
    if (req->max_shard_bytes() == 0) {
      std::cerr << "neobert-export: invalid --max-shard-size '" << *s << "'\n";
      return kExitUsage;
    }
  }
  return -1;
}

}  // namespace

int RunRemoteExport(const std::vector<std::string>& args) {
  InterruptGuard guard;
  Session s;
  if (int rc = Open(args, ExportFlags(), kExportUsage, 1, &s); rc >= 0) return rc;
  pb::ExportRequest req;
  if (int rc = BuildExportRequest(s.parsed, &req); rc >= 0) return rc;
  return FollowJob(s, guard, [&](grpc::ClientContext* ctx) {
    return s.conn.stub->ExportCheckpoint(ctx, req);
  });
}

int RunSubmit(const std::vector<std::string>& args) {
  Session s;
  if (int rc = Open(args, ExportFlags(), kExportUsage, 1, &s); rc >= 0) return rc;
  pb::ExportRequest req;
  if (int rc = BuildExportRequest(s.parsed, &req); rc >= 0) return rc;
  grpc::ClientContext ctx;
  PrepareContext(s.target, &ctx);
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
  FlagSpec spec{.boolean = {"cancel-on-interrupt"}, .valued = {"source", "device"}};
  if (int rc = Open(args, spec, kValidateUsage, 1, &s); rc >= 0) return rc;
  pb::ValidateRequest req;
  req.set_export_dir(Absolute(s.parsed.positional[0]));
  req.set_source_dir(Absolute(s.parsed.Value("source").value_or("")));
  req.set_device(s.parsed.Value("device").value_or(""));
  return FollowJob(s, guard, [&](grpc::ClientContext* ctx) {
    return s.conn.stub->ValidateExport(ctx, req);
  });
}

int RunWatch(const std::vector<std::string>& args) {
  static constexpr char kUsage[] =
      "usage: neobert-export watch JOB_ID --server HOST:PORT [--cancel-on-interrupt]\n"
      "  Follows a job's progress until it finishes. Ctrl-C asks whether to cancel the job.\n";
  InterruptGuard guard;
  Session s;
  if (int rc = Open(args, FlagSpec{.boolean = {"cancel-on-interrupt"}}, kUsage, 1, &s); rc >= 0) {
    return rc;
  }
  pb::WatchJobRequest req;
  req.set_job_id(s.parsed.positional[0]);
  return FollowJob(s, guard, [&](grpc::ClientContext* ctx) {
    return s.conn.stub->WatchJob(ctx, req);
  });
}

int RunJobs(const std::vector<std::string>& args) {
  static constexpr char kUsage[] =
      "usage: neobert-export jobs --server HOST:PORT [--state S] [--checkpoint TEXT]\n"
      "  Lists every job, newest first (page by page; a server may hold many).\n"
      "  S: QUEUED RUNNING SUCCEEDED FAILED CANCELLED INTERRUPTED\n";
  Session s;
  if (int rc = Open(args, FlagSpec{.valued = {"state", "checkpoint"}}, kUsage, 0, &s); rc >= 0) {
    return rc;
  }
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
    PrepareContext(s.target, &ctx);
    pb::ListJobsResponse resp;
    grpc::Status st = s.conn.stub->ListJobs(&ctx, req, &resp);
    if (!st.ok()) return ReportRpcError("jobs", st);
    for (const auto& j : resp.jobs()) {
      if (s.json()) {
        std::cout << ToJson(j) << "\n";
      } else {
        PrintJob(j);
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
  PrepareContext(s.target, &ctx);
  pb::CancelJobRequest req;
  req.set_job_id(s.parsed.positional[0]);
  pb::Job job;
  grpc::Status st = s.conn.stub->CancelJob(&ctx, req, &job);
  if (!st.ok()) return ReportRpcError("cancel", st);
  if (s.json()) {
    std::cout << ToJson(job) << std::endl;
  } else {
    PrintJob(job);
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
