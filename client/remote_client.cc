#include "client/remote_client.h"

#include <chrono>
#include <cstdlib>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "core/base/fs_root.h"
#include "client/outcome.h"
#include "core/status/error_reason.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace neobert::cli {
namespace {

// The flag's value, else the environment variable's; nullopt when neither.
std::optional<std::string> FlagOrEnv(const ParsedArgs& parsed, const char* flag, const char* env) {
  if (auto v = parsed.Value(flag)) return v;
  if (const char* e = std::getenv(env); e && *e) return std::string(e);
  return std::nullopt;
}

// A small regular file (through the door: a FIFO must not hang the CLI).
bool ReadFile(const std::string& path, const char* what, std::string* out) {
  auto text = base::FsRoot::Unconfined().ReadFile(path, 1 << 20);
  if (!text.ok()) {
    std::cerr << "neobert-export: cannot read " << what << " '" << path
              << "': " << text.status().message() << "\n";
    return false;
  }
  *out = *std::move(text);
  return true;
}

// The first token of a token file in the server's format (one per line,
// blank lines and '#' comments skipped), so one file can serve both.
std::string FirstToken(absl::string_view text) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!line.empty() && line[0] != '#') return std::string(line);
  }
  return "";
}

}  // namespace

const char kRemoteFlagsHelp[] =
    "  --server HOST:PORT      neobert-exportd address (default: $NEOBERT_EXPORT_SERVER)\n"
    "  --token-file FILE       send 'authorization: Bearer <token>' ($NEOBERT_EXPORT_TOKEN_FILE)\n"
    "  --tls-ca FILE           use TLS; trust this PEM CA for the server ($NEOBERT_EXPORT_TLS_CA)\n"
    "  --tls-cert FILE         client certificate for mTLS (with --tls-key)\n"
    "  --tls-key FILE          private key of --tls-cert\n"
    "  --connect-timeout S     give up on an unreachable server after S seconds (default 5)\n"
    "  --timeout S             deadline of a unary call (submit, get, jobs, cancel, info;\n"
    "                          default 30); a call past it exits 3\n"
    "  --json                  JSON lines on stdout\n";

void AddRemoteFlags(FlagSpec* spec) {
  spec->boolean.insert({"help", "json"});
  spec->valued.insert(
      {"server", "token-file", "connect-timeout", "timeout", "tls-ca", "tls-cert", "tls-key"});
  spec->short_names['h'] = "help";
}

std::optional<std::string> ServerFromEnv() {
  const char* env = std::getenv("NEOBERT_EXPORT_SERVER");
  if (env && *env) return std::string(env);
  return std::nullopt;
}

int ResolveTarget(const ParsedArgs& parsed, RemoteTarget* target) {
  auto server = FlagOrEnv(parsed, "server", "NEOBERT_EXPORT_SERVER");
  if (!server) {
    std::cerr << "neobert-export: no server: pass --server or set NEOBERT_EXPORT_SERVER\n";
    return kExitUsage;
  }
  target->server = *server;
  if (auto t = parsed.Value("connect-timeout")) {
    if (!absl::SimpleAtoi(*t, &target->connect_timeout_s) || target->connect_timeout_s < 1) {
      std::cerr << "neobert-export: bad --connect-timeout '" << *t << "'\n";
      return kExitUsage;
    }
  }
  if (auto t = parsed.Value("timeout")) {
    if (!absl::SimpleAtoi(*t, &target->timeout_s) || target->timeout_s < 1) {
      std::cerr << "neobert-export: bad --timeout '" << *t << "'\n";
      return kExitUsage;
    }
  }
  if (auto file = FlagOrEnv(parsed, "token-file", "NEOBERT_EXPORT_TOKEN_FILE")) {
    std::string token;
    if (!ReadFile(*file, "token file", &token)) return kExitUsage;
    target->token = FirstToken(token);
  }
  if (auto ca = FlagOrEnv(parsed, "tls-ca", "NEOBERT_EXPORT_TLS_CA")) {
    if (!ReadFile(*ca, "--tls-ca", &target->tls_ca_pem)) return kExitUsage;
  }
  auto cert = parsed.Value("tls-cert");
  auto key = parsed.Value("tls-key");
  if (cert.has_value() != key.has_value() || (cert && target->tls_ca_pem.empty())) {
    std::cerr << "neobert-export: --tls-cert and --tls-key go together, and need --tls-ca\n";
    return kExitUsage;
  }
  if (cert && (!ReadFile(*cert, "--tls-cert", &target->tls_cert_pem) ||
               !ReadFile(*key, "--tls-key", &target->tls_key_pem))) {
    return kExitUsage;
  }
  return -1;
}

int Connect(const RemoteTarget& target, Connection* out) {
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  if (!target.tls_ca_pem.empty()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = target.tls_ca_pem;
    ssl.pem_cert_chain = target.tls_cert_pem;
    ssl.pem_private_key = target.tls_key_pem;
    creds = grpc::SslCredentials(ssl);
  }
  out->channel = grpc::CreateChannel(target.server, creds);
  const auto deadline =
      std::chrono::system_clock::now() + std::chrono::seconds(target.connect_timeout_s);
  if (!out->channel->WaitForConnected(deadline)) {
    std::cerr << "error: cannot reach neobert-exportd at " << target.server << " (waited "
              << target.connect_timeout_s << " s"
              << (target.tls_ca_pem.empty() ? "" : "; TLS handshake included") << ")\n";
    return kExitUnreachable;
  }
  out->stub = pb::ExportService::NewStub(out->channel);
  return kExitOk;
}

void PrepareContext(const RemoteTarget& target, grpc::ClientContext* ctx) {
  if (!target.token.empty()) ctx->AddMetadata("authorization", "Bearer " + target.token);
}

void PrepareUnary(const RemoteTarget& target, grpc::ClientContext* ctx) {
  PrepareContext(target, ctx);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(target.timeout_s));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status out(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  google::rpc::Status details;
  if (status.error_details().empty() || !details.ParseFromString(status.error_details())) return out;
  for (const auto& any : details.details()) {
    google::rpc::ErrorInfo info;
    google::rpc::RetryInfo retry;
    if (any.UnpackTo(&info)) {
      if (auto reason = core::ErrorReasonFromName(info.reason())) {
        core::ErrorMetadata md(info.metadata().begin(), info.metadata().end());
        md.erase("retryable");  // derived from the reason again
        out = core::WithReason(out, *reason, md);
      }
    } else if (any.UnpackTo(&retry)) {
      out = core::WithRetryDelay(out, absl::Seconds(retry.retry_delay().seconds()) +
                                          absl::Nanoseconds(retry.retry_delay().nanos()));
    }
  }
  return out;
}

absl::Status FromProto(const pb::Status& status) {
  if (status.code() == 0) return absl::OkStatus();
  absl::Status out(static_cast<absl::StatusCode>(status.code()), status.message());
  if (auto reason = core::ErrorReasonFromName(pb::Status::Reason_Name(status.reason()))) {
    core::ErrorMetadata md(status.metadata().begin(), status.metadata().end());
    md.erase("retryable");
    out = core::WithReason(out, *reason, md);
  }
  if (status.has_retry_delay()) {
    out = core::WithRetryDelay(out, absl::Seconds(status.retry_delay().seconds()) +
                                        absl::Nanoseconds(status.retry_delay().nanos()));
  }
  return out;
}

pb::ExportRequest ToExportRequest(const core::ExportOptions& o, const std::string& idempotency_key) {
  pb::ExportRequest req;
  req.set_checkpoint_dir(o.checkpoint_dir);
  req.set_output_dir(o.output_dir);
  req.set_dtype(o.dtype);
  req.set_max_shard_bytes(o.max_shard_bytes);
  req.set_write_pytorch_bin(o.write_pytorch_bin);
  req.set_overwrite(o.overwrite);
  req.set_dry_run(o.dry_run);
  req.set_drop_decoder_bias(o.drop_decoder_bias);
  req.set_prefer_newest_file(o.prefer_newest_file);
  req.set_validate(o.validate);
  req.set_device(o.device);
  req.set_idempotency_key(idempotency_key);
  return req;
}

pb::ValidateRequest ToValidateRequest(const core::ValidateOptions& o) {
  pb::ValidateRequest req;
  req.set_export_dir(o.export_dir);
  req.set_source_dir(o.source_dir);
  req.set_device(o.device);
  req.set_strict(o.strict);
  return req;
}

core::ExportResult FromProto(const pb::JobResult& p) {
  core::ExportResult r;
  r.output_dir = p.output_dir();
  r.skipped = p.skipped();
  r.dry_run = p.dry_run();
  r.weights_file = p.weights_file();
  r.weights_format = p.weights_format();
  r.dtype = p.dtype();
  r.decoder_bias = p.decoder_bias();
  r.tied_decoder = p.tied_decoder();
  r.tensor_count = p.tensor_count();
  r.tensor_bytes = p.tensor_bytes();
  for (const auto& f : p.files()) r.files.push_back({f.name(), f.size(), f.sha256()});
  r.notes.assign(p.notes().begin(), p.notes().end());
  r.warnings.assign(p.warnings().begin(), p.warnings().end());
  r.mapping.assign(p.mapping().begin(), p.mapping().end());
  r.sanity_device = p.device();
  r.sanity_seconds = p.sanity_seconds();
  if (p.checks_size() > 0 || p.has_passed()) {
    r.validation.emplace();
    r.validation->export_dir = p.output_dir();
    for (const auto& c : p.checks()) {
      r.validation->checks.push_back({c.name(), c.passed(), c.detail(), c.advisory()});
    }
  }
  r.seconds = p.seconds();
  return r;
}

int ReportRpcError(const std::string& what, const grpc::Status& status) {
  const absl::Status s = FromGrpcStatus(status);
  std::cerr << "error: " << what << ": " << status.error_message() << " ("
            << absl::StatusCodeToString(s.code()) << ", "
            << core::ErrorReasonName(core::ReasonOf(s)) << ")\n";
  return ExitCodeForStatus(s);
}

}  // namespace neobert::cli
