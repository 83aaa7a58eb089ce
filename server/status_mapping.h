// The one place absl::Status errors become gRPC statuses and job errors. The
// two code spaces share numbers today, but the mapping is spelled out so
// neither side depends on that.
//
// Every failed RPC carries, besides its code and message, a google.rpc.Status
// in the grpc-status-details-bin trailer: details[0] is a google.rpc.ErrorInfo
// (reason = core::DetailsOf(status).reason's name — the status's own
// ErrorInfo payload, else the default for its code —, domain
// "neobert.exporter.v1", the payload's metadata plus "retryable"), then a
// google.rpc.RetryInfo when there is a retry hint (QUEUE_FULL and DRAINING
// always get one), then any other payload of the status as an Any.
#pragma once

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/support/status.h"
#include "neobert/exporter/v1/export_service.pb.h"

namespace neobert::server {

// The retry hint sent with QUEUE_FULL / DRAINING when the status has none.
inline constexpr absl::Duration kDefaultRetryDelay = absl::Seconds(2);

grpc::StatusCode ToGrpcCode(absl::StatusCode code);
grpc::Status ToGrpcStatus(const absl::Status& status);
// A job's error (Job.error, JobEvent.error): code, message, reason,
// retryable, metadata, retry_delay. OK clears `out`.
void ToProtoStatus(const absl::Status& status, ::neobert::exporter::v1::Status* out);
// The code's canonical name ("OK", "NOT_FOUND", ...), as gRPC spells it.
const char* GrpcCodeName(grpc::StatusCode code);

}  // namespace neobert::server
