// The one place absl::Status codes become gRPC status codes. The two code
// spaces share numbers today, but the mapping is spelled out so neither side
// depends on that.
#pragma once

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace neobert::server {

grpc::StatusCode ToGrpcCode(absl::StatusCode code);
grpc::Status ToGrpcStatus(const absl::Status& status);
// The code's canonical name ("OK", "NOT_FOUND", ...), as gRPC spells it.
const char* GrpcCodeName(grpc::StatusCode code);

}  // namespace neobert::server
