#include "client/remote_client.h"

#include <chrono>
#include <cstdlib>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "core/base/fs_root.h"

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
    "  --json                  JSON lines on stdout\n";

void AddRemoteFlags(FlagSpec* spec) {
  spec->boolean.insert({"help", "json"});
  spec->valued.insert({"server", "token-file", "connect-timeout", "tls-ca", "tls-cert", "tls-key"});
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

int ReportRpcError(const std::string& what, const grpc::Status& status) {
  std::cerr << "error: " << what << ": " << status.error_message() << " (code "
            << status.error_code() << ")\n";
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ? kExitUnreachable : kExitFailed;
}

}  // namespace neobert::cli
