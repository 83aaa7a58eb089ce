#include "client/remote_client.h"

#include <chrono>
#include <cstdlib>
#include <iostream>

#include "client/cli_args.h"

namespace neobert::cli {

std::optional<std::string> ServerFromEnv() {
  const char* env = std::getenv("NEOBERT_EXPORT_SERVER");
  if (env && *env) return std::string(env);
  return std::nullopt;
}

int Connect(const RemoteTarget& target, Connection* out) {
  out->channel = grpc::CreateChannel(target.server, grpc::InsecureChannelCredentials());
  const auto deadline =
      std::chrono::system_clock::now() + std::chrono::seconds(target.connect_timeout_s);
  if (!out->channel->WaitForConnected(deadline)) {
    std::cerr << "error: cannot reach neobert-exportd at " << target.server << " (waited "
              << target.connect_timeout_s << " s)\n";
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
