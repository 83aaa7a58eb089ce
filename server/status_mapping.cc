#include "server/status_mapping.h"

#include <string>

#include "core/status/error_reason.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace neobert::server {
namespace {

// The status's details with the defaults filled in.
core::ErrorDetails Details(const absl::Status& status) {
  core::ErrorDetails d = core::DetailsOf(status);
  d.metadata["retryable"] = d.retryable ? "true" : "false";
  if (!d.retry_delay &&
      (d.reason == core::ErrorReason::kQueueFull || d.reason == core::ErrorReason::kDraining)) {
    d.retry_delay = kDefaultRetryDelay;
  }
  return d;
}

void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  const int64_t ns = absl::ToInt64Nanoseconds(d);
  out->set_seconds(ns / 1000000000);
  out->set_nanos(static_cast<int32_t>(ns % 1000000000));
}

}  // namespace

grpc::StatusCode ToGrpcCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk: return grpc::StatusCode::OK;
    case absl::StatusCode::kCancelled: return grpc::StatusCode::CANCELLED;
    case absl::StatusCode::kUnknown: return grpc::StatusCode::UNKNOWN;
    case absl::StatusCode::kInvalidArgument: return grpc::StatusCode::INVALID_ARGUMENT;
    case absl::StatusCode::kDeadlineExceeded: return grpc::StatusCode::DEADLINE_EXCEEDED;
    case absl::StatusCode::kNotFound: return grpc::StatusCode::NOT_FOUND;
    case absl::StatusCode::kAlreadyExists: return grpc::StatusCode::ALREADY_EXISTS;
    case absl::StatusCode::kPermissionDenied: return grpc::StatusCode::PERMISSION_DENIED;
    case absl::StatusCode::kResourceExhausted: return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case absl::StatusCode::kFailedPrecondition: return grpc::StatusCode::FAILED_PRECONDITION;
    case absl::StatusCode::kAborted: return grpc::StatusCode::ABORTED;
    case absl::StatusCode::kOutOfRange: return grpc::StatusCode::OUT_OF_RANGE;
    case absl::StatusCode::kUnimplemented: return grpc::StatusCode::UNIMPLEMENTED;
    case absl::StatusCode::kInternal: return grpc::StatusCode::INTERNAL;
    case absl::StatusCode::kUnavailable: return grpc::StatusCode::UNAVAILABLE;
    case absl::StatusCode::kDataLoss: return grpc::StatusCode::DATA_LOSS;
    case absl::StatusCode::kUnauthenticated: return grpc::StatusCode::UNAUTHENTICATED;
    default: return grpc::StatusCode::UNKNOWN;
  }
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const grpc::StatusCode code = ToGrpcCode(status.code());
  const core::ErrorDetails d = Details(status);
  google::rpc::Status rpc;
  rpc.set_code(static_cast<int>(code));
  rpc.set_message(std::string(status.message()));
  google::rpc::ErrorInfo info;
  info.set_reason(core::ErrorReasonName(d.reason));
  info.set_domain(core::kErrorDomain);
  for (const auto& [k, v] : d.metadata) (*info.mutable_metadata())[k] = v;
  rpc.add_details()->PackFrom(info);
  if (d.retry_delay) {
    google::rpc::RetryInfo retry;
    SetDuration(*d.retry_delay, retry.mutable_retry_delay());
    rpc.add_details()->PackFrom(retry);
  }
  status.ForEachPayload([&rpc](absl::string_view url, const absl::Cord& payload) {
    if (url == core::kErrorInfoTypeUrl || url == core::kRetryInfoTypeUrl) return;
    auto* any = rpc.add_details();
    any->set_type_url(std::string(url));
    any->set_value(std::string(payload));
  });
  return grpc::Status(code, std::string(status.message()), rpc.SerializeAsString());
}

void ToProtoStatus(const absl::Status& status, ::neobert::exporter::v1::Status* out) {
  out->Clear();
  if (status.ok()) return;
  const core::ErrorDetails d = Details(status);
  out->set_code(static_cast<int>(ToGrpcCode(status.code())));
  out->set_message(std::string(status.message()));
  ::neobert::exporter::v1::Status::Reason reason;
  if (::neobert::exporter::v1::Status::Reason_Parse(core::ErrorReasonName(d.reason), &reason)) {
    out->set_reason(reason);
  }
  out->set_retryable(d.retryable);
  for (const auto& [k, v] : d.metadata) (*out->mutable_metadata())[k] = v;
  if (d.retry_delay) SetDuration(*d.retry_delay, out->mutable_retry_delay());
}

const char* GrpcCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
  }
}

}  // namespace neobert::server
