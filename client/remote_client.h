// The RPC side of neobert-export: talking to neobert-exportd.
//
// The server address comes from --server or NEOBERT_EXPORT_SERVER; a bearer
// token from --token-file (or NEOBERT_EXPORT_TOKEN_FILE); TLS from --tls-ca
// (or NEOBERT_EXPORT_TLS_CA), plus --tls-cert/--tls-key for a server that
// requires client certificates (mTLS). A server that does not answer within
// --connect-timeout seconds (default 5) is exit code 3; so is a unary call
// (submit, get, jobs, cancel, info) that gets no answer within --timeout
// seconds (default 30). Streams (export, validate, watch) have no deadline:
// a job may run for hours.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/cli_args.h"
#include "core/export/exporter.h"
#include "grpcpp/grpcpp.h"
#include "neobert/exporter/v1/export_service.grpc.pb.h"

namespace neobert::cli {

namespace pb = ::neobert::exporter::v1;

struct RemoteTarget {
  std::string server;
  std::string token;  // empty: no authorization metadata
  int connect_timeout_s = 5;
  int timeout_s = 30;  // deadline of unary calls
  std::string tls_ca_pem;    // non-empty: TLS, server verified against this CA
  std::string tls_cert_pem;  // client certificate chain (mTLS)
  std::string tls_key_pem;   // its private key
};

// The flags every client-mode subcommand takes, and their help text.
void AddRemoteFlags(FlagSpec* spec);
extern const char kRemoteFlagsHelp[];

// Fills `target` from the parsed flags and the environment. Returns -1 to go
// on, or the exit code (with a message printed).
int ResolveTarget(const ParsedArgs& parsed, RemoteTarget* target);

// A channel that is connected, or the exit code to return (with a message
// already printed): kExitUnreachable when nothing answers.
struct Connection {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::ExportService::Stub> stub;
};
int Connect(const RemoteTarget& target, Connection* out);

// Sets the authorization metadata and nothing else (streaming calls).
void PrepareContext(const RemoteTarget& target, grpc::ClientContext* ctx);
// The same plus the deadline of a unary call (--timeout).
void PrepareUnary(const RemoteTarget& target, grpc::ClientContext* ctx);

// A failed call's status with its reason, read from the
// grpc-status-details-bin trailer (google.rpc.Status holding a
// google.rpc.ErrorInfo and maybe a RetryInfo); without details, the
// code's default reason (a transport failure: UNAVAILABLE, i.e. DRAINING).
absl::Status FromGrpcStatus(const grpc::Status& status);
// A job's options as a request (the inverse of the server's
// ExportOptionsFromProto / ValidateOptionsFromProto; the options come from
// job_flags.h). Roots, fsync and the sanity pass are the server's: not sent.
pb::ExportRequest ToExportRequest(const core::ExportOptions& o, const std::string& idempotency_key);
pb::ValidateRequest ToValidateRequest(const core::ValidateOptions& o);

// A job's error and result as the server sent them.
absl::Status FromProto(const pb::Status& status);
core::ExportResult FromProto(const pb::JobResult& result);

// Prints "error: <what>: <message> (<CODE>, <REASON>)" and returns the exit
// code of the error's class (cli_args.h).
int ReportRpcError(const std::string& what, const grpc::Status& status);

// The --server value, else NEOBERT_EXPORT_SERVER; nullopt when neither.
std::optional<std::string> ServerFromEnv();

// Subcommands run against a server; each returns the exit code.
int RunRemoteExport(const std::vector<std::string>& args);
int RunRemoteValidate(const std::vector<std::string>& args);
int RunSubmit(const std::vector<std::string>& args);
int RunWatch(const std::vector<std::string>& args);
int RunJobs(const std::vector<std::string>& args);
int RunCancel(const std::vector<std::string>& args);
int RunHealth(const std::vector<std::string>& args);
int RunGet(const std::vector<std::string>& args);
int RunInfo(const std::vector<std::string>& args);

}  // namespace neobert::cli
