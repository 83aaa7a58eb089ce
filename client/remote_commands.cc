// The client-mode subcommands: export/validate (streaming), submit, watch,
// jobs, cancel, health. Paths are made absolute here because the server has
// its own working directory.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "client/cli_args.h"
#include "client/export_command.h"
#include "client/progress_printer.h"
#include "client/remote_client.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace neobert::cli {
namespace {

constexpr char kCommonHelp[] =
    "  --server HOST:PORT      neobert-exportd address (default: $NEOBERT_EXPORT_SERVER)\n"
    "  --token-file FILE       send 'authorization: Bearer <token>' ($NEOBERT_EXPORT_TOKEN_FILE)\n"
    "  --connect-timeout S     give up on an unreachable server after S seconds (default 5)\n"
    "  --json                  JSON lines on stdout\n";

void AddCommonFlags(FlagSpec* spec) {
  spec->boolean.insert({"help", "json"});
  spec->valued.insert({"server", "token-file", "connect-timeout"});
  spec->short_names['h'] = "help";
}

// Parses, resolves the target; returns -1 to continue or an exit code.
int Prepare(const std::vector<std::string>& args, const FlagSpec& spec, const char* usage,
            size_t positionals, ParsedArgs* parsed, RemoteTarget* target) {
  auto p = ParseArgs(args, spec);
  if (!p.ok() || p->Has("help") || p->positional.size() != positionals) {
    if (!p.ok()) std::cerr << "neobert-export: " << p.status().message() << "\n";
    std::cerr << usage << kCommonHelp;
    return p.ok() && p->Has("help") ? kExitOk : kExitUsage;
  }
  *parsed = std::move(*p);
  auto server = parsed->Value("server");
  if (!server) server = ServerFromEnv();
  if (!server) {
    std::cerr << "neobert-export: no server: pass --server or set NEOBERT_EXPORT_SERVER\n";
    return kExitUsage;
  }
  target->server = *server;
  if (auto t = parsed->Value("connect-timeout")) {
    if (!absl::SimpleAtoi(*t, &target->connect_timeout_s) || target->connect_timeout_s < 1) {
      std::cerr << "neobert-export: bad --connect-timeout '" << *t << "'\n";
      return kExitUsage;
    }
  }
  auto token_file = parsed->Value("token-file");
  if (!token_file) {
    if (const char* env = std::getenv("NEOBERT_EXPORT_TOKEN_FILE"); env && *env) token_file = env;
  }
  if (token_file) {
    std::ifstream in(*token_file, std::ios::binary);
    if (!in) {
      std::cerr << "neobert-export: cannot read token file '" << *token_file << "'\n";
      return kExitUsage;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    target->token = std::string(absl::StripAsciiWhitespace(ss.str()));
  }
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

// Relays a job's event stream to the terminal; returns the exit code.
int FollowStream(grpc::ClientReaderInterface<pb::JobEvent>* reader, bool json) {
  ProgressPrinter printer(ProgressPrinter::ChooseMode(json));
  pb::JobEvent e, last;
  std::string stage;
  bool got_final = false;
  while (reader->Read(&e)) {
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
  if (!json) {
    const auto& r = last.result();
    for (const auto& n : r.notes()) std::cout << "note: " << n << "\n";
    for (const auto& w : r.warnings()) std::cout << "warning: " << w << "\n";
    uint64_t total = 0;
    for (const auto& f : r.files()) total += f.size();
    std::cout << absl::StrFormat("job %s succeeded: %s\n  %d files, %.1f MiB, %.2f s\n",
                                 last.job_id(), r.output_dir(), r.files_size(),
                                 static_cast<double>(total) / (1 << 20), r.seconds());
  }
  return kExitOk;
}

constexpr char kExportUsage[] =
    "usage: neobert-export export CKPT_DIR --server HOST:PORT [-o DIR] [options]\n"
    "       neobert-export submit CKPT_DIR [-o DIR] [options]\n"
    "  Runs the export on neobert-exportd (export streams progress; submit returns the job id).\n"
    "  -o, --output DIR, --dtype D, --max-shard-size SIZE, --no-pytorch-bin,\n"
    "  --drop-decoder-bias, --prefer-newest-file, --overwrite, --dry-run: as in local export\n"
    "  --idempotency-key K     same key → same job\n";

int BuildExportRequest(const std::vector<std::string>& args, ParsedArgs* parsed, RemoteTarget* target,
                       pb::ExportRequest* req) {
  FlagSpec spec{.boolean = {"no-pytorch-bin", "drop-decoder-bias", "overwrite", "dry-run",
                            "prefer-newest-file"},
                .valued = {"output", "dtype", "max-shard-size", "idempotency-key"},
                .short_names = {{'o', "output"}}};
  AddCommonFlags(&spec);
  int rc = Prepare(args, spec, kExportUsage, 1, parsed, target);
  if (rc >= 0) return rc;
  req->set_checkpoint_dir(Absolute(parsed->positional[0]));
  req->set_output_dir(Absolute(parsed->Value("output").value_or("")));
  req->set_dtype(parsed->Value("dtype").value_or("keep"));
  req->set_write_pytorch_bin(!parsed->Has("no-pytorch-bin"));
  req->set_drop_decoder_bias(parsed->Has("drop-decoder-bias"));
  req->set_overwrite(parsed->Has("overwrite"));
  req->set_dry_run(parsed->Has("dry-run"));
  req->set_prefer_newest_file(parsed->Has("prefer-newest-file"));
  req->set_idempotency_key(parsed->Value("idempotency-key").value_or(""));
  if (auto s = parsed->Value("max-shard-size")) {
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
  ParsedArgs parsed;
  RemoteTarget target;
  pb::ExportRequest req;
  if (int rc = BuildExportRequest(args, &parsed, &target, &req); rc >= 0) return rc;
  Connection conn;
  if (int rc = Connect(target, &conn); rc != kExitOk) return rc;
  grpc::ClientContext ctx;
  PrepareContext(target, &ctx);
  auto reader = conn.stub->ExportCheckpoint(&ctx, req);
  return FollowStream(reader.get(), parsed.Has("json"));
}

int RunSubmit(const std::vector<std::string>& args) {
  ParsedArgs parsed;
  RemoteTarget target;
  pb::ExportRequest req;
  if (int rc = BuildExportRequest(args, &parsed, &target, &req); rc >= 0) return rc;
  Connection conn;
  if (int rc = Connect(target, &conn); rc != kExitOk) return rc;
  grpc::ClientContext ctx;
  PrepareContext(target, &ctx);
  pb::Job job;
  grpc::Status s = conn.stub->SubmitExport(&ctx, req, &job);
  if (!s.ok()) return ReportRpcError("submit", s);
  if (parsed.Has("json")) {
    std::cout << ToJson(job) << std::endl;
  } else {
    std::cout << job.job_id() << "\n";
  }
  return kExitOk;
}

int RunRemoteValidate(const std::vector<std::string>& args) {
  static constexpr char kUsage[] =
      "usage: neobert-export validate EXPORT_DIR --server HOST:PORT\n"
      "  Checks an export folder on the server (manifest sizes and sha256, required files).\n";
  FlagSpec spec;
  AddCommonFlags(&spec);
  ParsedArgs parsed;
  RemoteTarget target;
  if (int rc = Prepare(args, spec, kUsage, 1, &parsed, &target); rc >= 0) return rc;
  Connection conn;
  if (int rc = Connect(target, &conn); rc != kExitOk) return rc;
  grpc::ClientContext ctx;
  PrepareContext(target, &ctx);
  pb::ValidateRequest req;
  req.set_export_dir(Absolute(parsed.positional[0]));
  auto reader = conn.stub->ValidateExport(&ctx, req);
  return FollowStream(reader.get(), parsed.Has("json"));
}

int RunWatch(const std::vector<std::string>& args) {
  static constexpr char kUsage[] =
      "usage: neobert-export watch JOB_ID --server HOST:PORT\n"
      "  Follows a job's progress until it finishes (Ctrl-C leaves the job running).\n";
  FlagSpec spec;
  AddCommonFlags(&spec);
  ParsedArgs parsed;
  RemoteTarget target;
  if (int rc = Prepare(args, spec, kUsage, 1, &parsed, &target); rc >= 0) return rc;
  Connection conn;
  if (int rc = Connect(target, &conn); rc != kExitOk) return rc;
  grpc::ClientContext ctx;
  PrepareContext(target, &ctx);
  pb::WatchJobRequest req;
  req.set_job_id(parsed.positional[0]);
  auto reader = conn.stub->WatchJob(&ctx, req);
  return FollowStream(reader.get(), parsed.Has("json"));
}

int RunJobs(const std::vector<std::string>& args) {
  static constexpr char kUsage[] =
      "usage: neobert-export jobs --server HOST:PORT [--state S] [--checkpoint TEXT]\n"
      "  Lists jobs, oldest first. S: QUEUED RUNNING SUCCEEDED FAILED CANCELLED INTERRUPTED\n";
  FlagSpec spec;
  spec.valued = {"state", "checkpoint"};
  AddCommonFlags(&spec);
  ParsedArgs parsed;
  RemoteTarget target;
  if (int rc = Prepare(args, spec, kUsage, 0, &parsed, &target); rc >= 0) return rc;
  pb::ListJobsRequest req;
  if (auto s = parsed.Value("state")) {
    pb::JobState st;
    if (!pb::JobState_Parse(absl::AsciiStrToUpper(*s), &st)) {
      std::cerr << "neobert-export jobs: unknown state '" << *s << "'\n" << kUsage;
      return kExitUsage;
    }
    req.set_state(st);
  }
  req.set_checkpoint_contains(parsed.Value("checkpoint").value_or(""));
  Connection conn;
  if (int rc = Connect(target, &conn); rc != kExitOk) return rc;
  grpc::ClientContext ctx;
  PrepareContext(target, &ctx);
  pb::ListJobsResponse resp;
  grpc::Status s = conn.stub->ListJobs(&ctx, req, &resp);
  if (!s.ok()) return ReportRpcError("jobs", s);
  for (const auto& j : resp.jobs()) {
    if (parsed.Has("json")) {
      std::cout << ToJson(j) << "\n";
    } else {
      PrintJob(j);
    }
  }
  std::cout.flush();
  return kExitOk;
}

int RunCancel(const std::vector<std::string>& args) {
  static constexpr char kUsage[] = "usage: neobert-export cancel JOB_ID --server HOST:PORT\n";
  FlagSpec spec;
  AddCommonFlags(&spec);
  ParsedArgs parsed;
  RemoteTarget target;
  if (int rc = Prepare(args, spec, kUsage, 1, &parsed, &target); rc >= 0) return rc;
  Connection conn;
  if (int rc = Connect(target, &conn); rc != kExitOk) return rc;
  grpc::ClientContext ctx;
  PrepareContext(target, &ctx);
  pb::CancelJobRequest req;
  req.set_job_id(parsed.positional[0]);
  pb::Job job;
  grpc::Status s = conn.stub->CancelJob(&ctx, req, &job);
  if (!s.ok()) return ReportRpcError("cancel", s);
  if (parsed.Has("json")) {
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
  FlagSpec spec;
  AddCommonFlags(&spec);
  ParsedArgs parsed;
  RemoteTarget target;
  if (int rc = Prepare(args, spec, kUsage, 0, &parsed, &target); rc >= 0) return rc;
  Connection conn;
  if (int rc = Connect(target, &conn); rc != kExitOk) return rc;
  auto health = grpc::health::v1::Health::NewStub(conn.channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(target.connect_timeout_s));
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status s = health->Check(&ctx, req, &resp);
  if (!s.ok()) return ReportRpcError("health", s);
  const std::string name = grpc::health::v1::HealthCheckResponse::ServingStatus_Name(resp.status());
  if (parsed.Has("json")) {
    std::cout << "{\"status\":\"" << name << "\"}" << std::endl;
  } else {
    std::cout << name << "\n";
  }
  return resp.status() == grpc::health::v1::HealthCheckResponse::SERVING ? kExitOk : kExitFailed;
}

}  // namespace neobert::cli
